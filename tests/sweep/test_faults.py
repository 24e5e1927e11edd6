"""Fault injection: damaged cell files, concurrent consolidation, a driver killed with SIGKILL at
a random moment (inline, local, SLURM), markers left by dead processes. After each fault a
re-issued sweep must store every cell of the plan exactly once, and lose nothing stored."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from ambench import cli
from ambench.sweep import Store
from ambench.sweep.driver import sweep_status
from conftest import AMBENCH, ROOT, require_slurm

SWEEP = """name: faults
experiment: capacity
models: [chn]
datasets: [random]
seeds: {seeds}
grid: {{dim: [16], n_memories: [1, 2, 3, 4], n_queries: [4]}}
"""


def _sweep(tmp_path, seeds=(0, 1)):
    path = tmp_path / "faults.yaml"
    path.write_text(SWEEP.format(seeds=list(seeds)))
    return path


def _stamps(out):
    return {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}


def _row(key, **extra):
    return {"experiment": "capacity", "model": "chn", "dataset": "random", "seed": 0, "cell_key": key, **extra}


# --- damaged cell files ------------------------------------------------------------------

def _damage(path: Path, kind: str, other: Path) -> None:
    text = path.read_text()
    path.write_bytes({
        "truncated": text[: len(text) // 2].encode(),
        "empty file": b"",
        "empty object": b"{}",
        "json list": b"[1, 2, 3]",
        "wrong key": other.read_bytes(),  # a valid row of another cell, under this name
        "junk": b"\xff\xfe\x00 not json at all",
        "nan metric": text.replace('"success_rate": ', '"success_rate": NaN, "was": ').encode(),
        "bool seed": text.replace('"seed": 0', '"seed": true').replace('"seed": 1', '"seed": false').encode(),
    }[kind])


KINDS = ["truncated", "empty file", "empty object", "json list", "wrong key", "junk", "nan metric", "bool seed"]
REASONS = {"truncated": "not valid JSON", "empty file": "not valid JSON", "empty object": "cell_key None",
           "json list": "not a JSON object but a list", "wrong key": "does not match the file name",
           "junk": "unreadable", "nan metric": "non-standard JSON constant NaN", "bool seed": "seed missing or not an integer"}


@pytest.mark.slow
def test_damaged_cell_files_are_quarantined_reported_and_run_again(tmp_path, capsys):
    path, out = _sweep(tmp_path), tmp_path / "r"
    assert cli.main(["sweep", str(path), "--out", str(out)]) == 0
    files = sorted((out / "cells").glob("*.json"))
    assert len(files) == len(KINDS) == 8
    originals = {p.stem: json.loads(p.read_text()) for p in files}
    for p, kind, other in zip(files, KINDS, files[1:] + files[:1]):
        _damage(p, kind, other)
    capsys.readouterr()
    [row] = sweep_status(out)  # status validates: nothing damaged counts as done
    assert (row["done"], row["missing"], row["quarantined"]) == (0, 8, 8)
    err = capsys.readouterr().err
    assert err.count("quarantined invalid cell file") == 8 and "the cell will run again" in err
    for p, kind in zip(files, KINDS):
        [moved] = (out / "quarantine").glob(f"{p.stem}.*[0-9].json")  # kept, never deleted
        reason = moved.with_name(moved.name.removesuffix(".json") + ".reason.txt").read_text()
        assert REASONS[kind] in reason, (kind, reason)
    assert cli.main(["sweep", str(path), "--out", str(out), "--dry-run"]) == 0
    assert "8 cells, 0 already stored, 8 to run" in capsys.readouterr().out
    assert cli.main(["sweep", str(path), "--out", str(out)]) == 0
    assert "8 invalid cell file(s) kept in" in capsys.readouterr().out
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 8 and df.cell_key.is_unique and set(df.cell_key) == set(originals)
    assert df[["experiment", "model", "dataset", "seed"]].notna().all().all()
    assert {k: r["success_rate"] for k, r in originals.items()} == dict(zip(df.cell_key, df.success_rate))
    assert cli.main(["status", str(out)]) == 0
    assert "8 invalid cell file(s) in quarantine/" in capsys.readouterr().out


def test_valid_row_and_every_read_goes_through_it(tmp_path):
    store = Store(tmp_path)
    assert Store.valid_row("k", _row("k")) is None
    assert "not a JSON object" in Store.valid_row("k", [1])
    assert "does not match" in Store.valid_row("k", _row("j"))
    assert "model missing" in Store.valid_row("k", _row("k", model=""))
    assert "seed" in Store.valid_row("k", _row("k", seed=True)) and "seed" in Store.valid_row("k", _row("k", seed=1.0))
    good, bad, bad2, bad3 = (f"{i:016x}" for i in range(4))  # key-named: files ambench would write
    store.write_result(good, _row(good))
    (tmp_path / "cells" / f"{bad}.json").write_text("{}")
    assert store.has(good) and not store.has(bad)  # has() quarantined it
    assert not (tmp_path / "cells" / f"{bad}.json").exists() and len(store.quarantined()) == 1
    (tmp_path / "cells" / f"{bad2}.json").write_text(f'{{"cell_key": "{bad2}"')
    with pytest.raises(KeyError, match=bad2):
        store.rows_by_key([good, bad2])
    (tmp_path / "cells" / f"{bad3}.json").write_text("[]")
    (tmp_path / "cells" / "notes.json").write_text("[]")  # not a cell file name: not ambench's, never moved
    assert [r["cell_key"] for r in store.rows()] == [good] and store.done_keys() == {good}
    assert len(store.quarantined()) == 3 and (tmp_path / "cells" / "notes.json").exists()


def test_a_file_rewritten_while_being_quarantined_is_kept(tmp_path):
    store = Store(tmp_path)
    (tmp_path / "cells").mkdir()
    key = "00000000000000ab"
    bad = tmp_path / "cells" / f"{key}.json"
    bad.write_text("{}")
    _, reason, stamp = store._load(bad)
    store.write_result(key, _row(key))  # a worker stores the cell between the judgement and the move
    assert store.quarantine(key, reason, stamp) is None
    assert store.has(key) and store.quarantined() == []


def test_a_3000_cell_folder_stays_fast(tmp_path):
    cells = tmp_path / "cells"
    cells.mkdir()
    for i in range(3000):
        key = f"{i:016x}"
        (cells / f"{key}.json").write_text(json.dumps(_row(key, seed=i, success_rate=0.5, energy_trace=[1.0] * 20)))
    store = Store(tmp_path)
    t0 = time.perf_counter()
    assert len(store.done_keys()) == 3000
    t1 = time.perf_counter()
    assert len(store.done_keys()) == 3000 and store.has("0000000000000bb7")
    t2 = time.perf_counter()
    assert store.consolidate() == 3000
    t3 = time.perf_counter()
    assert t1 - t0 < 5 and t2 - t1 < 1.0 and t3 - t2 < 5, (t1 - t0, t2 - t1, t3 - t2)


# --- consolidation -----------------------------------------------------------------------

def _listy_rows(n):
    rows = []
    for i in range(n):
        key = f"{i:016x}"
        extra = {"n": 2 + i % 3, "overlaps": [0.1 * j for j in range(5)], "energy_trace": [-1.0 * j for j in range(7)],
                 "generated": [[0.0, 0.5], [1.0, 0.25]], "success_rate": i / n}
        if i % 2:
            extra["only_odd"] = i  # a column missing from half the rows
        rows.append(_row(key, seed=i, **extra))
    return rows


def test_parquet_column_order_and_list_columns_survive(tmp_path):
    store = Store(tmp_path)
    rows = _listy_rows(6)
    for r in rows:
        store.write_result(r["cell_key"], r)
    from ambench.report import consolidate

    df = consolidate(tmp_path)
    assert list(df.columns[:5]) == ["experiment", "model", "dataset", "seed", "cell_key"]
    back = pd.read_parquet(tmp_path / "results.parquet")
    assert len(back) == 6 and back.cell_key.is_unique
    for r, (_, b) in zip(rows, back.iterrows()):
        assert list(b.overlaps) == r["overlaps"] and list(b.energy_trace) == r["energy_trace"]
        assert [list(x) for x in b.generated] == r["generated"]
    assert back.only_odd.isna().sum() == 3


CONSOLIDATOR = """
import sys
from ambench.sweep import Store
for _ in range(int(sys.argv[2])):
    Store(sys.argv[1]).consolidate()
