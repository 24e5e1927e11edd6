"""`ambench sweep`: dispatch what is missing, show progress, summarise (`status` is in _status).

Re-issuing a sweep is always safe: cells already in the store are never run or submitted again,
and cells that failed are retried. A manifest (sweep.json in the results folder) records the
sweep's cell keys and submitted job ids so that `status` can say what is missing or running.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from ._cells import ROOT, ConfigError, check_available
from ._executors import ABANDONED as ABANDONED, EXECUTORS
from ._plan import plan
from ._progress import Progress, watch
from ._safety import check_trusted
from ._spec import Sweep, load_sweep
from ._status import SLURM_CONFS as SLURM_CONFS, squeue_ids as _squeue_ids, states as _states
from ._status import sweep_status as sweep_status
from ._store import Store, atomic_write_json
from ._wandb import SweepRun

console = Console(stderr=True)


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
                             "jobs": sorted({j for j in old.get("jobs", []) if isinstance(j, str)} | set(jobs or []))
                             if isinstance(old.get("jobs", []), list) else sorted(set(jobs or []))})


def _counts(store: Store, keys: set[str], live_jobs: set[str] | None = None) -> dict[str, int]:
    """Validated counts of `keys` in the store (done, failed, running, stale, queued)."""
    s = _states(store, keys, live_jobs)
    counts = {k: len(v) for k, v in s.items()}
    counts["queued"] = len(keys) - sum(counts.values())
    return counts


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
    keys = {c.key for c in sweep.cells}
    planned = plan(sweep.cells, store)
    run = set(planned.todo(force=force, rerun_outdated=rerun_outdated))
    todo = [c for c in sweep.cells if c.key in run]
    runner = EXECUTORS[sweep.executor](sweep, store, keys, on_interrupt=on_interrupt, say=_say)
    given = f" with {' '.join(sweep.overrides)}" if sweep.overrides else ""
    if not force and (note := planned.changed_note()):  # same key, another question: never counted done
        _say(note)
    if dry_run:
        print(f"sweep {sweep.name} ({sweep.file}{given}): {len(sweep.cells)} cells, {len(sweep.cells) - len(todo)} "
              f"already stored, {len(todo)} to run")
        print(runner.describe(todo))
        print(f"results: {sweep.results}")
        return 0
    check_available(todo)  # the data files of the cells to compute (a stored cell needs none)
    if rerun_outdated and not force:
        _say(f"re-running {len(planned.keys('outdated'))} cells computed by code that has changed since")
    store.check_writable()
    write_manifest(sweep, list(keys))
    _say(f"sweep {sweep.name} ({sweep.file}{given}): {len(keys)} cells, {len(keys) - len(todo)} stored, "
         f"{len(todo)} to run ({sweep.executor})")
    reports: list[dict] = []  # per process: programs compiled (and read from the compilation cache)
    wrun = SweepRun(None, name=sweep.name, config={})  # disabled until started inside the try
    try:
        wrun = SweepRun(sweep.wandb, name=sweep.name, config={
            "sweep": sweep.name, "file": str(sweep.file), "experiment": sweep.experiment,
            "overrides": sweep.overrides, "executor": sweep.executor, "cells": len(keys),
            "results": str(sweep.results)})
        if todo:
            runner.submit(todo)
            if runner.job_ids():
                write_manifest(sweep, list(keys), runner.job_ids())
            if no_wait:
                wrun.finish(store, keys, experiment=sweep.experiment)
                return 0
            progress = Progress(sweep.name, sweep.results, keys, console=console, todo={c.key for c in todo})
            try:
                watch(runner, progress, on_change=lambda: wrun.update(store, keys))
            except KeyboardInterrupt:
                runner.interrupt()
                raise
            finally:  # interrupted too: the last display counts what is stored now
                progress.close(_counts(store, keys, runner_live_jobs(runner)))
            reports = runner.reports()
    except KeyboardInterrupt:
        store.consolidate()
        counts = _counts(store, keys)
        wrun.finish(store, keys, experiment=sweep.experiment, interrupted=True)
        raise SweepInterrupted(f"interrupted: {counts['done']}/{len(keys)} cells of sweep {sweep.name} are stored "
                               f"in {sweep.results}; re-issue the same command to continue") from None
    store.consolidate()
    wrun.finish(store, keys, experiment=sweep.experiment)
    return _summary(sweep, store, keys, reports)


def runner_live_jobs(runner) -> set[str] | None:
    """The SLURM queue for a slurm sweep (its markers belong to jobs), else None (pids decide)."""
    return _squeue_ids() if runner.name == "slurm" else None


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _summary(sweep: Sweep, store: Store, keys: set[str], reports: list[dict]) -> int:
    """The closing lines (stdout); 1 when cells are left undone."""
    counts = _counts(store, keys)
    for key in sorted(store.failed_keys() & keys)[:5]:
        error = (store.failure(key) or {}).get("error", "").splitlines()
        _say(f"cell {key} failed: {error[0] if error else '?'}")
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
