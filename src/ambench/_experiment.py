"""The experiment interface: what an experiment provides, declared once, read by every consumer.

An experiment is one file (in the experiments folder, or in an installed package named in the
`ambench.experiments` entry-point group) that ends with `ambench.register_experiment(...)`.
Everything the machinery may ask of it is a field of `Experiment` below, with its default: the
runner (`run`, `run_many`, `groupable`), cell validation (`check`), the console (`shown_metrics`),
the report (`theory`, `report_axes`, `metric_range`) and the metric declarations (`metrics`).
No consumer reads a module attribute.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from ._resources import experiment_files, experiments_dir
from ._source import caller_module, module_version
from .params import Component, ConfigError, Params, Registry

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Metric:
    """One value an experiment returns per cell: its name (the column), an axis label in words,
    its type, and its range where it has one (a rate is in [0, 1]; None: unbounded that side)."""

    name: str
    label: str
    type: Literal["float", "int", "bool", "list"] = "float"
    range: tuple[float | None, float | None] = (None, None)


def rate(name: str, label: str) -> Metric:
    """A fraction of queries or starts: a float in [0, 1]."""
    return Metric(name, label, "float", (0.0, 1.0))


def count(name: str, label: str) -> Metric:
    """A whole number of things (queries, steps, patterns): an int >= 0."""
    return Metric(name, label, "int", (0.0, None))


def series(name: str, label: str) -> Metric:
    """A list of values per cell (a histogram's data, a trace)."""
    return Metric(name, label, "list")


# What the shared retrieval protocol (`protocol.measure_retrieval`, `metrics.Scorer`) returns per
# cell, declared once for every experiment that reports it (capacity, noise, convergence). The
# ±1 columns (wrong_bits, exact_rate, overlap, abs_overlap) and the real-valued ones
# (threshold_rate, mse) appear by the patterns' encoding; a model without an energy stores
# energy_monotone_rate as null.
RETRIEVAL_METRICS = (
    rate("success_rate", "success rate (the cell's criterion)"),
    rate("nearest_rate", "retrieved state nearest its own pattern"),
    rate("own_nearest_rate", "nearest its own pattern by the model's similarity"),
    rate("converged_rate", "queries at a fixed point"),
    rate("diverged_rate", "queries whose state diverged"),
    rate("energy_monotone_rate", "queries whose energy never rose"),
    Metric("steps", "mean update steps", "float", (0.0, None)),
    count("steps_max", "most update steps"),
    count("queries_scored", "queries scored"),
    Metric("pattern_dim", "pattern dimension N", "int", (1.0, None)),
    Metric("cosine", "cosine of state and target"),  # in [-1, 1] up to float32 rounding (1.0000000077 is stored)
    rate("cosine_rate", "cosine above min_cosine"),
    Metric("wrong_bits", "fraction of wrong signs", "float", (0.0, 1.0)),
    rate("exact_rate", "exactly the stored pattern"),
    Metric("overlap", "overlap m with the target", "float", (-1.0, 1.0)),
    Metric("abs_overlap", "|m| with the target", "float", (0.0, 1.0)),
    rate("threshold_rate", "squared error within the threshold"),
    Metric("mse", "mean squared error per pixel", "float", (0.0, None)),
)


@dataclass(frozen=True, kw_only=True)
class Experiment(Component):
    """An experiment: its parameters (`params`, a `Params` class) and description (`doc`), plus:

    - `main_metric`, `x_axis`: what its figures and tables draw by default;
    - `run(cell, progress) -> dict`: the metrics of one cell (required);
    - `run_many(cells, progress) -> list[dict]`: several cells at once, with the same numbers as
      `run` on each (optional; used for cells that `groupable(cell)` allows, default all);
    - `check(cell)`: raises ValueError naming the fix for a cell it cannot measure (optional);
    - `theory(rows) -> list[(label, DataFrame)]`: curves the report overlays (optional);
    - `report_axes(rows) -> (metric, x) | None`: another metric and axis for these rows (optional);
    - `metric_range`: the main metric's (low, high) when the report cannot infer it;
    - `shown_metrics`: the metrics `ambench run` prints after the main one (None: every scalar);
    - `metrics`: the declared metrics (name, label, type, range) of what `run` returns.
    `module` is the module that registered it (its helpers are reachable for tests).
    """

    main_metric: str = "success_rate"
    x_axis: str = "n_memories"
    run: Callable[..., dict[str, Any]]
    run_many: Callable[..., list[dict[str, Any]]] | None = None
    groupable: Callable[[Any], bool] = lambda cell: True
    check: Callable[[Any], None] | None = None
    theory: Callable[[Any], Any] | None = None
    report_axes: Callable[[Any], Any] | None = None
    metric_range: tuple[float | int, float | int] | None = None
    shown_metrics: tuple[str, ...] | None = None
    metrics: tuple[Metric, ...] = ()
    module: ModuleType | None = field(default=None, compare=False)

    def metric(self, name: str) -> Metric | None:
        """The declaration of metric `name` (None when not declared)."""
        return next((m for m in self.metrics if m.name == name), None)


# --- the registry: the experiments folder, then installed packages --------------------------
def _folder_stamp() -> tuple:
    """The experiments folder and the .py names in it: a new file or folder variable is seen at once."""
    folder = experiments_dir()
    try:
        return (str(folder), tuple(sorted(n for n in os.listdir(folder) if n.endswith(".py"))))
    except OSError:
        return (str(folder),)


def load_file(name: str, path: Path) -> ModuleType:
    """Execute an experiment file as module `ambench_experiments.<name>` (it registers itself)."""
    spec = importlib.util.spec_from_file_location(f"ambench_experiments.{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its functions pickle, and `register_experiment` finds it
    before = set(EXPERIMENTS.items)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    if not any(e.module is module for e in EXPERIMENTS.items.values()) and set(EXPERIMENTS.items) == before:
        raise ConfigError(f"experiment file {path} registers no experiment; end it with "
                          "`ambench.register_experiment(...)` (see experiments/noise.py)")
    return module


def _discover() -> None:
    for name, path in experiment_files().items():
        load_file(name, path)


EXPERIMENTS: Registry[Experiment] = Registry("experiment", discover=_discover, stamp=_folder_stamp)


def experiment(name: str) -> Experiment:
    """The registered experiment `name` (ConfigError naming the known ones otherwise)."""
    return EXPERIMENTS[name]


def _check_metrics(metrics: Sequence[Metric] | Mapping) -> tuple[Metric, ...]:
    out = tuple(metrics.values() if isinstance(metrics, Mapping) else metrics)
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"metrics declared twice: {sorted(n for n in names if names.count(n) > 1)}")
    return out


def register_experiment(name: str, *, params: type[Params], doc: str, run: Callable[..., dict[str, Any]],
                        main_metric: str, x_axis: str, metrics: Sequence[Metric] = (),
                        run_many: Callable[..., list[dict[str, Any]]] | None = None,
                        groupable: Callable[[Any], bool] | None = None, check: Callable[[Any], None] | None = None,
                        theory: Callable[[Any], Any] | None = None, report_axes: Callable[[Any], Any] | None = None,
                        metric_range: tuple[float | int, float | int] | None = None,
                        shown_metrics: Sequence[str] | None = None) -> Experiment:
    """Register an experiment (the fields are those of `ambench.Experiment`, documented there).

    Call it at the end of the experiment's file, which lives in the experiments folder or in an
    installed package that names the module in the `ambench.experiments` entry-point group.
    Its version covers the file and the ambench code it uses, except models and energy (each
    model's own version covers those).
    """
    module = caller_module()
    version = module_version(module, exclude=("ambench.models", "ambench.energy"))
    declared = _check_metrics(metrics)
    names = {m.name for m in declared}
    if declared and main_metric not in names:
        raise ValueError(f"experiment {name}: main_metric {main_metric!r} is not among its declared metrics")
    if declared and set(shown_metrics or ()) - names:
        raise ValueError(f"experiment {name}: shown_metrics {sorted(set(shown_metrics or ()) - names)} are not "
                         "among its declared metrics")
    hooks = {} if groupable is None else {"groupable": groupable}
    return EXPERIMENTS.register(Experiment(
        "experiment", name, params, doc, version, main_metric=main_metric, x_axis=x_axis, run=run,
        run_many=run_many, **hooks, check=check, theory=theory, report_axes=report_axes,
        metric_range=metric_range, shown_metrics=None if shown_metrics is None else tuple(shown_metrics),
        metrics=declared, module=module))