"""
READER = """
import sys, time
import pyarrow.parquet as pq
deadline, reads = time.time() + float(sys.argv[2]), 0
while time.time() < deadline:
    t = pq.read_table(sys.argv[1] + "/results.parquet")
    assert t.num_rows == int(sys.argv[3]), t.num_rows
    reads += 1
print(reads)
"""


@pytest.mark.slow
def test_concurrent_consolidation_never_tears_the_table(tmp_path):
    store = Store(tmp_path)
    rows = _listy_rows(300)
    for r in rows:
        store.write_result(r["cell_key"], r)
    store.consolidate()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    writers = [subprocess.Popen([sys.executable, "-c", CONSOLIDATOR, str(tmp_path), "15"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    reader = subprocess.Popen([sys.executable, "-c", READER, str(tmp_path), "6", "300"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [p.communicate(timeout=120) + (p.returncode,) for p in writers + [reader]]
    assert all(rc == 0 and not err.strip() for _, err, rc in results), [r[1][-1000:] for r in results]
    assert int(results[-1][0]) > 10  # the reader really read while the writers wrote
    assert not list(tmp_path.glob(".results.parquet*"))  # no temporary file left behind
    assert len(pd.read_parquet(tmp_path / "results.parquet")) == 300


# --- markers of dead processes -----------------------------------------------------------

def _dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_markers_of_dead_processes_are_stale_not_running(tmp_path):
    from ambench.sweep._store import HOST

    store = Store(tmp_path)
    now = time.time()
    markers = {"mine-live": {"host": HOST, "pid": os.getpid(), "started": now},
               "mine-dead": {"host": HOST, "pid": _dead_pid(), "started": now},
               "far-recent": {"host": "elsewhere", "pid": 1, "started": now - 60},
               "far-old": {"host": "elsewhere", "pid": 1, "started": now - 30 * 24 * 3600},
               "job-gone": {"host": "node7", "pid": 1, "job_id": "4242", "started": now},
               "job-queued": {"host": "node7", "pid": 1, "job_id": "4343", "started": now}}
    states = {k: store.marker_state(v, {"4343", "4300_1"}) for k, v in markers.items()}
    assert states == {"mine-live": "running", "mine-dead": "stale", "far-recent": "running", "far-old": "stale",
                      "job-gone": "stale", "job-queued": "running"}
    assert store.marker_state(markers["job-gone"], None) == "running"  # no squeue: judged by age only
    assert store.marker_state(markers["far-recent"], None, stale_after_s=30) == "stale"
    for key, info in markers.items():
        (tmp_path / "running").mkdir(exist_ok=True)
        (tmp_path / "running" / f"{key}.json").write_text(json.dumps(info))
    (tmp_path / "sweep.json").write_text(json.dumps({"name": "s", "cells": sorted(markers)}))
    [row] = sweep_status(tmp_path)  # no SLURM here (or none that knows job 4242/4343)
    assert row["stale"] >= 2 and row["running"] + row["stale"] == 6 and row["missing"] == 0


def test_status_does_not_wait_for_a_hung_squeue(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "squeue").write_text(f"#!/bin/sh\ntouch {tmp_path / 'asked'}\nsleep 60\n")
    (bin_dir / "squeue").chmod(0o755)
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=nowhere\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_CONF", str(conf))
    store = Store(tmp_path / "r")
    store.write_result("k", _row("k"))
    monkeypatch.setenv("AMBENCH_SQUEUE_TIMEOUT_S", "0.5")
    t0 = time.perf_counter()
    [row] = sweep_status(tmp_path / "r")
    # squeue was asked and abandoned at its timeout: far less than its 60 s (a bound no load reaches)
    assert (tmp_path / "asked").exists() and time.perf_counter() - t0 < 30
    assert row["jobs_in_queue"] is None and row["done"] == 1


# --- SIGKILL of the driver ---------------------------------------------------------------

def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie left unreaped is dead
    except FileNotFoundError:
        return False


def _descendants(pid):
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = set()
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                kids |= {int(c) for c in Path(f"/proc/{p}/task/{t}/children").read_text().split()}
        except (FileNotFoundError, ProcessLookupError):
            pass
        out |= kids
        todo += list(kids)
    return out


def _kill_at_random_then_reissue(tmp_path, executor, seed):
    rng = random.Random(seed)
    tmp_path.mkdir()
    path, out = _sweep(tmp_path, seeds=range(6)), tmp_path / "r"  # 24 cells
    cmd = [*AMBENCH, "sweep", str(path), "--out", str(out), "--executor", executor]
    env = {**os.environ, "WANDB_SILENT": "true",
           "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    driver = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    target, deadline = rng.randint(1, 16), time.time() + 120  # the moment: after a random number of cells
    while len(list((out / "cells").glob("*.json"))) < target and driver.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    children = _descendants(driver.pid)
    os.kill(driver.pid, signal.SIGKILL)  # the driver alone: its workers must notice by themselves
    driver.wait()
    deadline = time.time() + 10
    while any(_alive(c) for c in children) and time.time() < deadline:
        time.sleep(0.1)
    assert not [c for c in children if _alive(c)], "workers outlived their driver"
    before = _stamps(out)
    assert target <= len(before) < 24, (target, len(before))  # killed in the middle of the sweep
    [row] = sweep_status(out)
    assert row["running"] == 0 and row["done"] == len(before)  # dead workers' markers are stale
    assert cli.main(["sweep", str(path), "--out", str(out), "--executor", executor]) == 0
    after = _stamps(out)
    assert len(after) == 24 and all(after[k] == v for k, v in before.items())  # nothing stored twice
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 24 and df.cell_key.is_unique and not (out / "quarantine").exists()
    return len(before)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["inline", "local"])
def test_sigkill_of_the_driver_at_random_moments_then_reissue_stores_each_cell_once(executor, tmp_path):
    seed = int(os.environ.get("AMBENCH_FAULT_SEED", random.randrange(10**6)))
    stored_at_kill = [_kill_at_random_then_reissue(tmp_path / str(t), executor, seed + t) for t in range(2)]
    print(f"{executor}: seed {seed}, cells stored when killed: {stored_at_kill}")


@pytest.mark.slurm
def test_sigkill_of_a_slurm_driver_then_reissue_stores_each_cell_once(tmp_path):
    require_slurm()
    path, out = _sweep(tmp_path, seeds=range(3)), tmp_path / "r"  # 12 cells, 3 jobs of 4
    path.write_text(path.read_text() + textwrap.dedent(f"""
        slurm: {{profile: {ROOT / 'slurm' / 'local.yaml'}, cells_per_job: 4}}
        """))
    cmd = [*AMBENCH, "sweep", str(path), "--out", str(out), "--executor", "slurm", "--on-interrupt", "leave"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    driver = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.time() + 180
    while not list((out / "cells").glob("*.json")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(random.uniform(0, 2))
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    [row] = sweep_status(out)
    assert row["jobs_in_queue"] is not None  # squeue answered
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 12 and df.cell_key.is_unique and len(list((out / "cells").glob("*.json"))) == 12
    assert not (out / "quarantine").exists()
