"""ambench: a benchmarking and experiment suite for associative memories.

The public way to add a component (a built-in or another package's, alike):
`register_model`, `register_dataset`, `register_experiment` and `register_figure`, with
parameters declared as a `Params` class of `Field`s. Importing ambench imports no JAX.
"""

from ._experiment import Experiment as Experiment, Metric as Metric, rate as rate
from ._register import (
    register_dataset as register_dataset,
    register_experiment as register_experiment,
    register_figure as register_figure,
    register_model as register_model,
)
from .params import ConfigError as ConfigError, Field as Field, Params as Params, choices as choices

__version__ = "0.1.0"
