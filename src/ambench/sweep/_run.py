"""Running cells: one cell with provenance and logging, a pack of cells as one (resumable) job."""

from __future__ import annotations

import ctypes
import functools
import math
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

import submitit

from .. import __version__
from .._resources import checkout
from ._cells import EXPERIMENTS, ROW_FORMAT, Cell, cell_key, is_namespaced
from ._store import Store, atomic_write_json

FORMAT_FILE = "format.json"
_FORMAT_CHECKED: dict[str, bool] = {}


def write_format(root, *, check: bool = True) -> bool:
    """State the row format in `<root>/format.json` (once per folder and process). With `check`,
    a folder that already holds rows of an older format is left without it: `ambench migrate`
    converts them and writes it. Returns whether the folder now states the current format."""
    from pathlib import Path

    root = Path(root)
    path = root / FORMAT_FILE
    if str(path) in _FORMAT_CHECKED:
        return _FORMAT_CHECKED[str(path)]
    if path.exists():
        _FORMAT_CHECKED[str(path)] = True
        return True
    if check:
        import json

        for cell in (root / "cells").glob("*.json"):
            try:
                if not is_namespaced(json.loads(cell.read_text())):
                    _FORMAT_CHECKED[str(path)] = False
                    return False
            except (OSError, ValueError):
                continue
    atomic_write_json(path, {"format": ROW_FORMAT, "rows": "experiment, model, dataset, seed, cell_key; "
                             "<kind>.<parameter> for each parameter that takes part (kind: experiment, model, data); "
                             "metrics; code_<kind>; provenance"})
    _FORMAT_CHECKED[str(path)] = True
    return True


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    root = checkout()  # an installed wheel has no commit (its version is recorded); never a surrounding repository's
    if root is None:
        return "unknown"
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(wall_s: float) -> dict:
    """Where and with which software a cell ran: the columns `_facts.RUN_PROVENANCE` names."""
    import jax

    from ..timing import device_name

    return {"ambench_version": __version__, "git_commit": git_commit(), "jax_version": jax.__version__,
            "device": device_name(), "wall_s": wall_s}


def log_to_wandb(cell: Cell, key: str, metrics: dict, settings: dict | None) -> None:
    """Log one cell to W&B; any failure is reported and swallowed (the store is the truth)."""
    if not settings or settings.get("mode", "disabled") == "disabled":
        return
    try:
        import wandb

        run = wandb.init(project=settings.get("project", "ambench"), entity=settings.get("entity") or None,
                         group=settings.get("group"), name=key, mode=settings["mode"],
                         config={"experiment": cell["experiment"], "model": cell["model"], "dataset": cell["dataset"],
                                 "seed": cell["seed"], **cell.row_params()},
                         dir=settings.get("dir"), reinit="create_new",
                         settings=wandb.Settings(silent=True, init_timeout=settings.get("timeout", 30)))
        trace = metrics.get("_energy_trace") or []
        for step, energy in enumerate(trace):
            run.log({"energy": energy, "step": step})
        run.log({k: v for k, v in metrics.items() if not k.startswith("_")})
        run.finish()
    except Exception as err:  # noqa: BLE001 - W&B must never fail a cell
        print(f"warning: W&B logging failed for cell {key}: {type(err).__name__}: {err}", flush=True)


def run_cell(cell: Cell, store: Store, *, wandb_settings: dict | None = None, progress=lambda m: None) -> dict:
    """Measure one cell and store its row. Errors are stored as failures and re-raised."""
    key = cell_key(cell)
    store.mark_running(key, cell)
    t0 = time.perf_counter()
    try:
        metrics = EXPERIMENTS[cell["experiment"]].run(cell, progress)
    except Exception as err:
        store.write_failure(key, cell, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=5)}")
        raise
    except BaseException:  # Ctrl-C: the cell is not running any more, nor failed: it is missing
        store.clear_running(key)
        raise
    return store_row(cell, metrics, store, time.perf_counter() - t0, wandb_settings)


