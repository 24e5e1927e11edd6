"""The README stays a page a newcomer reads, the documentation names nothing outside the
repository and reads as documentation, and the site builds with warnings as errors."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, require, run_cli

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(\s*([^)\s]+)\s*\)")
RELATIVE = re.compile(r"(?<![\w/.])((?:\.\./)+[\w./-]*)")
DEVELOPMENT_LOG = re.compile(r"\b(sessions?|rounds? of work|round \d+|issue #?\d+|PR #?\d+)\b", re.IGNORECASE)


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail into docs/"
    long = [i + 1 for i, line in enumerate(lines) if len(line) > 120]
    assert long == [], f"README.md lines over 120 characters: {long}"


def test_no_page_names_a_path_outside_the_repository():
    outside = []
    for page in PAGES:
        for path in RELATIVE.findall(page.read_text()):
            if not (page.parent / path).resolve().is_relative_to(ROOT):
                outside.append(f"{page.relative_to(ROOT)}: {path}")
    assert outside == []


def test_relative_links_of_the_readme_and_pages_exist():
    """Every relative link points at a file of the repository, or at a page or image that
    docs/hooks.py generates at build time."""
    generated = {ROOT / "docs" / "reference" / f"{name}.md" for name in ("cli", "components", "metrics")}
    missing = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            path = target.split("#")[0]
            if not path or re.match(r"[a-z]+:", target):
                continue
            resolved = (page.parent / path).resolve()
            if not (resolved.exists() or resolved in generated or resolved.parent == ROOT / "docs" / "figures" / "img"):
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert missing == []


def test_documentation_reads_as_documentation():
    found = [f"{page.relative_to(ROOT)}: {m[0]}" for page in PAGES for m in DEVELOPMENT_LOG.finditer(page.read_text())]
    assert found == [], "development-log wording in the documentation"


@pytest.mark.slow
def test_the_sweep_file_example_loads():
    out = run_cli("sweep", "docs/examples/first-capacity.yaml", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "first-capacity" in out.stdout and "60 cells" in out.stdout, out.stdout  # (2 + 1 × 2 β) × 5 K × 3 seeds


@pytest.mark.slow
@pytest.mark.docs
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    require(all(importlib.util.find_spec(m) for m in ("mkdocs", "material")), "mkdocs-material",
            "pip install -e '.[docs]' (make docs)")
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                            str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                           check=False, capture_output=True, text=True, timeout=600, cwd=ROOT,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stderr[-3000:]
    for page in ("index.html", "reference/cli/index.html", "reference/components/index.html",
                 "reference/metrics/index.html", "figures/f4b/index.html", "measurements/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    cli = (tmp_path / "site" / "reference/cli/index.html").read_text()
    assert "--rerun-outdated" in cli and "ambench data prepare" in cli
    assert "img/F4b.png" in (tmp_path / "site" / "figures/f4b/index.html").read_text()
