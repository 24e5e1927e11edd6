"""A wheel installed as a user installs it: built from the repository, put into a fresh venv
outside the checkout, run from another folder. The package must carry its experiments and
sweep files, compute the same component versions as the checkout (else committed results
would look outdated), and write results where the user says, never into site-packages.

Offline and fast: the wheel is built with --no-build-isolation and installed with --no-deps;
the fresh venv sees this interpreter's site-packages through a .pth line for the dependencies
(a .pth line adds a folder to sys.path without running that folder's own .pth files, so the
checkout's editable install stays invisible and `import ambench` is the wheel's). .ci/run does
the same with a real `pip install` of the wheel and its dependencies.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import ROOT

from ambench import _resources

VERSIONS = "import json; from ambench.sweep._versions import registry_versions; print(json.dumps(registry_versions()))"


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AMBENCH_EXPERIMENTS", "VIRTUAL_ENV")}
    return {**env, "WANDB_SILENT": "true", **extra}


def _run(args, *, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    out = subprocess.run([str(a) for a in args], cwd=cwd, env=env or _env(), capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, f"{args}: {out.stdout[-2000:]}{out.stderr[-2000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, user folder): the wheel of this checkout installed into a fresh venv outside it."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"  # build from a copy: the checkout gets no build/ or egg-info
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "CITATION.cff"):
        shutil.copy(ROOT / name, source / name)
    for name in ("src", "experiments", "figures", "sweeps", "slurm"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", tmp / "dist",
          source], cwd=tmp)
    wheel = next((tmp / "dist").glob("ambench-*.whl"))
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel], cwd=tmp)
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip())
    (site / "zz-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    user = tmp / "user"
    user.mkdir()
    return venv, user


@pytest.mark.slow
def test_the_wheel_lists_every_experiment_and_runs_a_cell_outside_the_checkout(installed):
    venv, user = installed
    where = _run([venv / "bin" / "python", "-c", "import ambench; print(ambench.__file__)"], cwd=user).stdout
    assert where.startswith(str(venv)), where  # the wheel, not the checkout
    listing = _run([venv / "bin" / "ambench", "experiments"], cwd=user).stdout
    expected = sorted(p.stem for p in (ROOT / "experiments").glob("*.py") if not p.stem.startswith("_"))
    assert len(expected) >= 9 and all(f"│ {name} " in listing for name in expected), listing[-2000:]
    _run([venv / "bin" / "ambench", "run", "capacity", "--model", "chn", "--dataset", "random", "--set", "dim=32",
          "--set", "n_memories=4", "--set", "n_queries=8", "--out", "r"], cwd=user)
    rows = [json.loads(p.read_text()) for p in (user / "r" / "cells").glob("*.json")]
    assert len(rows) == 1 and rows[0]["experiment"] == "capacity" and 0 <= rows[0]["success_rate"] <= 1
    assert rows[0]["git_commit"] == "unknown"  # an installed wheel has no commit; its version is recorded
    assert not list(venv.glob("**/cells")), "results were written inside the venv"


@pytest.mark.slow
def test_the_wheel_computes_the_checkouts_component_versions(installed):
    """Versions hash file contents: a wheel that computed others would show every committed
    result as outdated."""
    venv, user = installed
    wheel = json.loads(_run([venv / "bin" / "python", "-c", VERSIONS], cwd=user).stdout)
    checkout = json.loads(_run([sys.executable, "-c", VERSIONS], cwd=user,
                               env=_env(PYTHONPATH=str(ROOT / "src"))).stdout)
    assert wheel == checkout and set(wheel["experiment"]) >= {"capacity", "noise", "attractors"}


@pytest.mark.slow
def test_the_wheels_sweep_files_are_found_by_name_from_any_folder(installed):
    venv, user = installed
    out = _run([venv / "bin" / "ambench", "sweep", "figures/f2-attractors/sweep.yaml", "--smoke", "--dry-run",
                "--out", "s"], cwd=user).stdout
    assert "sweep f2-attractors" in out and "_shipped/figures/f2-attractors/sweep.yaml" in out, out
    for named_profile in ("smoke", "f1-chn-capacity"):  # these name slurm/local.yaml: the wheel carries it
        out = _run([venv / "bin" / "ambench", "sweep", named_profile, "--dry-run", "--out", "s"], cwd=user).stdout
        assert f"sweep {named_profile} (" in out and "to run" in out, out
    bad = subprocess.run([venv / "bin" / "ambench", "sweep", "nope"], cwd=user, env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and "f2-attractors" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_wheel_redraws_a_figure_from_the_committed_results(installed, tmp_path):
    venv, user = installed
    _run([venv / "bin" / "ambench", "figures", "--only", "F2", "--results", ROOT / "results", "--out", tmp_path],
         cwd=user)
    assert (tmp_path / "F2-f2-attractors.png").stat().st_size > 1000


def test_a_checkout_finds_its_top_level_folders_and_shipped_sweeps_by_name(monkeypatch, tmp_path):
    """From the source tree (these tests import it): the checkout's experiments/, figures/ and
    sweeps/; a figure's sweep given as NAME, NAME.yaml, figures/NAME, figures/NAME/sweep.yaml or
    (as before figures had folders) sweeps/NAME.yaml from any folder, another sweep as sweeps/NAME;
    a path that exists wins; AMBENCH_EXPERIMENTS overrides the experiments folder."""
    monkeypatch.delenv("AMBENCH_EXPERIMENTS", raising=False)
    monkeypatch.delenv("AMBENCH_FIGURES", raising=False)
    assert _resources.checkout() == ROOT and _resources.experiments_dir() == ROOT / "experiments"
    assert _resources.figures_dir() == ROOT / "figures"
    monkeypatch.chdir(tmp_path)
    for given in ("f2-attractors", "f2-attractors.yaml", "sweeps/f2-attractors.yaml", "figures/f2-attractors",
                  "figures/f2-attractors/sweep.yaml"):
        assert _resources.sweep_file(given) == ROOT / "figures" / "f2-attractors" / "sweep.yaml", given
    assert _resources.sweep_file("smoke") == ROOT / "sweeps" / "smoke.yaml"
    assert _resources.sweep_file(ROOT / "figures" / "f2-attractors") == ROOT / "figures" / "f2-attractors" / "sweep.yaml"
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "f2-attractors.yaml").write_text("name: mine\n")
    assert _resources.sweep_file("sweeps/f2-attractors.yaml") == Path("sweeps/f2-attractors.yaml")
    assert _resources.sweep_file("elsewhere/f2-attractors.yaml") == Path("elsewhere/f2-attractors.yaml")
    monkeypatch.setenv("AMBENCH_EXPERIMENTS", str(tmp_path))
    assert _resources.experiments_dir() == tmp_path
