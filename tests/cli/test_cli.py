"""The command line: listings, a stored grid, one-line errors, and kill-then-re-issue."""

import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from conftest import AMBENCH, ROOT


@pytest.mark.slow
def test_listings(cli):
    for what, expected in (("models", "dam-softmax"), ("datasets", "fashion_mnist-idx"), ("experiments", "capacity")):
        out = cli(what)
        assert out.returncode == 0 and expected in out.stdout


@pytest.mark.slow
def test_run_stores_a_grid_and_skips_it_on_reissue(cli, tmp_path):
    args = ["run", "capacity", "--model", "chn,dam", "--dataset", "random", "--set", "dim=50",
            "--set", "n_memories=3,6", "--out", tmp_path]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    assert "success_rate" in first.stdout
    files = sorted((tmp_path / "cells").glob("*.json"))
    stamps = [f.stat().st_mtime_ns for f in files]
    second = cli(*args)
    assert second.returncode == 0
    assert [f.stat().st_mtime_ns for f in files] == stamps  # nothing recomputed
    df = pd.read_parquet(tmp_path / "results.parquet")
    assert len(df) == 4 and df.cell_key.is_unique
    for column in ("experiment", "model", "dataset", "seed", "cell_key", "experiment.n_memories", "data.dim",
                   "experiment.noise_kind", "success_rate", "ambench_version", "git_commit", "jax_version", "device",
                   "wall_s"):
        assert column in df.columns, column
    assert "experiment.noise_level" not in df.columns and "model.beta" not in df.columns  # no part in these cells


BAD = [
    (["run", "nope", "--model", "chn", "--dataset", "random"], "unknown experiment"),
    (["run", "capacity", "--model", "nope", "--dataset", "random"], "unknown model"),
    (["run", "capacity", "--model", "chn", "--dataset", "nope"], "unknown dataset"),
    (["run", "capacity", "--model", "dam-softmax", "--dataset", "mnist-5k", "--set", "n_memories=6000"], "larger than"),
    (["run", "noise", "--model", "chn", "--dataset", "random", "--set", "noise_kind=flip", "--set", "noise_level=1.5"], "noise_level"),
    (["run", "noise", "--model", "chn", "--dataset", "random", "--set", "noise_kind=blur"], "noise_kind"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "n_memories"], "malformed --set"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "n_memories=ten"], "n_memories='ten': input should be a valid integer"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "temperature=3"], "unknown parameter"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--out", "/proc/ambench"], "not writable"),
    (["run", "capacity", "--model", "chn", "--dataset", "mnist-5k", "--set", "encoding=unit"], "encoding=binary"),
    (["run", "capacity", "--model", "dam", "--dataset", "random", "--set", "interaction=cubic"], "allowed: one of power, rectified, exp"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--seeds", "-1"], "seed must be"),
    (["run", "noise", "--model", "chn", "--dataset", "random", "--set", "n_queries=0"], "n_queries=0: input should be greater than or equal to 1"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--seeds", "a"], "--seeds takes"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "seed=0,1"], "use --seeds"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--seeds", "0,0"], "a seed is repeated"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "dim=5", "--set", "dim=6"], "given twice"),
    (["run", "capacity", "--model", "dam-softmax", "--dataset", "random", "--set", "beta=.nan"], "finite number"),
    (["run", "capacity", "--model", "dam", "--dataset", "random", "--set", "n=20", "--set", "dim=200"], "overflows"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "model.beta=2"], "has no parameter 'beta'"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "n_memories=10000000",
      "--set", "dim=100000"], "GiB"),
    (["run", "capacity", "--model", "chn,chn", "--dataset", "random"], "distinct"),
    (["run", "capacity", "--model", "chn", "--dataset", "random", "--out", ""], "--out is empty"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[m for _, m in BAD])
@pytest.mark.slow
def test_bad_input_is_one_line_with_the_fix(cli, args, message):
    t0 = time.time()
    out = cli(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert time.time() - t0 < 10


@pytest.mark.slow
def test_killed_run_reissued_computes_only_the_missing_cells(tmp_path):
    args = [*AMBENCH, "run", "capacity", "--model", "chn", "--dataset", "random", "--set", "dim=60",
            "--set", "n_memories=2,3,4,5,6,7,8,9", "--out", str(tmp_path)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    cells = tmp_path / "cells"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(cells.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {f.name: f.stat().st_mtime_ns for f in cells.glob("*.json")}
    assert 2 <= len(before) < 8
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = {f.name: f.stat().st_mtime_ns for f in cells.glob("*.json")}
    assert len(after) == 8 and all(after[name] == stamp for name, stamp in before.items())
    df = pd.read_parquet(tmp_path / "results.parquet")
    assert len(df) == 8 and df.cell_key.is_unique


def test_printed_table_fills_prefixed_parameter_columns():
    from ambench.console import console, print_rows

    rows = [{"experiment": "noise", "model": "uhn", "dataset": "random", "seed": 0, "beta": b, "success_rate": r}
            for b, r in ((1.0, 0.01), (1000.0, 1.0))]
    with console.capture() as cap:
        print_rows(rows, ["model.beta"], "t", stored=[False, True])
    lines = [line for line in cap.get().splitlines() if "uhn" in line]
    assert len(lines) == 2 and "1000" in lines[1] and "store" in lines[1] and "run" in lines[0]
    assert lines[0].split("│")[4].strip() == "1"  # the model.beta column holds beta's value


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_run_table_never_clips_a_name_and_says_which_metrics_did_not_fit(monkeypatch, width):
    """On a narrow terminal whole metric columns go (named below the table), never part of a
    model's name: `dam-…` could not be told from `dam`."""
    import io

    from rich.console import Console

    from ambench import console as ambench_console

    out = io.StringIO()
    monkeypatch.setattr(ambench_console, "console", Console(file=out, width=width))
    rows = [{"experiment": "noise", "model": m, "dataset": "random", "seed": 0, "success_rate": 1.0,
             "nearest_rate": 1.0, "wrong_bits": 0.0, "steps": 1.0, "converged_rate": 1.0,
             "energy_monotone_rate": 1.0, "diverged_rate": 0.0} for m in ("chn", "dam-softmax")]
    ambench_console.print_rows(rows, [], "noise", stored=[True, False])
    text = out.getvalue()
    assert "dam-softmax" in text and "…" not in text and "store" in text and "run" in text
    assert all(len(line) <= width for line in text.splitlines()[:-1])
    hidden = [m for m in ("converged_rate", "energy_monotone_rate", "diverged_rate") if f" {m} " not in text]
    assert ("not shown for width" in text) == bool(hidden) and all(m in text.splitlines()[-1] for m in hidden)
    assert "success_rate" in text


def test_status_without_slurm_shows_a_dash_and_says_why(tmp_path, monkeypatch, capsys):
    from ambench import console as ambench_console
    from ambench.sweep import Store, _status, expand, run_cell

    store = Store(tmp_path / "r")
    run_cell(expand("capacity", ["chn"], ["random"], [0], {"dim": [16], "n_memories": [2]})[0], store)
    monkeypatch.setattr(_status, "squeue_ids", lambda: None)
    assert ambench_console.print_status(tmp_path / "r") == 0
    out = capsys.readouterr().out
    assert "?" not in out and "jobs in queue: - where SLURM's squeue gave no answer" in out
