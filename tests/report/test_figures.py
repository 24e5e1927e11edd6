"""`ambench figures` redraws every registered figure from stored results, deterministically,
without running an experiment; the HTML report renders in a real browser."""

import hashlib
import shutil
import subprocess

import pytest

from ambench.report.figures import FIGURES
from conftest import ROOT, require_chromium


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def _cells():
    return {p: p.stat().st_mtime_ns for p in (ROOT / "results").glob("**/cells/*.json")}


@pytest.mark.slow
def test_every_figure_from_committed_results_without_running_anything(cli, tmp_path):
    before = _cells()
    out = cli("figures", "--out", tmp_path / "a")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert _cells() == before  # nothing was measured or rewritten
    for fig in FIGURES.values():
        for ext in ("pdf", "png"):
            assert (tmp_path / "a" / f"{fig.name}-{fig.sweep}.{ext}").stat().st_size > 1000
    again = cli("figures", "--only", "F1,F2", "--out", tmp_path / "b")
    assert again.returncode == 0
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert all(a[k] == b[k] for k in b)  # byte-for-byte reproducible


@pytest.mark.slow
def test_missing_results_name_the_sweep_to_run(cli, tmp_path):
    out = cli("figures", "--only", "F2", "--results", tmp_path, "--out", tmp_path / "f")
    assert out.returncode == 1 and "ambench sweep sweeps/f2-attractors.yaml" in out.stdout.replace("\n", "")


@pytest.mark.slow
def test_unknown_figure_is_a_one_line_error(cli):
    out = cli("figures", "--only", "F99")
    assert out.returncode == 2 and "registered: F1" in out.stderr


@pytest.mark.browser
@pytest.mark.slow
def test_html_report_renders_tables_and_images_in_headless_chromium(cli, tmp_path):
    chromium = require_chromium()
    shutil.copytree(ROOT / "results" / "smoke" / "f5-noise", tmp_path / "r")
    out = cli("report", tmp_path / "r")
    assert out.returncode == 0, out.stderr
    page = tmp_path / "r" / "report" / "report.html"
    checked = tmp_path / "checked.html"  # the page plus a probe that records what really rendered
    checked.write_text(page.read_text().replace("</body>", (
        "<script>window.addEventListener('load',()=>{const imgs=[...document.images];"
        "document.body.dataset.images=imgs.length;"
        "document.body.dataset.rendered=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;"
        "document.body.dataset.tables=document.querySelectorAll('table tr').length;});</script></body>")))
    run = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                          "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()],
                         capture_output=True, text=True, timeout=120)
    dom = run.stdout
    assert 'data-images="1"' in dom and 'data-rendered="1"' in dom, dom[-500:]
    rows = int(dom.split('data-tables="')[1].split('"')[0])
    assert rows >= 2
    console_errors = [line for line in run.stderr.splitlines() if "CONSOLE" in line and "rror" in line]
    assert not console_errors, console_errors
