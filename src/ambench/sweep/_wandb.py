"""One W&B run per sweep: progress as cells are stored, then a table of the cells and plots.

The run lives in the process that dispatches (the driver), whatever the executor: it reads the
store, which every executor writes, so inline, local and SLURM sweeps log the same way and a
sweep of 10,000 cells is one run, not 10,000. `wandb: {per_cell: true}` keeps one run per cell
as well (logged where the cell runs, `_run.log_to_wandb`). W&B never fails a sweep: an error is
one warning line and the run is dropped.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

from .._facts import IDENTITY
from ._store import Store


def _scalar(value):
    """A table cell: numbers, strings and booleans as they are, anything else as JSON text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return json.dumps(value, sort_keys=True, default=str)


def cells_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    """Columns (identity first, then in order of first appearance) and one row per cell;
    metrics starting with `_` (traces) are left out."""
    columns: list[str] = [c for c in IDENTITY if any(c in r for r in rows)]
    seen = set(columns)
    for r in rows:
        for k in r:
            if k not in seen and not k.startswith("_"):
                seen.add(k)
                columns.append(k)
    return columns, [[_scalar(r.get(c)) for c in columns] for r in rows]


def _flat(row: dict) -> dict:
    """A stored row with `<kind>.<name>` read as `name` (names are unique within a cell)."""
    out = dict(row)
    for k, v in row.items():
        head, dot, name = k.partition(".")
        if dot and head in ("experiment", "model", "data"):
            out.setdefault(name, v)
    return out


def metric_curves(rows: list[dict], metric: str, x: str, params: tuple[str, ...] = ()) -> tuple[list, list[list], list[str]]:
    """The mean over seeds of `metric` at each value of `x`, one curve per configuration. A
    curve's name carries only what varies: the model, the dataset when several, and each
    parameter of `params` that varies within that model's rows, in its declared words
    ("dam-softmax, β = 10"; chn's name has no β). No swept parameter is averaged over.
    (xs, ys per curve, curve names); only numeric x and metric values count; a curve has a
    point (None where it lacks one) at every x."""
    from ..params import value_label

    rows = [_flat(r) for r in rows]
    series: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    datasets = {r.get("dataset") for r in rows}
    by_model: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_model[r.get("model")].append(r)
    varying = {m: [k for k in params if k != x and len({json.dumps(r.get(k), default=str) for r in rs}) > 1]
               for m, rs in by_model.items()}
    for r in rows:
        xv, yv = r.get(x), r.get(metric)
        if isinstance(xv, bool) or isinstance(yv, bool) or not isinstance(xv, (int, float)) \
                or not isinstance(yv, (int, float)) or not math.isfinite(yv):
            continue
        name = r["model"] if len(datasets) == 1 else f"{r['model']} / {r['dataset']}"
        name = ", ".join([name, *(value_label(k, _shown(r.get(k))) for k in varying[r.get("model")]
                                  if r.get(k) is not None)])
        series[name][xv].append(yv)
    xs = sorted({xv for s in series.values() for xv in s})
    names = sorted(series)
    ys = [[sum(series[n][xv]) / len(series[n][xv]) if series[n].get(xv) else None for xv in xs] for n in names]
    return xs, ys, names


def _shown(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


class SweepRun:
    """The W&B run of one sweep. `update` logs how many cells are stored (called as cells
    complete), `finish` logs the cells table, the main metric against the experiment's x axis,
    a summary, and closes the run. With mode disabled every method does nothing."""

    def __init__(self, settings: dict | None, *, name: str, config: dict):
        self.settings = settings or {}
        self.run = None
        self.logged: set[str] = set()
        if self.settings.get("mode", "disabled") == "disabled":
            return
        self._guard("start", lambda: self._init(name, config))

    def _init(self, name: str, config: dict) -> None:
        import wandb

        s = self.settings
        self.run = wandb.init(project=s.get("project") or "ambench", entity=s.get("entity") or None,
                              group=s.get("group"), name=name, job_type="sweep", config=config, mode=s["mode"],
                              dir=s.get("dir"), reinit="create_new",
                              settings=wandb.Settings(silent=True, init_timeout=s.get("timeout", 30)))

    def _guard(self, what: str, fn) -> None:
        try:
            fn()
        except Exception as err:  # noqa: BLE001 - W&B must never fail a sweep
            print(f"warning: W&B {what} failed; the cells run on and are stored without it: {type(err).__name__}: {err}",
                  flush=True)
            self.run = None

    def update(self, store: Store, keys: set[str]) -> None:
        if self.run is None:
            return
        done = store.done_keys() & keys
        if done - self.logged:
            self.logged |= done
            self._guard("logging", lambda: self.run.log({"cells_stored": len(done), "cells": len(keys)}))

    def finish(self, store: Store, keys: set[str], *, experiment: str, interrupted: bool = False) -> None:
        if self.run is None:
            return
        self._guard("finish", lambda: self._finish(store, keys, experiment, interrupted))
        self.run = None

    def _finish(self, store: Store, keys: set[str], experiment: str, interrupted: bool) -> None:
        import wandb

        from ._cells import EXPERIMENTS, parameter_names

        rows = store.rows_by_key(sorted(store.done_keys() & keys))
        columns, data = cells_table(rows)
        logged = {"cells_table": wandb.Table(columns=columns, data=data)}
        spec = EXPERIMENTS[experiment]
        from ..params import label

        xs, ys, names = metric_curves(rows, spec.main_metric, spec.x_axis, tuple(sorted(parameter_names())))
        if xs and names:
            logged[f"{spec.main_metric}_vs_{spec.x_axis}"] = wandb.plot.line_series(
                xs=xs, ys=ys, keys=names, title=f"{experiment}: {label(spec.main_metric)} vs {label(spec.x_axis)} "
                                                 "(mean over seeds, one line per configuration)",
                xname=label(spec.x_axis))
        self.run.log(logged)
        failed = len(store.failed_keys() & keys)
        self.run.summary.update({"cells": len(keys), "cells_stored": len(rows), "cells_failed": failed,
                                 "interrupted": interrupted})
        self.run.finish()
