"""`ambench sweep`: dispatch what is missing, show progress, summarise (`status` is in _status).

Re-issuing a sweep is always safe: cells already in the store are never run or submitted again,
and cells that failed are retried. A manifest (sweep.json in the results folder) records the
sweep's cell keys and submitted job ids so that `status` can say what is missing or running.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ._cells import ROOT, ConfigError, cell_key, check_available, outdated_reason, parameters_differ
from ._run import CellPack, die_with_parent, pack, run_cells
from ._safety import check_trusted, private_folder
from ._spec import Sweep, load_profile, load_sweep, submitit_parameters
from ._status import SLURM_CONFS as SLURM_CONFS, squeue_ids as _squeue_ids, states as _states
from ._status import status_command as status_command, sweep_status as sweep_status
from ._store import HOST, Store, atomic_write_json
from ._wandb import SweepRun

console = Console(stderr=True)
ABANDONED: list[threading.Event] = []  # set when a cell thread left computing after Ctrl-C ends


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, after the store was consolidated and W&B closed; the message
    counts the stored cells (`cli.main` prints it and exits 130)."""


def write_manifest(sweep: Sweep, keys: list[str], jobs: list[str] | None = None) -> None:
    path = sweep.results / "sweep.json"
    try:
        old = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):  # a damaged manifest is rebuilt; the job ids it held are lost, not the cells
        old = {}
    old = old if isinstance(old, dict) else {}
    file = Path(sweep.file).resolve()
    file = file.relative_to(ROOT) if file.is_relative_to(ROOT) else file  # a clone's manifests stay valid
    atomic_write_json(path, {"name": sweep.name, "file": str(file), "experiment": sweep.experiment,
                             "overrides": sweep.overrides, "cells": sorted(set(keys)),
                             "jobs": sorted(set(old.get("jobs", [])) | set(jobs or []))})


def _counts(store: Store, keys: set[str], live_jobs: set[str] | None = None) -> dict[str, int]:
    s = _states(store, keys, live_jobs)
    counts = {k: len(v) for k, v in s.items()}
    counts["queued"] = len(keys) - sum(counts.values())
    return counts


PROGRESS = ("done", "running", "stale", "failed", "queued")


def _progress_table(name: str, counts: dict[str, int], total: int, extra: str = "") -> Table:
    t = Table(title=f"sweep {name}: {counts['done']}/{total} done {extra}")
    for c in PROGRESS:
        t.add_column(c, justify="right")
    t.add_row(*(str(counts[c]) for c in PROGRESS))
    return t


def _cell_settings(sweep: Sweep) -> dict | None:
    """W&B settings for the processes that run cells: only with `wandb: {per_cell: true}`
    (the sweep's own run lives in the driver, `_wandb.SweepRun`)."""
    return sweep.wandb if sweep.wandb.get("per_cell") else None


def _clear_markers(store: Store, keys: set[str], pids: set[int]) -> None:
    """Running markers of these processes (on this host) removed: their cells are missing."""
    for key, info in store.running().items():
        if key in keys and info.get("host") == HOST and info.get("pid") in pids:
            store.clear_running(key)


