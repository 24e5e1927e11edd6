"""Components from another installed package, through entry points: the example lab package in
tests/plugin_example is pip-installed into a temporary folder, and its model, dataset, experiment and
figure appear in the listings, run in a sweep and draw."""

import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(ROOT / "tests" / "plugin_example")],
                   check=True, capture_output=True, text=True, timeout=300, cwd=build)
    return site


def _env(site):
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.slow
def test_a_plugin_model_and_experiment_are_listed_and_run_in_a_sweep(plugin_site, tmp_path):
    env = _env(plugin_site)
    models = run_cli("models", env=env)
    assert models.returncode == 0 and "lab-clipped-dam" in models.stdout and "upper clip" in models.stdout
    assert "lab_overlap" in run_cli("experiments", env=env).stdout
    sweep = tmp_path / "lab.yaml"
    sweep.write_text("name: lab\nexperiment: lab_overlap\nmodels: [lab-clipped-dam, dam-softmax]\n"
                     "datasets: [random]\nseeds: [0, 1]\n"
                     "grid: {dim: [16], n_memories: [4], noise_kind: [flip], noise_level: [0.1], n_queries: [4]}\n")
    out = tmp_path / "r"
    done = run_cli("sweep", sweep, "--out", out, env=env)
    assert done.returncode == 0, done.stderr
    assert "4/4 cells done" in done.stdout
    assert "lab-bars" in run_cli("datasets", env=env).stdout
    bars = run_cli("run", "noise", "--model", "dam-softmax", "--dataset", "lab-bars", "--set", "n_memories=16",
                   "--set", "noise_kind=mask_rows", "--set", "noise_level=0.25", "--out", tmp_path / "bars", env=env)
    assert bars.returncode == 0, bars.stderr
    assert "lab-bars" in bars.stdout and "run" in bars.stdout
    bad = run_cli("run", "lab_overlap", "--model", "lab-clipped-dam", "--dataset", "random", "--set", "high=nope",
                  "--out", tmp_path / "b", env=env)
    assert bad.returncode == 2 and "model lab-clipped-dam: high='nope'" in bad.stderr
    assert "lab-clipped-dam" not in run_cli("models").stdout  # not installed: not there


@pytest.mark.slow
def test_a_plugin_figure_is_drawn_from_its_own_sweep_file(plugin_site, tmp_path):
    env = _env(plugin_site)
    drawn = run_cli("figures", "--only", "lab-overlap", "--rerun-smoke", "--results", tmp_path / "results",
                    "--out", tmp_path / "figures", env=env)
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "results" / "smoke" / "lab-overlap" / "results.parquet").exists()
    table = pd.read_csv(tmp_path / "figures" / "lab-overlap-lab-overlap.csv")
    assert sorted(table.model.unique()) == ["dam-softmax", "lab-clipped-dam"] and len(table) == 4
    assert (tmp_path / "figures" / "lab-overlap-lab-overlap.png").stat().st_size > 1000
    assert run_cli("figures", "--only", "lab-overlap").returncode == 2  # not installed: unknown figure
