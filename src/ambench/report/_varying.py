"""What varied in a stored experiment, and how to draw it: the pandas side of the report.

From the rows alone: which parameters vary (within the experiment and within each dataset),
which only follow others (a model's own β is fixed by the model), which are constant; the
experiment's main metric, x axis, metric range and optional theory hook; one series per
distinct configuration of the varying parameters (never averaged over a swept parameter), laid
out as hue, style, facet columns, facet rows, then separate figures; seed statistics with
Student-t intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ._tables import config_columns, metric_columns, t_halfwidth

MAX_HUES, MAX_STYLES, MAX_LINES, MAX_GRID = 8, 4, 12, 4  # readable limits per panel and figure


@dataclass(frozen=True)
class Spec:
    """What an experiment declares about its report: main metric, x axis, metric range, theory."""
    experiment: str
    metric: str | None
    x: str | None
    metric_range: tuple[float | int, float | int] | None
    theory: Callable[[pd.DataFrame], dict] | None = None


def _spec(experiment: str):
    """The registered experiment, or None (unknown or broken: the stored rows still make a report)."""
    try:
        from ..sweep import EXPERIMENTS

        return EXPERIMENTS[experiment]
    except Exception:  # noqa: BLE001
        return None


def metric_range(metric: str, declared=None) -> tuple[float | int, float | int] | None:
    """The declared range, else [0, 1] for rates (`*_rate`, `rate`, `accuracy`), else none."""
    if declared is not None:
        return tuple(declared)
    return (0.0, 1.0) if metric and (metric.endswith("_rate") or metric in ("rate", "accuracy")) else None


def experiment_spec(experiment: str, sub: pd.DataFrame | None = None) -> Spec:
    """The experiment's main_metric, x_axis (or its `report_axes(rows)` hook), metric_range and
    theory (`ambench.Experiment`); with rows, a metric or axis they lack (an experiment no longer here) falls back to
    the first metric / the varying numeric parameter with most values."""
    spec = _spec(experiment)
    metric, x = (spec.main_metric, spec.x_axis) if spec is not None else (None, None)
    if sub is not None and spec is not None and spec.report_axes is not None:
        metric, x = spec.report_axes(sub)
    if sub is not None:
        metrics = [m for m in metric_columns(sub) if sub[m].notna().any()]
        if metric not in metrics:
            metric = metrics[0] if metrics else None
        if x not in sub or sub[x].nunique() < 2:
            numeric = [c for c in config_columns(sub) if pd.api.types.is_numeric_dtype(sub[c])
                       and not pd.api.types.is_bool_dtype(sub[c]) and sub[c].nunique() >= 2]
            x = max(numeric, key=lambda c: sub[c].nunique()) if numeric else None
    theory = spec.theory if spec is not None else None
    return Spec(experiment, metric, x, metric_range(metric, spec.metric_range if spec is not None else None), theory)


def _distinct(df: pd.DataFrame, cols: list[str]) -> int:
    return len(df[cols].drop_duplicates()) if cols else 1


@dataclass
class Varying:
    """The parameters of one experiment's rows, by role."""
    dims: list[str]  # varying, each one a dimension of the series (model first, dataset last)
    x: str | None  # the declared x axis when it varies
    follows: dict[str, list[str]] = field(default_factory=dict)  # determined by the others
    constant: dict[str, object] = field(default_factory=dict)
    per_dataset: dict[str, list[str]] = field(default_factory=dict)  # where datasets differ

    @property
    def parameters(self) -> list[str]:
        """Every varying column: series dimensions, x, then those that follow."""
        return self.dims + ([self.x] if self.x else []) + list(self.follows)


def _order(sub: pd.DataFrame, cols: list[str]) -> list[str]:
    """Model first, dataset last, the rest with complete columns before model-specific ones
    (those hold NaN for other models), more values first."""
    rest = [c for c in cols if c not in ("model", "dataset")]
    rest.sort(key=lambda c: (sub[c].isna().any(), -sub[c].nunique(dropna=False), c))
    return [c for c in ["model"] if c in cols] + rest + [c for c in ["dataset"] if c in cols]


def find_varying(sub: pd.DataFrame, x: str | None) -> Varying:
    """Split one experiment's configuration columns into series dimensions, the x axis, those
    that follow the others (a function of them, e.g. a model's own β; or a number in one-to-one
    correspondence with x, e.g. load = K/N) and constants (with their value). A category paired
    with x values (a criterion with its own K) stays a series dimension."""
    config = [c for c in ["model", "dataset"] + config_columns(sub) if c in sub and _hashable(sub[c])]
    varying = [c for c in dict.fromkeys(config) if sub[c].nunique(dropna=False) > 1]
    constant = {c: _value(sub[c].dropna().iloc[0]) for c in dict.fromkeys(config)
                if c not in varying and sub[c].notna().any()}
    x = x if x in varying else None
    dims = _order(sub, [c for c in varying if c != x])
    follows = {}
    for d in reversed(list(dims)):  # the least telling go first; model and dataset always show
        if d in ("model", "dataset"):
            continue
        others = [c for c in dims if c != d]
        if not sub[d].isna().any():  # a complete column never follows a model's own setting's gaps
            others = [c for c in others if c in ("model", "dataset") or not sub[c].isna().any()]
        if _distinct(sub, others) == _distinct(sub, others + [d]):
            follows[d] = others
            dims.remove(d)
        elif x is not None and pd.api.types.is_numeric_dtype(sub[d]) and _relabels_x(sub, others, d, x):
            follows[d] = [x]
            dims.remove(d)
    for d, by in follows.items():  # name only what it really follows: one column when one does
        single = [c for c in by if c != x and _distinct(sub, [c]) == _distinct(sub, [c, d])]
        follows[d] = single[:1] or [c for c in by if c in dims or c == x] or by
    per_dataset = {}
    if "dataset" in sub and sub["dataset"].nunique() > 1:
        for name, part in sub.groupby("dataset"):
            here = [c for c in varying if c != "dataset" and part[c].nunique(dropna=False) > 1]
            if set(here) != set(varying) - {"dataset"}:
                per_dataset[str(name)] = here
    return Varying(dims, x, dict(reversed(follows.items())), constant, per_dataset)


