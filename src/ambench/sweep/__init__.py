"""Sweeps: cells from configurations, the results store, running cells and dispatching jobs.

Names are imported on first use, so that `ambench status` (which needs only the store) does
not import JAX through the component registries.
"""

import importlib

import submitit  # noqa: F401 - imported with the package, not later: its import reconfigures logging
# (logging.config.dictConfig), which closes every handler already installed (e.g. pytest's
# capture of a running test); 70 ms, and no JAX

_NAMES = {
    "_cells": ("EXPERIMENTS", "Cell", "ConfigError", "cell_from_row", "check_available", "cell_key", "expand", "experiment_names",
               "load_experiment", "parameter_names", "parse_sets", "resolve_cell", "outdated_reason"),
    "_run": ("CellPack", "pack", "run_cell", "run_cells"),
    "_store": ("Store",),
    "_grid": ("run_grid",),
}
_WHERE = {name: module for module, names in _NAMES.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