def _run_inline(sweep: Sweep, todo: list, store: Store, keys: set[str], wrun: SweepRun) -> dict:
    """Cells run in a thread while this (main) thread shows progress and waits: Ctrl-C lands
    here at once even when the cell thread is inside one long XLA computation, which Python
    cannot interrupt (measured: SIGINT 15 s into 30 s cells ended the process at 42.7 s). The
    thread stops before its next cell; if it is still computing half a second later it is left
    behind (its marker removed) and `cli.main` ends the process without waiting for it."""
    from ..timing import cache_hits, compilations

    programs, hits = compilations(), cache_hits()
    stop, finished, outcome = threading.Event(), threading.Event(), {}

    def work():
        try:
            run_cells(todo, store, wandb_settings=_cell_settings(sweep), batched=sweep.batched, stop=stop.is_set)
        except BaseException as err:  # noqa: BLE001 - handed to the main thread, which re-raises it
            outcome["error"] = err
        finally:
            finished.set()

    def show():
        live.update(_progress_table(sweep.name, _counts(store, keys), len(keys)))
        wrun.update(store, keys)

    thread = threading.Thread(target=work, name="ambench-cells", daemon=True)
    with Live(_progress_table(sweep.name, _counts(store, keys), len(keys)), console=console,
              refresh_per_second=4) as live:
        try:
            thread.start()
            while not finished.wait(1.0):  # not thread.join: an interrupted join can mark a live thread dead
                show()
        except KeyboardInterrupt:
            stop.set()
            if not finished.wait(0.5):
                ABANDONED.append(finished)
            _clear_markers(store, keys, {os.getpid()})
            raise
        finally:  # interrupted too: the last table counts what is stored now
            show()
    if "error" in outcome:
        raise outcome["error"]
    for key in sorted(store.failed_keys() & keys)[:5]:
        error = (store.failure(key) or {}).get("error", "").splitlines()
        console.print(f"cell {key} failed: {error[0] if error else '?'}", markup=False)
    return {"programs": compilations() - programs, "cache_hits": cache_hits() - hits}


