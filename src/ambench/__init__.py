"""ambench: a benchmarking and experiment suite for associative memories.

The public way to add a component, used by the built-ins and by other packages alike:
`register_model`, `register_dataset`, `register_experiment` and `register_figure`, each called
at the top level of the one file that defines the component, with its parameters declared as a
`Params` class of `Field`s (types, defaults, ranges, choices: the only validation). Another
package makes its files known through entry points (groups `ambench.models`,
`ambench.datasets`, `ambench.experiments`, `ambench.figures`); see tests/plugin_example.

Importing ambench imports no JAX: the registration functions are loaded on first use.
"""

from typing import TYPE_CHECKING

from ._experiment import (RETRIEVAL_METRICS as RETRIEVAL_METRICS, Experiment as Experiment, Metric as Metric,
                          count as count, rate as rate, register_experiment, series as series)
from .params import ConfigError as ConfigError, Field as Field, Params as Params, choices as choices

if TYPE_CHECKING:
    from .data._sources import register_dataset as register_dataset
    from .models._registry import register_model as register_model
    from .report.figures import register_figure as register_figure

__version__ = "0.1.0"
__all__ = ["RETRIEVAL_METRICS", "ConfigError", "Experiment", "Field", "Metric", "Params", "choices", "count", "rate",
           "register_dataset", "series",
           "register_experiment", "register_figure", "register_model"]

_LAZY = {"register_model": "ambench.models._registry", "register_dataset": "ambench.data._sources",
         "register_figure": "ambench.report.figures"}


def __getattr__(name: str):
    """`ambench.register_model` etc. import their registry (and JAX) only when first used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ambench' has no attribute {name!r}")