def store_row(cell: Cell, metrics: dict, store: Store, wall: float, wandb_settings: dict | None = None) -> dict:
    """The stored row (format 2, see `_cells.ROW_FORMAT`): identity, each component's parameters
    that take part as `<kind>.<name>` (defaults and resolved `auto`s included), the metrics, the
    code version of each component, and provenance."""
    key = cell_key(cell)
    clash = sorted(set(metrics) & set(cell))
    if clash:  # a metric must never overwrite the configuration it was measured under
        raise RuntimeError(f"experiment {cell['experiment']} returns metrics named like parameters: {clash}")
    row = {"experiment": cell["experiment"], "model": cell["model"], "dataset": cell["dataset"],
           "seed": cell["seed"], "cell_key": key, **cell.row_params(),
           **{k: v for k, v in metrics.items() if not k.startswith("_")}, **cell.versions, **provenance(wall)}
    store.write_result(key, row)
    write_format(store.root)
    log_to_wandb(cell, key, metrics, wandb_settings)
    return row


def batching_default() -> bool:
    """Grouped (vmapped) execution: on for accelerators, off on a CPU, where it measured slower
    than cell by cell (`ambench bench`, 900-cell noise sweep on mnist-5k, 2 cores: 107 s vs
    77 s). AMBENCH_BATCHED=1 or 0 overrides."""
    env = os.environ.get("AMBENCH_BATCHED", "").strip().lower()
    if env:
        if env not in ("1", "true", "yes", "0", "false", "no"):
            raise ValueError(f"AMBENCH_BATCHED must be 1 or 0 (true/false), got {env!r}; unset it for the default")
        return env in ("1", "true", "yes")
    import jax

    return jax.default_backend() != "cpu"


LIVE_PROGRAMS = 200  # compiled programs a process keeps before it drops them (`ProgramBound`)


class ProgramBound:
    """Keeps the compiled programs a process holds bounded. Each loaded XLA CPU executable keeps
    its own memory maps (about 9 for a tiny program, ~29 for a capacity cell's) for as long as a
    jit cache holds it, and JAX's caches hold up to thousands per function: F9's capacity
    searches compile a program per (N, K bucket), and the process died with LLVM "Cannot
    allocate memory" at Linux's default vm.max_map_count (65,530) after ~600 of them. After a
    cell, once `limit` programs were compiled (or read from the disk cache) since the last
    drop, `jax.clear_caches()` drops them all; a later cell needing one again reads it back from
    the persistent compilation cache (`compile_cache`), so results are unchanged."""

    def __init__(self, limit: int = LIVE_PROGRAMS):
        from ..timing import compilations

        if limit < 1:
            raise ValueError(f"the bound on live compiled programs must be >= 1, got {limit}")
        self.limit, self.clears, self._since = limit, 0, compilations()

    def live(self) -> int:
        """Programs compiled since the last drop: an upper bound of those still held."""
        from ..timing import compilations

        return compilations() - self._since

    def check(self) -> None:
        """Between cells: drop every compiled program once `limit` of them may be held."""
        if self.live() >= self.limit:
            import jax

            from ..timing import compilations

            jax.clear_caches()
            self.clears += 1
            self._since = compilations()


def run_cells(cells: list[Cell], store: Store, *, wandb_settings: dict | None = None, chunk: int = 64,
              batched: bool | None = None, progress=lambda m: None, on_done=lambda: None,
              stop=lambda: False, bound: ProgramBound | None = None) -> tuple[int, int]:
    """Run cells, grouped where the experiment offers `run_many` and `batched` (default:
    `batching_default()`), in chunks of `chunk` each stored as soon as it finishes; one by one
    otherwise. A failing chunk is re-run cell by cell so that each failure is recorded with its
    own error. `stop()` is asked before each chunk or cell: True ends the run there (an
    interrupted sweep). `bound` (default: `LIVE_PROGRAMS`) caps the compiled programs kept
    alive between cells. Returns (done, failed)."""
    batched = batching_default() if batched is None else batched
    bound = ProgramBound() if bound is None else bound
    done = failed = 0
    by_experiment: dict[str, list[dict]] = {}
    for c in cells:
        by_experiment.setdefault(c["experiment"], []).append(c)
    for name, cells_of in by_experiment.items():
        spec = EXPERIMENTS[name]
        for part in _parts(spec, cells_of, batched, chunk):
            if stop():
                return done, failed
            if len(part) > 1 and _run_group(spec, part, store, wandb_settings, progress):
                done += len(part)
                on_done()
                bound.check()
                continue
            for c in part:
                if stop():
                    return done, failed
                try:
                    run_cell(c, store, wandb_settings=wandb_settings, progress=progress)
                    done += 1
                except Exception:  # noqa: BLE001 - stored as failed, retried on the next issue
                    failed += 1
                on_done()
                bound.check()
    return done, failed