def _relabels_x(sub, others, d, x) -> bool:
    """d and x in one-to-one correspondence within every group of the other dimensions."""
    for _, g in (sub.groupby(others, dropna=False) if others else [(None, sub)]):
        pairs = _distinct(g, [d, x])
        if not pairs == g[d].nunique(dropna=False) == g[x].nunique(dropna=False):
            return False
    return True


def _hashable(col: pd.Series) -> bool:
    return not col.map(lambda v: isinstance(v, (list, tuple, dict, np.ndarray))).any()


def _value(v):
    return v.item() if isinstance(v, np.generic) else v


def fmt(v) -> str:
    """A parameter value for people: n/a for missing, integers without .0, 4 significant digits."""
    v = _value(v)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    return str(v)


def sorted_values(col: pd.Series) -> list:
    """Distinct values in a stable, natural order (numbers numerically, missing last)."""
    values = list(pd.unique(col))
    present = [v for v in values if not (v is None or (isinstance(v, float) and math.isnan(v)))]
    missing = [v for v in values if v not in present]
    try:
        present.sort()
    except TypeError:
        present.sort(key=str)
    return present + missing[:1]


@dataclass
class Layout:
    """Which dimension each visual channel shows; `figures` are drawn as separate figures."""
    hue: str | None = None
    style: str | None = None
    col: str | None = None
    row: str | None = None
    figures: list[str] = field(default_factory=list)
    wrap: int | None = None  # facet columns per line when `col` is the only facet dimension
    order: dict[str, list] = field(default_factory=dict)  # a channel's values in this order (series)


CHANNELS = ("hue", "style", "col", "row")


def plan_layout(sub: pd.DataFrame, dims: list[str], fixed: dict[str, str] | None = None) -> Layout:
    """hue (≤ 8 values), then style (≤ 4, ≤ 12 lines a panel), then facet columns, then facet
    rows (grid ≤ 4 × 4), then separate figures; a facet column past 4 values wraps. `fixed`
    channels ({"hue": "model", "col": "dataset"}) are the reader's choice; the others are planned."""
    fixed = dict(fixed or {})  # a channel given as None stays empty
    n = {d: sub[d].nunique(dropna=False) for d in dims}
    rest, lay = [d for d in dims if d not in fixed.values()], Layout(**{k: v for k, v in fixed.items() if v})
    if fixed:
        if "hue" not in fixed:
            lay.hue = next((d for d in rest if n[d] <= MAX_HUES), None)
            rest = [d for d in rest if d != lay.hue]
        if "style" not in fixed:
            lay.style = next((d for d in rest if n[d] <= MAX_STYLES), None)
            rest = [d for d in rest if d != lay.style]
        if not lay.col and rest:
            lay.col = rest.pop(0)
        if not lay.row and rest and (not lay.col or n.get(lay.col, 1) <= MAX_GRID):
            lay.row = next((d for d in rest if n[d] <= MAX_GRID), None)
            rest = [d for d in rest if d != lay.row]
        lay.figures = rest
        if lay.col and not lay.row and n.get(lay.col, 1) > MAX_GRID:
            lay.wrap = MAX_GRID
        return lay

    def take(ok):
        for d in rest:
            if ok(d):
                rest.remove(d)
                return d
        return None

    lay.hue = take(lambda d: n[d] <= MAX_HUES and d != "dataset") or take(lambda d: n[d] <= MAX_HUES and len(dims) == 1)
    lay.style = take(lambda d: n[d] <= MAX_STYLES and n.get(lay.hue, 1) * n[d] <= MAX_LINES and d != "dataset")
    lay.col = take(lambda d: True)
    if lay.col and n[lay.col] <= MAX_GRID:
        lay.row = take(lambda d: n[d] <= MAX_GRID)
    lay.figures = rest
    if lay.col and not lay.row and n[lay.col] > MAX_GRID:
        lay.wrap = MAX_GRID
    return lay


def seed_stats(sub: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """Mean, sd, 95% Student-t half-width and n of `metric` over the rows of each key: with
    every varying parameter in `keys`, only seeds are averaged."""
    values = sub[metric].astype(float)
    g = values.groupby([sub[k] for k in keys], dropna=False, sort=False) if keys else values.groupby(np.zeros(len(sub)))
    out = pd.DataFrame({"_mean": g.mean(), "_std": g.std(ddof=1), "_n": g.count()})
    out["_ci95"] = t_halfwidth(out["_std"], out["_n"])
    return out.reset_index() if keys else out.reset_index(drop=True)


def repeated_seeds(sub: pd.DataFrame, parameters: list[str]) -> int:
    """Rows beyond the first for the same configuration and seed (e.g. two code versions)."""
    cols = [c for c in parameters + ["seed"] if c in sub]
    return len(sub) - _distinct(sub, cols) if "seed" in sub else 0

