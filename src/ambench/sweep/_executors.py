"""Where a sweep's cells run: inline (a thread of this process), local (a pool of processes),
slurm (job arrays). One calling convention, so the driver has one loop (`_progress.watch`):

    ex = EXECUTORS[sweep.executor](sweep, store, keys)
    ex.submit(todo)                 # start; returns at once
    while not ex.wait(ex.poll_s):   # True once every cell was attempted
        ...                         # count and show progress
    ex.reports()                    # per process: programs compiled, cache hits
    ex.interrupt()                  # on Ctrl-C instead: stop, clear this run's markers

Cells are stored atomically by whoever computes them, so a kill loses at most the cells being
computed; a stored cell is never run again by a re-issued sweep (`_plan`).
"""

from __future__ import annotations

import abc
import concurrent.futures
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

from ._run import CellPack, die_with_parent, pack, run_cells
from ._safety import private_folder
from ._spec import Sweep, load_profile, submitit_parameters
from ._store import HOST, Store

ABANDONED: list[threading.Event] = []  # set when a cell thread left computing after Ctrl-C ends


def clear_markers(store: Store, keys: set[str], pids: set[int]) -> None:
    """Running markers of these processes (on this host) removed: their cells are missing."""
    for key, info in store.running().items():
        if key in keys and info.get("host") == HOST and info.get("pid") in pids:
            store.clear_running(key)


def cell_settings(sweep: Sweep) -> dict | None:
    """W&B settings for the processes that run cells: only with `wandb: {per_cell: true}`
    (the sweep's own run lives in the driver, `_wandb.SweepRun`)."""
    return sweep.wandb if sweep.wandb.get("per_cell") else None


class Executor(abc.ABC):
    """Runs a sweep's cells; each final subclass sets `name` and `poll_s` and fills the
    abstract methods."""

    name = ""
    poll_s = 1.0

    def __init__(self, sweep: Sweep, store: Store, keys: set[str], *, on_interrupt: str = "ask", say=print):
        self.sweep, self.store, self.keys, self.on_interrupt, self.say = sweep, store, keys, on_interrupt, say

    @abc.abstractmethod
    def packs(self, todo: list) -> list[list]:
        """`todo` cut into the jobs this executor runs."""

    def describe(self, todo: list) -> str:
        """What `--dry-run` prints about the jobs."""
        sizes = Counter(len(p) for p in self.packs(todo))
        shown = ", ".join(f"{n} of {size} cell{'s' * (size != 1)}" for size, n in sorted(sizes.items()))
        return f"{self.name}: {sum(sizes.values())} job(s){': ' + shown if shown else ''}"

    @abc.abstractmethod
    def submit(self, todo: list) -> None:
        """Start running `todo`; returns at once."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds; True once every submitted cell was attempted."""

    @abc.abstractmethod
    def interrupt(self) -> None:
        """Ctrl-C: stop what runs (or ask whether to), clear this run's markers."""

    @abc.abstractmethod
    def reports(self) -> list[dict]:
        """Per process that ran cells: programs compiled and compilation-cache hits."""

    def job_ids(self) -> list[str]:
        """Ids of submitted jobs that outlive this process (recorded in the manifest for `status`)."""
        return []


class Inline(Executor):
    """Cells run in a thread while the main thread shows progress and waits: Ctrl-C lands there
    at once even when the cell thread is inside one long XLA computation, which Python cannot
    interrupt (measured: SIGINT 15 s into 30 s cells ended the process at 42.7 s). The thread
    stops before its next cell; if it is still computing half a second later it is left behind
    (its marker removed) and `cli.main` ends the process without waiting for it."""

    name = "inline"

    def packs(self, todo):
        return [[c] for c in todo]

    def submit(self, todo):
        from ..timing import cache_hits, compilations

        self._stop, self._finished, self._outcome = threading.Event(), threading.Event(), {}
        programs, hits = compilations(), cache_hits()

        def work():
            try:
                run_cells(todo, self.store, wandb_settings=cell_settings(self.sweep), batched=self.sweep.batched,
                          stop=self._stop.is_set)
            except BaseException as err:  # noqa: BLE001 - handed to the main thread, which re-raises it
                self._outcome["error"] = err
            finally:
                self._outcome["report"] = {"programs": compilations() - programs, "cache_hits": cache_hits() - hits}
                self._finished.set()

        threading.Thread(target=work, name="ambench-cells", daemon=True).start()

    def wait(self, timeout):  # not thread.join: an interrupted join can mark a live thread dead
        return self._finished.wait(timeout)

    def interrupt(self):
        self._stop.set()
        if not self._finished.wait(0.5):
            ABANDONED.append(self._finished)
        clear_markers(self.store, self.keys, {os.getpid()})

    def reports(self):
        if "error" in self._outcome:
            raise self._outcome["error"]
        return [self._outcome["report"]]


