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

from ._facts import experiments_dir
from .params import Component, ConfigError, Registry

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


@dataclass(frozen=True)
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
    run: Callable[..., dict[str, Any]] | None = None
    run_many: Callable[..., list[dict[str, Any]]] | None = None
    groupable: Callable[[Any], bool] = lambda cell: True
    check: Callable[[Any], None] | None = None
    theory: Callable[[Any], Any] | None = None
    report_axes: Callable[[Any], Any] | None = None
    metric_range: tuple[float, float] | None = None
    shown_metrics: tuple[str, ...] | None = None
    metrics: tuple[Metric, ...] = ()
    module: ModuleType | None = field(default=None, compare=False)

    def metric(self, name: str) -> Metric | None:
        """The declaration of metric `name` (None when not declared)."""
        return next((m for m in self.metrics if m.name == name), None)


# --- the registry: the experiments folder, then installed packages --------------------------
def _experiment_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(experiments_dir().glob("*.py")) if not p.stem.startswith("_")}


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
    for name, path in _experiment_files().items():
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
