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
    assert len(list((out / "wandb").glob("offline-run-*"))) == 2 + 1


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
    from ambench.sweep import load_experiment

    module = load_experiment("capacity")
    real, calls = module.run, []

    def interrupt_on_third(cell, progress=lambda m: None):
        calls.append(cell.key)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as Ctrl-C arrives while a cell computes
        return real(cell, progress)

    monkeypatch.setattr(module, "run", interrupt_on_third)
    text = GOOD.replace("n_memories: [2, 4]", "n_memories: [2, 3, 4, 5]")
    out = tmp_path / "r"
    assert cli.main(["sweep", str(_write(tmp_path, text)), "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "2/4 done" in err.split("sweep t:")[-1]
    store = Store(out)
    assert len(store.done_keys()) == 2 and store.running() == {}
