"""Sweeps on a real single-node SLURM cluster (slurm/local-cluster up), through real sbatch."""

import json
import os
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest

from ambench import cli
from ambench.sweep import Store
from conftest import AMBENCH, ROOT, require_slurm

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def cluster():
    require_slurm()


@pytest.fixture
def slow_experiments(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    shutil.copytree(ROOT / "experiments", folder)
    shutil.copy(ROOT / "tests" / "fixtures" / "slow_experiment.py", folder / "slow.py")
    monkeypatch.setenv("AMBENCH_EXPERIMENTS", str(folder))
    return folder


def _slow_sweep(tmp_path, n, sleep_s, cells_per_job):
    path = tmp_path / "slow.yaml"
    path.write_text(f"""
name: slow
experiment: slow
models: [chn]
datasets: [random]
grid: {{index: {list(range(n))}, sleep_s: [{sleep_s}]}}
slurm: {{profile: {ROOT / 'slurm' / 'local.yaml'}, cells_per_job: {cells_per_job}}}
""")
    return path


def _wait(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _stamps(out):
    return {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}


def test_smoke_sweep_as_a_job_array_stores_every_cell_once(cluster, tmp_path):
    out = tmp_path / "smoke"
    assert cli.main(["sweep", str(ROOT / "sweeps" / "smoke.yaml"), "--executor", "slurm", "--out", str(out)]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 12 and df.cell_key.is_unique
    assert len(json.loads((out / "sweep.json").read_text())["jobs"]) == 4  # 12 cells, 3 per job, one array


def test_killed_driver_and_cancelled_jobs_then_reissue_completes_exactly_once(cluster, slow_experiments, tmp_path):
    sweep = _slow_sweep(tmp_path, n=8, sleep_s=1.5, cells_per_job=2)
    out = tmp_path / "r"
    cmd = [*AMBENCH, "sweep", str(sweep), "--executor", "slurm", "--out", str(out), "--on-interrupt", "leave"]
    driver = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, env=os.environ.copy())
    _wait(lambda: len(Store(out).done_keys()) >= 2, 120, "two finished cells")
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    jobs = json.loads((out / "sweep.json").read_text())["jobs"]
    subprocess.run(["scancel", *{j.split("_")[0] for j in jobs}], check=True)
    _wait(lambda: not subprocess.run(["squeue", "-h", "-n", "ambench-slow"], capture_output=True,
                                     text=True).stdout.strip(), 60, "the cancelled jobs to leave the queue")
    before = _stamps(out)
    assert 2 <= len(before) < 8
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert again.returncode == 0, again.stderr[-2000:]
    after = _stamps(out)
    assert len(after) == 8 and all(after[k] == v for k, v in before.items())  # nothing redone or lost
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 8 and df.cell_key.is_unique and sorted(df["experiment.index"]) == list(range(8))


def test_preempted_job_resumes_from_its_checkpoint(cluster, slow_experiments, tmp_path):
    sweep = _slow_sweep(tmp_path, n=6, sleep_s=2.0, cells_per_job=6)
    out = tmp_path / "r"
    assert cli.main(["sweep", str(sweep), "--executor", "slurm", "--out", str(out), "--no-wait"]) == 0
    [job] = json.loads((out / "sweep.json").read_text())["jobs"]
    _wait(lambda: len(Store(out).done_keys()) >= 2, 120, "two finished cells")
    before = _stamps(out)
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    _wait(lambda: len(Store(out).done_keys()) == 6, 180, "the requeued job to finish the pack")
    after = _stamps(out)
    assert all(after[k] == v for k, v in before.items())  # cells done before preemption were not redone
    rows = Store(out).rows()
    restarts = {r["experiment.index"]: r["slurm_restarts"] for r in rows}
    assert max(restarts.values()) >= 1  # the later cells ran in the requeued job...
    assert all(restarts[r["experiment.index"]] == 0 for r in rows if f"{r['cell_key']}.json" in before)  # ...not these
