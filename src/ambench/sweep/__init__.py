"""Sweeps: cells from configurations, the results store, running cells and dispatching jobs."""

from ._cells import (
    ConfigError as ConfigError,
    cell_key as cell_key,
    expand as expand,
    experiment_names as experiment_names,
    load_experiment as load_experiment,
    parse_sets as parse_sets,
    resolve_cell as resolve_cell,
)
from ._run import CellPack as CellPack, pack as pack, run_cell as run_cell
from ._store import Store as Store