class Local(Executor):
    """Packs of cells in `workers` spawned processes (JAX is not fork-safe), each ended when the
    driver ends (`die_with_parent`)."""

    name = "local"
    poll_s = 0.5

    def packs(self, todo):
        return pack(todo, math.ceil(len(todo) / max(1, self.sweep.workers)))

    def submit(self, todo):
        ctx = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=self.sweep.workers, mp_context=ctx, initializer=die_with_parent)
        since = time.time()
        self.futures = [self.pool.submit(CellPack(), p, str(self.sweep.results), cell_settings(self.sweep),
                                         self.sweep.batched, since) for p in self.packs(todo)]

    def wait(self, timeout):
        return not concurrent.futures.wait(self.futures, timeout=timeout).not_done

    def interrupt(self):
        """SIGKILL the workers (a SIGINT sent to the driver alone would leave them running their
        packs, and pool shutdown would wait for them), then clear their markers."""
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        for proc in procs:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, TypeError):
                pass
        for proc in procs:
            proc.join(2.0)
        self.pool.shutdown(wait=False, cancel_futures=True)
        clear_markers(self.store, self.keys, {proc.pid for proc in procs})

    def reports(self):
        self.pool.shutdown()
        return [f.result() for f in self.futures if f.exception() is None]


class Slurm(Executor):
    """Job arrays through submitit, `cells_per_job` cells a job, split where the profile's
    `max_array_size` says. Ctrl-C asks (or `on_interrupt` says) whether to cancel the jobs."""

    name = "slurm"
    poll_s = 2.0

    def packs(self, todo):
        return pack(todo, self.sweep.cells_per_job)

    def describe(self, todo):
        packs = self.packs(todo)
        limit = load_profile(self.sweep.profile).max_array_size or 1000
        arrays = math.ceil(len(packs) / limit) if packs else 0
        return (f"slurm: {len(packs)} jobs of <= {self.sweep.cells_per_job} cells in {arrays} job array(s) "
                f"(profile {self.sweep.profile})")

    def submit(self, todo):
        self.jobs = submit_slurm(self.sweep, self.packs(todo))
        self.say(f"submitted {len(self.jobs)} SLURM jobs ({', '.join(j.job_id for j in self.jobs[:4])}"
                 f"{', ...' if len(self.jobs) > 4 else ''})")

    def wait(self, timeout):
        if all(j.done() for j in self.jobs):
            return True
        time.sleep(timeout)
        return False

    def interrupt(self):
        answer = self.on_interrupt
        if answer == "ask":
            answer = "leave"
            if sys.stdin.isatty():
                reply = input(f"\ncancel the {len(self.jobs)} submitted jobs? [y/N] ").strip().lower()
                answer = "cancel" if reply in ("y", "yes") else "leave"
        if answer == "cancel":
            for j in self.jobs:
                j.cancel(check=False)
            self.say("cancelled the jobs; finished cells are stored. Re-issue the command to continue.")
        else:
            self.say("left the jobs running; `ambench status` follows them, re-issuing is safe.")

    def reports(self):
        return [r for r in (_job_result(j) for j in self.jobs) if r]

    def job_ids(self):
        return [j.job_id for j in self.jobs]


def submit_slurm(sweep: Sweep, packs: list[list]) -> list:
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
                                   [cell_settings(sweep)] * len(chunk),
                                   [sweep.batched] * len(chunk), [time.time()] * len(chunk))
    return jobs


def _job_result(job) -> dict | None:
    try:
        return job.result()
    except Exception:  # noqa: BLE001 - a failed or requeued job reports nothing; its cells are in the store
        return None


EXECUTORS: dict[str, type[Executor]] = {e.name: e for e in (Inline, Local, Slurm)}