def _stop_workers(pool: ProcessPoolExecutor) -> set[int]:
    """SIGKILL the pool's workers (a SIGINT sent to the driver alone would leave them running
    their packs, and pool shutdown would wait for them). Cells are stored atomically, so a
    kill loses at most the cells being computed. Returns the workers' pids."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, TypeError):
            pass
    for proc in procs:
        proc.join(2.0)
    pool.shutdown(wait=False, cancel_futures=True)
    return {proc.pid for proc in procs}


def _run_local(sweep: Sweep, packs: list[list], store: Store, keys: set[str], wrun: SweepRun) -> list[dict]:
    ctx = multiprocessing.get_context("spawn")  # JAX is not fork-safe
    pool = ProcessPoolExecutor(max_workers=sweep.workers, mp_context=ctx, initializer=die_with_parent)
    futures = []
    with Live(_progress_table(sweep.name, _counts(store, keys), len(keys)), console=console,
              refresh_per_second=2) as live:
        try:
            since = time.time()
            futures = [pool.submit(CellPack(), p, str(sweep.results), _cell_settings(sweep), sweep.batched, since)
                       for p in packs]
            pending = set(futures)
            while pending:
                finished = {f for f in pending if f.done()}
                pending -= finished
                live.update(_progress_table(sweep.name, _counts(store, keys), len(keys)))
                wrun.update(store, keys)
                if pending:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            _clear_markers(store, keys, _stop_workers(pool))
            raise
        finally:
            live.update(_progress_table(sweep.name, _counts(store, keys), len(keys)))
    pool.shutdown()
    return [f.result() for f in futures if f.exception() is None]


def _submit_slurm(sweep: Sweep, packs: list[list]) -> list:
    import submitit

    profile = load_profile(sweep.profile)
    if shutil.which("sbatch") is None:
        raise FileNotFoundError("sbatch not found: this machine is not a SLURM login node "
                                "(start a local cluster with `make cluster-up`, or use --executor local)")
    private_folder(sweep.results / "submitit")  # its pickles are code the jobs run: owner only
    executor = submitit.AutoExecutor(folder=sweep.results / "submitit" / "%j", cluster="slurm")
    executor.update_parameters(name=f"ambench-{sweep.name}", **submitit_parameters(profile))
    limit = profile.max_array_size or 1000
    jobs = []
    for start in range(0, len(packs), limit):  # arrays larger than the cluster's MaxArraySize are split
        chunk = packs[start:start + limit]
        jobs += executor.map_array(CellPack(), chunk, [str(sweep.results)] * len(chunk),
                                   [_cell_settings(sweep)] * len(chunk),
                                   [sweep.batched] * len(chunk), [time.time()] * len(chunk))
    return jobs


def _wait_slurm(sweep: Sweep, jobs: list, store: Store, keys: set[str], on_interrupt: str, wrun: SweepRun) -> None:
    try:
        with Live(_progress_table(sweep.name, _counts(store, keys), len(keys)), console=console,
                  refresh_per_second=1) as live:
            while not all(j.done() for j in jobs):
                live.update(_progress_table(sweep.name, _counts(store, keys, _squeue_ids()), len(keys),
                                            f"({len(jobs)} jobs)"))
                wrun.update(store, keys)
                time.sleep(2)
            live.update(_progress_table(sweep.name, _counts(store, keys, _squeue_ids()), len(keys),
                                        f"({len(jobs)} jobs)"))
    except KeyboardInterrupt:
        answer = on_interrupt
        if answer == "ask":
            answer = "leave"
            if sys.stdin.isatty():
                reply = input(f"\ncancel the {len(jobs)} submitted jobs? [y/N] ").strip().lower()
                answer = "cancel" if reply in ("y", "yes") else "leave"
        if answer == "cancel":
            for j in jobs:
                j.cancel(check=False)
            console.print("cancelled the jobs; finished cells are stored. Re-issue the command to continue.")
        else:
            console.print("left the jobs running; `ambench status` follows them, re-issuing is safe.")
        raise


def sweep_command(args) -> int:
    return run_sweep(args.file, smoke=args.smoke, executor=args.executor, profile=args.profile, wandb=args.wandb,
                     out=args.out, dry_run=args.dry_run, force=args.force, on_interrupt=args.on_interrupt,
                     no_wait=args.no_wait, max_cells=getattr(args, "max_cells", None), rerun_outdated=args.rerun_outdated,
                     overrides=getattr(args, "overrides", None) or [])


def run_sweep(file: str | Path, *, smoke: bool = False, executor: str | None = None, profile: str | None = None,
              wandb: str | None = None, out: str | Path | None = None, dry_run: bool = False, force: bool = False,
              on_interrupt: str = "ask", no_wait: bool = False, max_cells: int | None = None,
              rerun_outdated: bool = False, overrides: list[str] | None = None) -> int:
    """`ambench sweep`: run (or with `dry_run` count) the cells of a sweep file, with the
    command-line `overrides` (KEY=VALUE) applied, that are not stored yet; returns the exit
    status (1 when cells are left undone; Ctrl-C raises `SweepInterrupted`). A results folder
    that group or others can write is refused before anything runs (see `_safety.check_trusted`)."""
    sweep = load_sweep(file, smoke=smoke, executor=executor, profile=profile, wandb_mode=wandb, out=out,
                       max_cells=max_cells, overrides=overrides)
    if no_wait and sweep.executor != "slurm":
        raise ConfigError(f"--no-wait only applies to the slurm executor (this sweep runs {sweep.executor}); "
                          "drop it or add --executor slurm")
    if not dry_run:
        check_trusted(sweep.results)
    store = Store(sweep.results)
    keys = {cell_key(c) for c in sweep.cells}
    done = set() if force else store.done_keys()
    stored = store.rows_by_key(sorted(done & keys))
    by_key = {cell_key(c): c for c in sweep.cells}
    changed = {r["cell_key"]: why for r in stored if (why := parameters_differ(r, by_key[r["cell_key"]]))}
    if changed:  # same key, another question (a default changed since): never counted done
        console.print(f"re-running {len(changed)} stored cells whose parameters differ from this sweep's "
                      f"(a default changed since they ran), e.g. {next(iter(changed.values()))}",
                      markup=False, highlight=False)
        done -= set(changed)
    if rerun_outdated and not force:  # cells stored by code that has changed since: run again
        outdated = {r["cell_key"] for r in stored if r["cell_key"] in done and outdated_reason(r)}
        if not dry_run:
            console.print(f"re-running {len(outdated)} cells computed by code that has changed since")
        done -= outdated
    todo = [c for c in sweep.cells if cell_key(c) not in done]
    per_job = sweep.cells_per_job if sweep.executor == "slurm" else math.ceil(len(todo) / max(1, sweep.workers))
    packs = pack(todo, per_job) if sweep.executor != "inline" else [[c] for c in todo]
    given = f" with {' '.join(sweep.overrides)}" if sweep.overrides else ""
    if dry_run:
        print(f"sweep {sweep.name} ({sweep.file}{given}): {len(sweep.cells)} cells, {len(sweep.cells) - len(todo)} "
              f"already stored, {len(todo)} to run")
        if sweep.executor == "slurm":
            limit = load_profile(sweep.profile).max_array_size or 1000
            arrays = math.ceil(len(packs) / limit) if packs else 0
            print(f"slurm: {len(packs)} jobs of <= {sweep.cells_per_job} cells in {arrays} job array(s) "
                  f"(profile {sweep.profile})")
        else:
            sizes = Counter(len(p) for p in packs)
            shown = ", ".join(f"{n} of {size} cell{'s' * (size != 1)}" for size, n in sorted(sizes.items()))
            print(f"{sweep.executor}: {len(packs)} job(s){': ' + shown if shown else ''}")
        print(f"results: {sweep.results}")
        return 0
    check_available(todo)  # the data files of the cells to compute (a stored cell needs none)
    store.check_writable()
    write_manifest(sweep, list(keys))
    console.print(f"sweep {sweep.name} ({sweep.file}{given}): {len(keys)} cells, {len(keys) - len(todo)} stored, "
                  f"{len(todo)} to run ({sweep.executor})", markup=False, highlight=False)
    reports: list[dict] = []  # per process: programs compiled (and read from the compilation cache)
    wrun = SweepRun(None, name=sweep.name, config={})  # disabled until started inside the try
    try:
        wrun = SweepRun(sweep.wandb, name=sweep.name, config={
            "sweep": sweep.name, "file": str(sweep.file), "experiment": sweep.experiment,
            "overrides": sweep.overrides, "executor": sweep.executor, "cells": len(keys),
            "results": str(sweep.results)})
        if todo:
            if sweep.executor == "inline":
                reports = [_run_inline(sweep, todo, store, keys, wrun)]
            elif sweep.executor == "local":
                reports = _run_local(sweep, packs, store, keys, wrun)
            else:
                jobs = _submit_slurm(sweep, packs)
                write_manifest(sweep, list(keys), [j.job_id for j in jobs])
                console.print(f"submitted {len(jobs)} SLURM jobs ({', '.join(j.job_id for j in jobs[:4])}"
                              f"{', ...' if len(jobs) > 4 else ''})")
                if no_wait:
                    wrun.finish(store, keys, experiment=sweep.experiment)
                    return 0
                _wait_slurm(sweep, jobs, store, keys, on_interrupt, wrun)
                reports = [r for r in (_job_result(j) for j in jobs) if r]
    except KeyboardInterrupt:
        store.consolidate()
        counts = _counts(store, keys)
        wrun.finish(store, keys, experiment=sweep.experiment, interrupted=True)
        raise SweepInterrupted(f"interrupted: {counts['done']}/{len(keys)} cells of sweep {sweep.name} are stored "
                               f"in {sweep.results}; re-issue the same command to continue") from None
    store.consolidate()
    wrun.finish(store, keys, experiment=sweep.experiment)
    counts = _counts(store, keys)
    quarantined = len(store.quarantined())
    print(f"sweep {sweep.name}: {counts['done']}/{len(keys)} cells done, {counts['failed']} failed -> "
          f"{sweep.results}/results.parquet")
    if quarantined:
        print(f"{quarantined} invalid cell file(s) kept in {sweep.results}/quarantine (reasons in *.reason.txt); "
              "their cells were run again or are listed as not done")
    if reports:
        programs, hits = sum(r.get("programs", 0) for r in reports), sum(r.get("cache_hits", 0) for r in reports)
        print(f"compiled {programs} XLA programs in {len(reports)} process(es), {hits} of them read from the "
              f"compilation cache")
    if counts["done"] < len(keys):
        print(f"{len(keys) - counts['done']} cells not done: `ambench status {sweep.results}` lists them; "
              "re-issue the same command to retry")
        return 1
    return 0


def _job_result(job) -> dict | None:
    try:
        return job.result()
    except Exception:  # noqa: BLE001 - a failed or requeued job reports nothing; its cells are in the store
        return None
