"""Sweep files, executors and W&B logging (the SLURM ones are in test_slurm.py)."""

import json
import re

import pandas as pd
import pytest

from ambench import cli
from ambench.sweep import Store

GOOD = """
name: t
experiment: capacity
models: [chn]
datasets: [random]
seeds: [0]
grid: {dim: [32], n_memories: [2, 4], n_queries: [8]}
"""

MISTAKES = {
    "not yaml": ("name: [unclosed", "not valid YAML"),
    "top level list": ("- a\n- b", "top level must be a mapping"),
    "unknown key": (GOOD + "colour: blue\n", "colour: unknown key"),
    "no name": (GOOD.replace("name: t\n", ""), "name: missing"),
    "no experiment": (GOOD.replace("experiment: capacity\n", ""), "experiment: missing"),
    "unknown experiment": (GOOD.replace("capacity", "capacityy"), "unknown experiment"),
    "unknown model": (GOOD.replace("[chn]", "[hopfield9]"), "unknown model"),
    "unknown dataset": (GOOD.replace("[random]", "[imagenet]"), "unknown dataset"),
    "no models": (GOOD.replace("models: [chn]\n", ""), "models: missing"),
    "model and models": (GOOD + "model: dam\n", "either `model` or `models`"),
    "empty grid values": (GOOD.replace("n_memories: [2, 4]", "n_memories: []"), "empty list of values"),
    "unknown parameter": (GOOD.replace("dim: [32]", "dims: [32]"), "unknown parameter"),
    "bad value type": (GOOD.replace("n_memories: [2, 4]", "n_memories: [two]"), "should be a valid integer"),
    "noise out of range": (GOOD.replace("dim: [32]", "dim: [32], noise_kind: [flip], noise_level: [2.0]"), "noise_level"),
    "negative seeds": (GOOD.replace("seeds: [0]", "seeds: [-1]"), "seeds"),
    "repeated seeds": (GOOD.replace("seeds: [0]", "seeds: [1, 1]"), "repeated seeds"),
    "bad executor": (GOOD + "executor: cloud\n", "executor"),
    "slurm without profile": (GOOD + "executor: slurm\n", "needs a profile"),
    "missing profile file": (GOOD + "executor: slurm\nslurm: {profile: slurm/nope.yaml}\n", "not found"),
    "bad wandb key": (GOOD + "wandb: {colour: red}\n", "wandb"),
    "bad wandb mode": (GOOD + "wandb: {mode: loud}\n", "wandb.mode"),
    "smoke without block": (GOOD, "--smoke needs"),
    "bad smoke key": (GOOD + "smoke: {executor: slurm}\n", "smoke.executor"),
    "K larger than dataset": (GOOD.replace("[random]", "[mnist-5k]").replace("[chn]", "[dam-softmax]")
                              .replace("n_memories: [2, 4]", "n_memories: [9000]").replace("dim: [32], ", ""), "larger than"),
    "parameter the dataset lacks": (GOOD.replace("[random]", "[mnist-5k]"), "unknown parameter 'dim'"),
    "seed in the grid": (GOOD.replace("dim: [32]", "seed: [0, 1]"), "give them as `seeds:"),
    "repeated grid value": (GOOD.replace("dim: [32]", "dim: [32, 32]"), "repeated"),
    "nested grid value": (GOOD.replace("dim: [32]", "dim: [[32]]"), "scalars"),
    "bad cells_per_job": (GOOD + "slurm: {cells_per_job: 0}\n", "cells_per_job"),
    "local not a mapping": (GOOD + "local: [1]\n", "local: only `workers: N` is allowed"),
    "wandb not a mapping": (GOOD + "wandb: loud\n", "wandb: must be a mapping"),
    "smoke not a mapping": (GOOD + "smoke: [1]\n", "smoke: must be a mapping of overrides"),
    "bad smoke seeds": (GOOD + "smoke: {seeds: [-1]}\n", "smoke.seeds: must be a non-empty list of integers"),
    "unknown top-level key": (GOOD + "colour: red\n", "colour: unknown key; allowed: batched, dataset"),
    "name not a string": (GOOD.replace("name: t", "name: 3"), "name: missing or not a string"),
    # the `report:` section is checked when the file is loaded, against the cells, not when reported
    "report unknown key": (GOOD + "report: {colour: red}\n", "report.colour: unknown key; allowed: col, hue"),
    "report not a mapping": (GOOD + "report: [col]\n", "report: must be a mapping"),
    "report channel no column": (GOOD + "report: {hue: bta}\n", "report.hue: no column 'bta' in this sweep's rows"),
    "report x no column": (GOOD + "report: {x: n_memory}\n", "report.x: no column 'n_memory'"),
    "report metric not stored": (GOOD + "report: {y: succes_rate}\n",
                                 "report.y: 'succes_rate' is not a metric this sweep's rows hold"),
    "report y a parameter": (GOOD + "report: {y: n_memories}\n", "report.y: 'n_memories' is not a metric"),
    "report where no column": (GOOD + "report: {where: {noise_level: 0.1}}\n",
                               "report.where.noise_level: no column 'noise_level'"),
    "report where no such value": (GOOD + "report: {where: {dataset: mnist-5k}}\n",
                                   "report.where.dataset: no cell of this sweep has dataset=mnist-5k; its values: random"),
    "report where bad value": (GOOD + "report: {where: {dim: {a: 1}}}\n", "report.where"),
    "report column not a string": (GOOD + "report: {col: 5}\n", "report.col: must be a column name"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_malformed_sweep_files_get_one_line_and_dispatch_nothing(name, tmp_path, capsys):
    text, message = MISTAKES[name]
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    out = tmp_path / "results"
    args = ["sweep", str(path), "--out", str(out)] + (["--smoke"] if name == "smoke without block" else [])
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_missing_sweep_file(capsys):
    assert cli.main(["sweep", "sweeps/does-not-exist.yaml"]) == 2
    assert "no such sweep file" in capsys.readouterr().err


def _write(tmp_path, text=GOOD):
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def test_dry_run_counts_stored_cells_and_jobs(tmp_path, capsys):
    path = _write(tmp_path)
    out = tmp_path / "r"
    assert cli.main(["sweep", str(path), "--out", str(out), "--dry-run"]) == 0
    assert "2 cells, 0 already stored, 2 to run" in capsys.readouterr().out
    assert cli.main(["sweep", str(path), "--out", str(out)]) == 0
    assert re.search(r"compiled [1-9]\d* XLA programs in 1 process", capsys.readouterr().out)
    assert cli.main(["sweep", str(path), "--out", str(out), "--dry-run"]) == 0
    assert "2 cells, 2 already stored, 0 to run" in capsys.readouterr().out


@pytest.mark.slow
def test_union_of_grids_and_local_executor(tmp_path, capsys):
    text = GOOD.replace("grid: {dim: [32], n_memories: [2, 4], n_queries: [8]}",
                        "grid:\n  - {dim: [32], n_memories: [2, 4], n_queries: [8]}\n"
                        "  - {dim: [32, 48], n_memories: [4], n_queries: [8]}\nlocal: {workers: 2}")
    out = tmp_path / "r"
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--out", str(out), "--executor", "local"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 3 and df.cell_key.is_unique  # (32, 4) is in both grids: once
    assert re.search(r"compiled [1-9]\d* XLA programs in [12] process", capsys.readouterr().out)
    assert json.loads((out / "sweep.json").read_text())["name"] == "t"


def test_a_cell_failing_at_run_time_is_named_and_the_sweep_says_so(tmp_path, capsys):
    """An IDX folder that exists but holds no IDX files passes validation (only the folder is
    looked at before dispatch) and fails when its cell runs; the cell with real files is
    stored, the failure is printed and kept."""
    import gzip
    import struct

    import numpy as np

    good, empty = tmp_path / "idx", tmp_path / "empty"
    good.mkdir(), empty.mkdir()
    rng = np.random.default_rng(0)
    for name, array in (("train-images-idx3-ubyte.gz", rng.integers(0, 256, (8, 28, 28))),
                        ("train-labels-idx1-ubyte.gz", rng.integers(0, 10, 8))):
        with gzip.open(good / name, "wb") as f:
            f.write(struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape))
            f.write(array.astype(np.uint8).tobytes())
    text = GOOD.replace("models: [chn]", "models: [dam-softmax]").replace("datasets: [random]", "datasets: [mnist-idx]") \
        .replace("grid: {dim: [32], n_memories: [2, 4], n_queries: [8]}",
                 f"grid: {{data_dir: [{good}, {empty}], n_memories: [4], n_queries: [8]}}")
    out = tmp_path / "r"
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert re.search(r"cell \w+ failed: ", printed) and "1/2 cells done, 1 failed" in printed
    assert "re-issue the same command" in printed and len(Store(out).failed_keys()) == 1


def test_status_reports_done_failed_and_missing(tmp_path, capsys):
    from ambench.sweep.driver import sweep_status

    out = tmp_path / "r"
    assert cli.main(["sweep", str(_write(tmp_path)), "--out", str(out)]) == 0
    manifest = json.loads((out / "sweep.json").read_text())
    manifest["cells"].append("0000missingcell")
    (out / "sweep.json").write_text(json.dumps(manifest))
    Store(out).write_failure("0000failedcell", {}, "ValueError: boom")
    manifest["cells"].append("0000failedcell")
    (out / "sweep.json").write_text(json.dumps(manifest))
    [row] = sweep_status(out)
    assert (row["cells"], row["done"], row["failed"], row["missing"], row["running"]) == (4, 2, 1, 1, 0)
    assert cli.main(["status", str(out)]) == 0
    assert "boom" in capsys.readouterr().out


def _offline_tables(run, name):
    [table] = (run / "files" / "media" / "table").glob(f"{name}_*.table.json")
    return json.loads(table.read_text())


def test_wandb_offline_writes_one_run_per_sweep_with_a_table_of_its_cells(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "r"
    text = GOOD.replace("seeds: [0]", "seeds: [0, 1]")
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--out", str(out), "--wandb", "offline"]) == 0
    [run] = sorted((out / "wandb").glob("offline-run-*"))
    assert any(run.glob("*.wandb"))
    table = _offline_tables(run, "cells_table")
    assert len(table["data"]) == 4 and table["columns"][:5] == ["experiment", "model", "dataset", "seed", "cell_key"]
    assert {row[table["columns"].index("cell_key")] for row in table["data"]} == Store(out).done_keys()
    curve = _offline_tables(run, "success_rate_vs_n_memories")
    assert sorted(row[0] for row in curve["data"]) == [2, 4]  # one point per x, the mean over the two seeds


def test_wandb_per_cell_adds_one_run_per_cell(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "r"
    text = GOOD + "wandb: {per_cell: true}\n"
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--out", str(out), "--wandb", "offline"]) == 0
    runs = sorted((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 + 1
    # the per-cell runs live beside the sweep's run, which still ends with its table of every cell
    with_table = [r for r in runs if list((r / "files" / "media" / "table").glob("cells_table_*.table.json"))]
    assert len(with_table) == 1 and len(_offline_tables(with_table[0], "cells_table")["data"]) == 2


def test_wandb_failure_never_fails_a_cell(tmp_path, monkeypatch, capsys):
    import wandb

    def broken(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(wandb, "init", broken)
    out = tmp_path / "r"
    text = GOOD + "wandb: {per_cell: true}\n"
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--out", str(out), "--wandb", "online"]) == 0
    assert len(Store(out).done_keys()) == 2
    printed = capsys.readouterr().out
    assert "W&B logging failed" in printed and "W&B start failed" in printed


def test_what_reaches_wandb(tmp_path, monkeypatch):
    """The sweep's run: its config names the file and the overrides, progress is logged as
    cells are stored, then a table with one row per cell; per-cell runs log energy traces."""
    import wandb

    logged, inits = [], []

    class Run:
        summary = {}

        def log(self, data):
            logged.append(data)

        def finish(self):
            pass

    monkeypatch.setattr(wandb, "init", lambda **kw: inits.append(kw) or Run())
    out = tmp_path / "r"
    text = GOOD + "wandb: {per_cell: true}\n"
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--out", str(out), "--wandb", "offline",
                     "grid.n_memories=[2,3,4]"]) == 0
    sweep_inits = [kw for kw in inits if kw.get("job_type") == "sweep"]
    assert len(sweep_inits) == 1 and len(inits) == 1 + 3 and all(kw["group"] == "t" for kw in inits)
    assert sweep_inits[0]["config"]["overrides"] == ["grid.n_memories=[2,3,4]"]
    assert inits[1]["config"]["experiment"] == "capacity"
    assert any("success_rate" in d for d in logged) and any("energy" in d for d in logged)
    [table] = [d["cells_table"] for d in logged if "cells_table" in d]
    assert len(table.data) == 3 and Run.summary["cells_stored"] == 3
    assert any(d.get("cells_stored") == 3 for d in logged)


@pytest.mark.slow
def test_batched_sweep_stores_the_same_rows_as_cell_by_cell(tmp_path, monkeypatch):
    text = GOOD.replace("experiment: capacity", "experiment: noise").replace(
        "grid: {dim: [32], n_memories: [2, 4], n_queries: [8]}",
        "grid: {dim: [32], n_memories: [4, 6], n_queries: [8], noise_kind: [flip], noise_level: [0.1, 0.3]}")
    path = _write(tmp_path, text)
    rows = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("AMBENCH_BATCHED", flag)
        out = tmp_path / f"r{flag}"
        assert cli.main(["sweep", str(path), "--out", str(out)]) == 0
        df = pd.read_parquet(out / "results.parquet").set_index("cell_key").sort_index()
        rows[flag] = df[["success_rate", "wrong_bits", "steps", "energy_monotone_rate"]]
    pd.testing.assert_frame_equal(rows["0"], rows["1"])


def test_bad_batched_value(tmp_path, capsys):
    assert cli.main(["sweep", str(_write(tmp_path, GOOD + "batched: sometimes\n")), "--dry-run"]) == 2
    assert "batched" in capsys.readouterr().err


def test_an_interrupted_sweep_reports_what_is_stored_and_leaves_no_running_marker(tmp_path, monkeypatch, capsys):
    """Ctrl-C in the middle of an inline sweep: the closing table counts the stored cells (it
    said 0 done with 133 stored), and the interrupted cell is missing, not 'running'."""
    import dataclasses

    from ambench.sweep import EXPERIMENTS

    spec = EXPERIMENTS["capacity"]
    real, calls = spec.run, []

    def interrupt_on_third(cell, progress=lambda m: None):
        calls.append(cell.key)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as Ctrl-C arrives while a cell computes
        return real(cell, progress)

    monkeypatch.setitem(EXPERIMENTS.items, "capacity", dataclasses.replace(spec, run=interrupt_on_third))
    text = GOOD.replace("n_memories: [2, 4]", "n_memories: [2, 3, 4, 5]")
    out = tmp_path / "r"
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "2/4 done" in err.split("sweep t:")[-1]
    store = Store(out)
    assert len(store.done_keys()) == 2 and store.running() == {}


PER_MODEL = """
name: t
experiment: capacity
datasets: [random]
seeds: [0]
grid:
  - {models: [chn], dim: [32], n_memories: [2, 4], n_queries: [8]}
  - {models: [dam-softmax], similarity: [dot, l2], dim: [32], n_memories: [2], n_queries: [8]}
smoke:
  grid:
    - {model: chn, dim: [16], n_memories: [2], n_queries: [4]}
    - {models: [dam-softmax], similarity: [l2], dim: [16], n_memories: [2], n_queries: [4]}
"""


def _cells(path, **kw):
    from ambench.sweep._spec import load_sweep

    return [(c["model"], c["n_memories"], c.get("similarity")) for c in load_sweep(path, **kw).cells]


def test_each_grid_entry_may_name_its_own_models(tmp_path):
    """A grid a model lacks (similarity for chn) goes in an entry of its own; the smoke section
    takes the same shape; an entry without models uses the top-level ones."""
    path = _write(tmp_path, PER_MODEL)
    assert _cells(path) == [("chn", 2, None), ("chn", 4, None), ("dam-softmax", 2, "dot"), ("dam-softmax", 2, "l2")]
    assert _cells(path, smoke=True) == [("chn", 2, None), ("dam-softmax", 2, "l2")]
    mixed = PER_MODEL.replace("datasets: [random]", "models: [chn]\ndatasets: [random]").replace(
        "{models: [chn], dim", "{dim")
    assert [m for m, _, _ in _cells(_write(tmp_path, mixed))] == ["chn", "chn", "dam-softmax", "dam-softmax"]


@pytest.mark.parametrize("text, message", [
    (PER_MODEL.replace("{models: [chn], dim", "{dim"), "models: missing; add `models: [...]` (at the top level or in every grid entry)"),
    (PER_MODEL.replace("models: [dam-softmax], similarity", "models: [chn], similarity"), "unknown parameter 'similarity'"),
    (PER_MODEL.replace("{models: [chn], dim", "{models: [chn], model: chn, dim"), "grid.0.models: give either"),
    (PER_MODEL.replace("{models: [chn], dim", "{models: [], dim"), "non-empty list of names"),
])
def test_per_entry_models_are_checked(tmp_path, capsys, text, message):
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_overrides_apply_before_validation(tmp_path):
    from ambench.sweep._spec import apply_overrides, load_sweep

    path = _write(tmp_path, PER_MODEL)
    sweep = load_sweep(path, overrides=["seeds=[0,1]", "grid.n_memories=[3]", "grid.1.similarity=[dot]",
                                        "results=results/x", "wandb.mode=offline"])
    assert sorted((c["model"], c["seed"], c["n_memories"], c.get("similarity")) for c in sweep.cells) == [
        ("chn", 0, 3, None), ("chn", 1, 3, None), ("dam-softmax", 0, 3, "dot"), ("dam-softmax", 1, 3, "dot")]
    assert sweep.results.name == "x" and sweep.wandb["mode"] == "offline"
    assert sweep.overrides[0] == "seeds=[0,1]"
    assert [c["n_memories"] for c in load_sweep(path, smoke=True, overrides=["smoke.grid.0.n_memories=[5]"]).cells] \
        == [5, 2]
    spec = {"name": "t", "grid": {"dim": [32]}}
    assert apply_overrides(spec, ["grid.dim=[8,16]", "models=[chn]"]) == {"name": "t", "grid": {"dim": [8, 16]},
                                                                         "models": ["chn"]}
    assert spec == {"name": "t", "grid": {"dim": [32]}}  # the file's mapping is not changed


@pytest.mark.parametrize("override, message", [
    ("colour=blue", "no key 'colour' in a sweep file; allowed: batched, dataset"),
    ("wandb.colour=red", "allowed: wandb.dir, wandb.entity"),
    ("seeds.first=1", "it takes no subkeys"),
    ("grid.5.dim=[1]", "index 0..1"),
    ("seeds=[-1]", "seeds: must be a non-empty list of integers"),  # validated like the file
    ("grid.n_memories=[two]", "should be a valid integer"),
    ("seeds", "write KEY=VALUE"),
    ("grid.dim=[8]", "with --smoke the file's smoke.grid replaces it; write smoke.grid.dim=[8]"),
])
def test_bad_overrides_are_one_line(tmp_path, capsys, override, message):
    smoke = ["--smoke"] if "smoke" in message else []
    assert cli.main(["sweep", str(_write(tmp_path, PER_MODEL)), override, "--dry-run", *smoke]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_a_good_report_section_loads_and_a_bad_one_is_refused_before_anything_runs(tmp_path, capsys):
    """Names bare or spaced (`model.beta`), series and none, a metric as x, a list of `where:`
    values; a combination no cell holds, and an override of the section, are checked too."""
    from ambench.sweep._spec import load_sweep

    good = PER_MODEL + ("report: {x: nearest_rate, y: success_rate, hue: series, style: none, col: similarity,\n"
                        "         row: data.dim, where: {model: [chn, dam-softmax], similarity: dot, n_memories: 2.0}}\n")
    assert len(load_sweep(_write(tmp_path, good)).cells) == 4
    out = tmp_path / "r"
    for text, args, message in [
        (PER_MODEL + "report: {where: {model: chn, similarity: dot}}\n", [],
         "report.where: no cell of this sweep has all of model=chn, similarity=dot; the report would be empty"),
        (PER_MODEL, ["report.hue=bta"], "report.hue: no column 'bta'"),
        (PER_MODEL, ["report.colour=red"], "no key 'report.colour'; allowed: report.col"),
        (PER_MODEL, ["--smoke", "report.where={similarity: dot}"],
         "report.where.similarity: no cell of this sweep has similarity=dot; its values: l2"),
    ]:
        assert cli.main(["sweep", str(_write(tmp_path, text)), "--out", str(out), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not out.exists()


def test_overrides_are_printed_and_recorded(tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(["sweep", str(_write(tmp_path)), "--out", str(out), "--dry-run", "grid.n_memories=[2]"]) == 0
    assert "with grid.n_memories=[2]): 1 cells" in capsys.readouterr().out
    assert cli.main(["sweep", str(_write(tmp_path)), "grid.n_memories=[2]", "--out", str(out)]) == 0
    assert json.loads((out / "sweep.json").read_text())["overrides"] == ["grid.n_memories=[2]"]


LONG_CELL = """
name: t
experiment: capacity
models: [chn]
datasets: [random]
seeds: [0]
grid:
  - {dim: [32], n_memories: [2], n_queries: [8]}
  - {dim: [3000], n_memories: [300], n_queries: [1000]}
local: {workers: 1}
"""


@pytest.mark.parametrize("executor", ["inline", "local"])
@pytest.mark.slow
def test_sigint_ends_a_sweep_within_seconds_even_inside_a_long_computation(tmp_path, executor):
    """SIGINT to the driver alone while the second cell is inside one XLA computation of about
    30 s (which Python cannot interrupt; it used to end the process only after the computation):
    the process ends soon with the stored count, no traceback and no W&B error, the one W&B run
    written, no marker left and no worker left running. The bound is generous, not a speed test."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import AMBENCH, ROOT

    from ambench.sweep._store import pid_alive

    out = tmp_path / "r"
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT / "src")}
    env.pop("WANDB_SILENT", None)
    # a shell that runs the tests in the background (nohup, `&`, some CI runners) starts them with
    # SIGINT ignored, and Python then keeps ignoring it: the driver is exec'd with the default
    # disposition, as a process started from a terminal has (no preexec_fn: forking JAX warns)
    default_sigint = ["-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                            "os.execv(sys.argv[1], sys.argv[1:])"]
    proc = subprocess.Popen([sys.executable, *default_sigint, *AMBENCH, "sweep", str(_write(tmp_path, LONG_CELL)),
                             "--out", str(out), "--executor", executor], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + 180
    while not (list((out / "cells").glob("*.json")) and list((out / "running").glob("*.json"))):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    [marker] = (out / "running").glob("*.json")
    worker = json.loads(marker.read_text())["pid"]
    time.sleep(1.0)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    elapsed = time.monotonic() - start
    printed = " ".join((stdout + stderr).split())
    assert proc.returncode == 130 and elapsed < 10, (elapsed, printed)
    assert f"interrupted: 1/2 cells of sweep t are stored in {out}" in printed
    assert "Traceback" not in printed and "ERROR" not in printed and "Error" not in printed
    assert not list((out / "running").glob("*.json")) and len(list((out / "cells").glob("*.json"))) == 1
    assert len(list((out / "wandb").glob("offline-run-*"))) == 1
    time.sleep(0.5)
    assert not pid_alive(worker)  # the driver itself (inline) or its local worker


def test_run_with_wandb_is_one_run_with_a_table_of_its_cells(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "r"
    assert cli.main(["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "dim=32", "--set",
                     "n_memories=2,4", "--set", "n_queries=8", "--out", str(out), "--wandb", "offline"]) == 0
    [run] = (out / "wandb").glob("offline-run-*")
    assert len(_offline_tables(run, "cells_table")["data"]) == 2


def test_metric_curves_average_over_seeds_per_model():
    from ambench.sweep._wandb import metric_curves

    rows = [{"model": m, "dataset": "random", "n_memories": k, "success_rate": v}
            for m, k, v in (("chn", 2, 1.0), ("chn", 2, 0.5), ("chn", 4, 0.0), ("dam", 4, 1.0), ("dam", 8, float("nan")))]
    assert metric_curves(rows, "success_rate", "n_memories") == ([2, 4], [[0.75, 0.0], [None, 1.0]], ["chn", "dam"])
    swept = [{**r, "beta": b} for r in rows[:3] for b in (1.0, 2.0)]  # a swept parameter is never averaged over
    swept[0]["success_rate"] = 0.0
    xs, ys, names = metric_curves(swept, "success_rate", "n_memories", ("beta", "dim"))
    assert names == ["chn, β = 1", "chn, β = 2"] and ys == [[0.25, 0.0], [0.75, 0.0]]


@pytest.mark.slow
def test_cached_component_versions_are_the_registries_and_need_no_jax(tmp_path):
    """What `status` reads from the cache in a fresh process (without importing JAX) equals the
    versions the registries compute, which are those every runner records (`Cell.versions`)."""
    import subprocess
    import sys

    from ambench.sweep import _cells, _versions, resolve_cell

    recorded = _versions.record()
    assert recorded == _versions.registry_versions()
    cell = resolve_cell("capacity", "dam-softmax", "random", 0, {"dim": 8, "n_memories": 2})
    assert cell.versions == {f"code_{k}": recorded[k][n] for k, n in
                             (("experiment", "capacity"), ("model", "dam-softmax"), ("data", "random"))}
    assert _versions.experiments_dir is _cells.experiments_dir  # one function finds the folder
    code = ("import json, sys; from ambench.sweep import _versions; v = _versions.cached(); "
            "assert 'jax' not in sys.modules; print(json.dumps(v))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == recorded


def test_an_edited_source_is_not_read_from_the_cache(tmp_path, monkeypatch):
    import shutil

    from ambench.sweep import _cells, _versions

    folder = tmp_path / "experiments"
    shutil.copytree(_cells.experiments_dir(), folder)
    monkeypatch.setenv("AMBENCH_EXPERIMENTS", str(folder))
    monkeypatch.setenv("AMBENCH_CACHE", str(tmp_path / "cache"))
    assert _versions.cached() is None
    recorded = _versions.record()
    assert _versions.cached() == recorded
    with open(folder / "capacity.py", "a") as f:
        f.write("# edited\n")
    assert _versions.cached() is None


def test_outdated_by_cached_versions_equals_outdated_by_registries():
    from ambench.sweep import _versions, outdated_reason

    versions = _versions.registry_versions()
    row = {"experiment": "capacity", "model": "chn", "dataset": "random", "code_experiment":
           versions["experiment"]["capacity"], "code_model": versions["model"]["chn"], "code_data": "old"}
    for r in (row, {**row, "code_data": versions["data"]["random"]}, {**row, "model": "gone"}, {**row, "code_model": None}):
        assert _versions.outdated_reason(r, versions) == outdated_reason(r)


@pytest.mark.slow
def test_status_imports_no_jax_once_versions_are_cached(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "r"
    assert cli.main(["sweep", str(_write(tmp_path)), "--out", str(out)]) == 0
    code = (f"import sys; from ambench.cli import main; rc = main(['status', {str(out)!r}]); "
            "print('JAX' if 'jax' in sys.modules else 'NOJAX'); sys.exit(rc)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120) for _ in (0, 1)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[1].stdout.strip().endswith("NOJAX")  # the first run may import and record
    assert all(re.search(r"│ t\s+│\s+2 │\s+2 │\s+0 │", r.stdout) for r in runs), runs[1].stdout


def test_status_does_not_ask_squeue_when_the_controller_refuses(tmp_path, monkeypatch):
    import os
    import socket

    from ambench.sweep._status import controller, squeue_ids

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bin_dir, called = tmp_path / "bin", tmp_path / "called"
    bin_dir.mkdir()
    (bin_dir / "squeue").write_text(f"#!/bin/sh\ntouch {called}\nsleep 30\n")
    (bin_dir / "squeue").chmod(0o755)
    conf = tmp_path / "slurm.conf"
    conf.write_text(f"ClusterName=here\nSlurmctldHost=node1(127.0.0.1)  # the controller\nSlurmctldPort={port}\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_CONF", str(conf))
    assert controller(str(conf)) == ("127.0.0.1", port)
    assert squeue_ids() is None and not called.exists()


def _chn_with_default(monkeypatch, max_sweeps: int):
    """chn as if its max_sweeps default had been changed in the code (keys hash non-defaults only)."""
    import dataclasses

    from ambench.models import MODELS
    from ambench.params import Field

    spec = MODELS["chn"]
    changed = type("CHNParamsChanged", (spec.params,), {"__annotations__": {"max_sweeps": int},
                                                          "max_sweeps": Field(max_sweeps, ge=1)})
    monkeypatch.setitem(MODELS.items, "chn", dataclasses.replace(spec, params=changed))


def test_a_stored_cell_whose_default_changed_is_run_again_and_not_drawn(tmp_path, monkeypatch, capsys):
    from ambench.report.figures import Figure, results_for
    from ambench.sweep._spec import load_sweep

    path, out = _write(tmp_path), tmp_path / "r"
    assert cli.main(["sweep", str(path), "--out", str(out)]) == 0
    keys = Store(out).done_keys()
    _chn_with_default(monkeypatch, 7)
    assert {c.key for c in load_sweep(path, out=str(out)).cells} == keys  # same keys, other question
    fig = Figure("T", "t", "t", lambda df: None, sweep_file=path)
    with pytest.raises(FileNotFoundError, match="max_sweeps is stored as 20, the cell has 7"):
        results_for(fig, _as_results(tmp_path, out))
    capsys.readouterr()
    assert cli.main(["sweep", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "re-running 2 stored cells whose parameters differ" in printed.out + printed.err, printed
    assert all(r["model.max_sweeps"] == 7 for r in Store(out).rows_by_key(sorted(keys)))
    assert len(results_for(fig, _as_results(tmp_path, out))[0]) == 2  # current now


@pytest.mark.slow  # three runs of a CHN grid
def test_run_reruns_a_stored_cell_whose_default_changed_as_sweep_does(tmp_path, monkeypatch, capsys):
    """`ambench run` asks the same plan as `sweep`: a row stored with max_sweeps 20 is not the
    answer once the default is 7; it runs again, the run says why, and the table says `run`."""
    args = ["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "dim=16", "--set", "n_memories=2",
            "--seeds", "0,1", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    keys = Store(tmp_path).done_keys()
    assert len(keys) == 2 and all(r["model.max_sweeps"] == 20 for r in Store(tmp_path).rows_by_key(sorted(keys)))
    assert cli.main(args) == 0  # unchanged: both read from the store
    assert "re-running" not in capsys.readouterr().err
    _chn_with_default(monkeypatch, 7)
    assert cli.main(args) == 0
    printed = capsys.readouterr()
    assert "re-running 2 stored cells whose parameters differ" in printed.err, printed
    assert "max_sweeps is stored as 20, the cell has 7" in printed.err
    assert Store(tmp_path).done_keys() == keys  # same keys, other question
    assert all(r["model.max_sweeps"] == 7 for r in Store(tmp_path).rows_by_key(sorted(keys)))
    assert " store" not in printed.out and " run" in printed.out  # no stale row shown as current


def _as_results(tmp_path, out):
    """A results root holding `out` as the sweep `t` (figures read RESULTS/<sweep>/)."""
    root = tmp_path / "results"
    root.mkdir(exist_ok=True)
    if not (root / "t").exists():
        (root / "t").symlink_to(out)
    return root


@pytest.mark.slow
def test_force_and_rerun_outdated_rerun_stored_cells_with_the_local_executor(tmp_path):
    """Jobs skip what is stored, except what was stored before they were submitted and is to be
    re-run (--force, --rerun-outdated): a pack must not skip the cells it was sent to redo."""
    path, out = _write(tmp_path), tmp_path / "r"
    assert cli.main(["sweep", str(path), "--out", str(out)]) == 0
    store = Store(out)
    before = {k: store.stored_at(k) for k in store.done_keys()}
    assert cli.main(["sweep", str(path), "--out", str(out), "--executor", "local", "--force"]) == 0
    after = {k: store.stored_at(k) for k in store.done_keys()}
    assert after.keys() == before.keys() and all(after[k] > before[k] for k in before)


@pytest.mark.parametrize("args, env, message", [
    (["seeds=[0]", "seeds=[1]"], {}, "override seeds is given twice"),
    (["executor=local", "--executor", "inline"], {}, "--executor is given too and wins"),
    (["results=results/x", "--out", "OUT"], {}, "--out is given too and wins"),
    (["wandb.mode=offline"], {"WANDB_MODE": "disabled"}, "WANDB_MODE is given too and wins"),
    (["smoke.seeds=[0]"], {}, "the smoke block is used only with --smoke"),
])
def test_an_override_another_input_replaces_is_refused(tmp_path, monkeypatch, capsys, args, env, message):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    path = _write(tmp_path, GOOD + "smoke: {seeds: [0]}\n")
    argv = ["sweep", str(path), "--dry-run", *[str(tmp_path / "o") if a == "OUT" else a for a in args]]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_top_level_models_no_grid_entry_uses_are_refused(tmp_path, capsys):
    text = GOOD.replace("grid: {dim: [32], n_memories: [2, 4], n_queries: [8]}",
                        "grid: [{models: [dam], dim: [32], n_memories: [2]}]")
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--dry-run"]) == 2
    assert "every grid entry names its own models, so the top-level ones are unused" in capsys.readouterr().err


def test_an_editable_plugin_never_uses_the_versions_cache(monkeypatch):
    """pip install -e lists a finder, not the plugin's sources: an edit would not change the stamp."""
    import importlib.metadata as md

    from ambench.sweep import _versions

    class Dist:
        files = []

        def read_text(self, name):
            return '{"url": "file:///lab", "dir_info": {"editable": true}}' if name == "direct_url.json" else None

    class EP:
        name, value, dist = "lab", "lab.model", Dist()

    monkeypatch.setattr(md, "entry_points", lambda group: [EP()] if group == _versions.GROUPS[0] else [])
    assert _versions.stamp() is None
    Dist.read_text = lambda self, name: None  # a regular install: its files are the stamp
    assert _versions.stamp() is not None


def _progress_folder(tmp_path, done=3, failed=1, running=2, total=10):
    keys = [f"k{i:02d}" for i in range(total)]
    for kind, chosen in (("cells", keys[:done]), ("failed", keys[done:done + failed]),
                         ("running", keys[done + failed:done + failed + running])):
        (tmp_path / kind).mkdir(exist_ok=True)
        for k in chosen:
            (tmp_path / kind / f"{k}.json").write_text("{}")
    return set(keys)


def test_progress_counts_names_and_without_a_tty_logs_a_line_at_most_every_10_s(tmp_path):
    import io

    from rich.console import Console

    from ambench.sweep._progress import Progress, count

    keys = _progress_folder(tmp_path, done=3, failed=1, running=2)
    (tmp_path / "cells" / "other.json").write_text("{}")  # another sweep's cell: not counted
    assert count(tmp_path, keys) == {"done": 3, "running": 2, "failed": 1, "queued": 4}
    now = [0.0]
    log = io.StringIO()
    progress = Progress("demo", tmp_path, keys, console=Console(file=log, width=80), clock=lambda: now[0])
    assert progress.live is None  # not a terminal: plain lines
    for t, stored in ((0.0, 0), (5.0, 1), (9.9, 2), (10.0, 3), (30.0, 4)):
        now[0] = t
        if stored:
            (tmp_path / "cells" / f"k0{3 + stored}.json").write_text("{}")
            (tmp_path / "running" / f"k0{3 + stored}.json").unlink(missing_ok=True)
        progress.tick()
    lines = log.getvalue().splitlines()
    assert lines == ["sweep demo: 3/10 done, 0 stored, 1 failed, 2 running, 0 cells/min, ? left",
                     "sweep demo: 6/10 done, 3 stored, 1 failed, 0 running, 18 cells/min, 10s left",
                     "sweep demo: 7/10 done, 4 stored, 1 failed, 0 running, 8 cells/min, 15s left"], lines
    progress.close({"done": 7, "failed": 1, "running": 0})
    assert log.getvalue().endswith("left\n")  # the next text starts on its own line


def test_progress_of_a_rerun_counts_a_stored_cell_only_once_it_is_rewritten(tmp_path):
    """--force / --rerun-outdated: the cells to compute are on disk already; the count must not
    start at 'all done' (it counted file names only)."""
    import io
    import os

    from rich.console import Console

    from ambench.sweep._progress import Progress

    keys = _progress_folder(tmp_path, done=3, failed=0, running=0)
    old = sorted(keys & {p.stem for p in (tmp_path / "cells").glob("*.json")})
    for name in old:  # stored long ago
        os.utime(tmp_path / "cells" / f"{name}.json", ns=(1, 1))
    now = [0.0]
    progress = Progress("again", tmp_path, keys, console=Console(file=io.StringIO(), width=80),
                        clock=lambda: now[0], todo=set(old[:2]))  # two of the three stored cells run again
    assert progress.counts["done"] == 1  # the one not re-run
    now[0] = 5.0
    (tmp_path / "cells" / f"{old[0]}.json").write_text("{}")  # rewritten now
    progress.tick()
    assert progress.counts["done"] == 2 and progress.line().startswith("sweep again: 2/10 done, 1 stored")


def test_progress_table_fits_80_columns_and_ends_its_line(tmp_path):
    import io

    from rich.console import Console

    from ambench.sweep._progress import Progress

    keys = _progress_folder(tmp_path, done=3, failed=1, running=2)
    progress = Progress("a-sweep-with-a-rather-long-name-nc-capacity", tmp_path, keys,
                        console=Console(file=io.StringIO(), width=80))
    progress.counts = {"done": 123456789, "running": 12345678, "failed": 1234567, "queued": 123456789}
    out = io.StringIO()
    Console(file=out, width=80).print(progress.table())
    text = out.getvalue()
    rows = [line for line in text.splitlines() if "│" in line or "┃" in line]
    assert len(rows) == 2 and all(len(line) <= 80 for line in text.splitlines()), text  # header and one row
    assert "123456789" in rows[1] and text.endswith("┘\n")


def test_figure_tables_never_wrap_mid_row_at_80_columns():
    import io

    from rich.console import Console

    from ambench.report.figures import print_table

    table = pd.DataFrame({f"a_rather_long_column_{i}": [0.1234567 * i, 2.0, 3.5] for i in range(8)})
    out = io.StringIO()
    print_table(table, Console(file=out, width=80))
    lines = out.getvalue().splitlines()
    assert lines and all(len(line) <= 80 for line in lines), lines
    blocks = [block.splitlines() for block in out.getvalue().strip("\n").split("\n\n")]
    assert len(blocks) > 1 and all(len(b) == 1 + len(table) for b in blocks)  # every block: header + whole rows


def test_the_sweep_package_never_imports_the_console():
    """sweep/ computes, console.py (which imports sweep/) shows: no loop hidden by lazy imports."""
    import ast
    from pathlib import Path

    import ambench.sweep

    for path in Path(ambench.sweep.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                names = [module, *(f"{module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any("console" in n.split(".") and not n.startswith("rich.") for n in names), (path.name, names)


def test_the_sweep_files_report_section_and_the_reports_choice_name_the_same_fields():
    """A sweep file's `report:` (the schema's ReportBlock) becomes a report Choice field by field:
    a field added to one and not the other would be refused, or silently dropped."""
    from dataclasses import fields

    from ambench.report import Choice
    from ambench.report._pages import choice_from
    from ambench.sweep._schema import ReportBlock

    assert list(ReportBlock.model_fields) == [f.name for f in fields(Choice)]
    given = {"x": "n_memories", "y": "success_rate", "hue": "model", "style": "similarity", "col": "dataset",
             "row": "noise_kind", "where": {"dataset": "mnist-5k"}}
    assert choice_from(given) == Choice(**{k: v for k, v in given.items() if k != "where"},
                                        where=(("dataset", "mnist-5k"),))


def test_smoke_results_never_go_into_the_full_results(tmp_path, monkeypatch):
    """A smoke block that names no results folder writes results/smoke/NAME (where figures
    --rerun-smoke and status look), not the file's full results folder."""
    from ambench.sweep._spec import load_sweep

    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, PER_MODEL)
    full, smoke = load_sweep(path), load_sweep(path, smoke=True)
    assert smoke.results != full.results
    assert smoke.results.resolve() == (tmp_path / "results" / "smoke" / full.name).resolve()
    named = _write(tmp_path, PER_MODEL + "  results: results/elsewhere\n")
    assert load_sweep(named, smoke=True).results.resolve() == (tmp_path / "results" / "elsewhere").resolve()