def _parts(spec, cells: list[Cell], batched: bool, chunk: int) -> list[list[Cell]]:
    """Chunks of cells the experiment can run as one group (`run_many`, `groupable`), then
    single cells."""
    groupable = spec.groupable or (lambda cell: True)
    can = batched and spec.run_many is not None
    together = [c for c in cells if can and groupable(c)]
    alone = [c for c in cells if not (can and groupable(c))]
    return [together[i:i + chunk] for i in range(0, len(together), chunk)] + [[c] for c in alone]


def _run_group(spec, part: list[Cell], store: Store, wandb_settings: dict | None, progress) -> bool:
    """Run `part` as one group and store each row; False when it raised (the caller re-runs it
    cell by cell to record each cell's own error)."""
    for c in part:
        store.mark_running(cell_key(c), c)
    t0 = time.perf_counter()
    try:
        outs = spec.run_many(part, progress)
    except Exception:  # noqa: BLE001 - fall back to single cells to record each error
        return False
    except BaseException:  # Ctrl-C, a job's timeout signal: no marker of this part outlives it
        for c in part:
            store.clear_running(cell_key(c))
        raise
    wall = (time.perf_counter() - t0) / len(part)
    for c, m in zip(part, outs):
        store_row(c, m, store, wall, wandb_settings)
    return True


def die_with_parent(poll_s: float = 0.2) -> None:
    """Initializer of local worker processes: end this worker when the driver that spawned it
    is gone (a `kill -9` of `ambench sweep` would otherwise leave workers running their packs,
    racing the re-issued sweep). On Linux, PR_SET_PDEATHSIG has the kernel send SIGKILL the
    moment the parent ends (ProcessPoolExecutor spawns workers from the thread that submits,
    which lives as long as the pool); everywhere, a daemon thread also polls os.getppid(),
    which changes when the worker is re-parented."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(3)  # no cleanup: cells are stored atomically, a marker left behind reads as stale
            time.sleep(poll_s)

    threading.Thread(target=watch, name="ambench-die-with-parent", daemon=True).start()


class CellPack(submitit.helpers.Checkpointable):
    """One job: run every cell of the pack that is not stored yet. On preemption or timeout
    submitit calls `checkpoint`, which resubmits the same pack; finished cells are in the store,
    so the requeued job resumes after the last finished cell."""

    def __call__(self, cells: list[Cell], root: str, wandb_settings: dict | None = None,
                 batched: bool | None = None, since: float | None = None) -> dict:
        from ..compile_cache import enable
        from ..timing import cache_hits, compilations

        enable()  # a requeued or later job reuses what earlier jobs compiled on this host
        store = Store(root)
        # every cell of a pack was to run when it was submitted (`since`), re-runs of stored cells
        # (--force, --rerun-outdated) included; a requeued job skips what was stored after that
        todo = [c for c in cells if not store.has(cell_key(c))
                or since is not None and (store.stored_at(cell_key(c)) or 0.0) < since]
        programs, hits = compilations(), cache_hits()
        done, failed = run_cells(todo, store, wandb_settings=wandb_settings, chunk=8, batched=batched)
        return {"done": done + len(cells) - len(todo), "failed": failed, "pid": os.getpid(),
                "programs": compilations() - programs, "cache_hits": cache_hits() - hits}


def pack(cells: list[Cell], cells_per_job: int) -> list[list[Cell]]:
    """Group cells that share compiled shapes, then cut into packs of at most `cells_per_job`."""
    shape_keys = ("experiment", "model", "dataset", "n_memories", "dim", "encoding", "n_queries")
    ordered = sorted(cells, key=lambda c: tuple(str(c.get(k)) for k in shape_keys) + (c["seed"],))
    n_jobs = max(1, math.ceil(len(ordered) / max(1, cells_per_job)))
    size = math.ceil(len(ordered) / n_jobs) if ordered else 0
    return [ordered[i:i + size] for i in range(0, len(ordered), size)] if ordered else []
