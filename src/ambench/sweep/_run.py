"""Running cells: one cell with provenance and logging, a pack of cells as one (resumable) job."""

from __future__ import annotations

import functools
import math
import os
import subprocess
import time
import traceback

import submitit

from .. import __version__
from ._cells import ROOT, cell_key, experiment_source_hash, load_experiment
from ._store import Store


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(wall_s: float) -> dict:
    import jax

    from ..timing import device_name

    return {"ambench_version": __version__, "git_commit": git_commit(), "jax_version": jax.__version__,
            "device": device_name(), "wall_s": wall_s}


def log_to_wandb(cell: dict, key: str, metrics: dict, settings: dict | None) -> None:
    """Log one cell to W&B; any failure is reported and swallowed (the store is the truth)."""
    if not settings or settings.get("mode", "disabled") == "disabled":
        return
    try:
        import wandb

        run = wandb.init(project=settings.get("project", "ambench"), entity=settings.get("entity") or None,
                         group=settings.get("group"), name=key, config=cell, mode=settings["mode"],
                         dir=settings.get("dir"), reinit="finish_previous",
                         settings=wandb.Settings(silent=True, init_timeout=settings.get("timeout", 30)))
        trace = metrics.get("_energy_trace") or []
        for step, energy in enumerate(trace):
            run.log({"energy": energy, "step": step})
        run.log({k: v for k, v in metrics.items() if not k.startswith("_")})
        run.finish()
    except Exception as err:  # noqa: BLE001 - W&B must never fail a cell
        print(f"warning: W&B logging failed for cell {key}: {type(err).__name__}: {err}", flush=True)


def run_cell(cell: dict, store: Store, *, wandb_settings: dict | None = None, progress=lambda m: None) -> dict:
    """Measure one cell and store its row. Errors are stored as failures and re-raised."""
    key = cell_key(cell)
    store.mark_running(key, cell)
    t0 = time.perf_counter()
    try:
        metrics = load_experiment(cell["experiment"]).run(cell, progress)
    except Exception as err:
        store.write_failure(key, cell, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=5)}")
        raise
    wall = time.perf_counter() - t0
    clash = sorted(set(metrics) & set(cell))
    if clash:  # a metric must never overwrite the configuration it was measured under
        raise RuntimeError(f"experiment {cell['experiment']} returns metrics named like parameters: {clash}")
    row = {**cell, "cell_key": key, **{k: v for k, v in metrics.items() if not k.startswith("_")},
           "experiment_code": experiment_source_hash(cell["experiment"]), **provenance(wall)}
    store.write_result(key, row)
    log_to_wandb(cell, key, metrics, wandb_settings)
    return row


class CellPack(submitit.helpers.Checkpointable):
    """One job: run every cell of the pack that is not stored yet. On preemption or timeout
    submitit calls `checkpoint`, which resubmits the same pack; finished cells are in the store,
    so the requeued job resumes after the last finished cell."""

    def __call__(self, cells: list[dict], root: str, wandb_settings: dict | None = None) -> dict:
        store = Store(root)
        done = failed = 0
        for cell in cells:
            if store.has(cell_key(cell)):
                done += 1
                continue
            try:
                run_cell(cell, store, wandb_settings=wandb_settings)
                done += 1
            except Exception:  # noqa: BLE001 - recorded in the store, retried on the next issue
                failed += 1
        return {"done": done, "failed": failed, "pid": os.getpid()}


def pack(cells: list[dict], cells_per_job: int) -> list[list[dict]]:
    """Group cells that share compiled shapes, then cut into packs of at most `cells_per_job`."""
    shape_keys = ("experiment", "model", "dataset", "n_memories", "dim", "encoding", "n_queries")
    ordered = sorted(cells, key=lambda c: tuple(str(c.get(k)) for k in shape_keys) + (c["seed"],))
    n_jobs = max(1, math.ceil(len(ordered) / max(1, cells_per_job)))
    size = math.ceil(len(ordered) / n_jobs) if ordered else 0
    return [ordered[i:i + size] for i in range(0, len(ordered), size)] if ordered else []
