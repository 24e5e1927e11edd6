"""A small grid run inline: what `ambench run` and the demo do (no sweep file)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from ._cells import ConfigError, check_available, expand
from ._plan import plan
from ._run import run_cell
from ._store import Store
from ._wandb import SweepRun

MAX_RUN_CELLS = 10_000  # a bigger grid belongs in a sweep file (resumable, dispatchable)


def run_grid(experiment: str, models: list[str], datasets: list[str], seeds: list[int], grid: dict[str, list],
             out: Path, *, force: bool = False, quiet: bool = False, wandb_settings: dict | None = None,
             max_cells: int = MAX_RUN_CELLS) -> tuple[list[dict], list[bool]]:
    """Expand, skip the cells `plan` finds stored (a stored cell whose parameters differ, i.e.
    a default changed since, runs again and the run says so), run the rest inline with a
    progress bar, consolidate.
    With `wandb_settings` the invocation is one W&B run (a table of its cells, the main metric
    curve), plus one run per cell with `per_cell: True`. Returns the rows and, per row,
    whether it was read from the store."""
    n = len(models) * len(datasets) * len(seeds)
    for values in grid.values():
        n *= len(values)
    if n > max_cells:
        raise ConfigError(f"{n} cells is more than `ambench run` takes ({max_cells}); write a sweep file "
                          "(see sweeps/smoke.yaml) and use `ambench sweep`")
    cells = expand(experiment, models, datasets, seeds, grid)
    store = Store(out)
    planned = plan(cells, store)  # as `sweep` decides (without --rerun-outdated)
    todo, note = set(planned.todo(force=force)), None if force else planned.changed_note()
    check_available([cell for cell in cells if cell.key in todo])  # the data of the cells to compute only
    store.check_writable()
    keys = {cell.key for cell in cells}
    wrun = SweepRun(wandb_settings, name=f"run-{experiment}", config={
        "experiment": experiment, "models": models, "datasets": datasets, "seeds": seeds, "grid": grid,
        "cells": len(cells), "results": str(out)})
    per_cell = wandb_settings if (wandb_settings or {}).get("per_cell") else None
    err = Console(stderr=True)
    if note and not quiet:
        err.print(note, markup=False, highlight=False, soft_wrap=True)
    rows, stored = [], []
    with Progress(console=err, transient=True, disable=quiet) as bar:
        task = bar.add_task(f"{experiment}", total=len(cells))
        for cell in cells:
            if cell.key not in todo:
                rows.append(store.rows_by_key([cell.key])[0])
                stored.append(True)
            else:
                bar.update(task, description=f"{experiment} {cell['model']} {cell['dataset']} seed={cell['seed']}")
                rows.append(run_cell(cell, store, wandb_settings=per_cell,
                                     progress=lambda m: bar.update(task, description=m)))
                stored.append(False)
            bar.advance(task)
            wrun.update(store, keys)
    store.consolidate()
    wrun.finish(store, keys, experiment=experiment)
    return rows, stored
