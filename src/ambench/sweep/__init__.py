"""Sweeps: cells from configurations, the results store, running cells and dispatching jobs."""

from ._cells import (
    EXPERIMENTS as EXPERIMENTS,
    Cell as Cell,
    ConfigError as ConfigError,
    cell_from_row as cell_from_row,
    cell_key as cell_key,
    expand as expand,
    experiment_names as experiment_names,
    load_experiment as load_experiment,
    parameter_names as parameter_names,
    parse_sets as parse_sets,
    resolve_cell as resolve_cell,
    outdated_reason as outdated_reason,
)
from ._run import CellPack as CellPack, pack as pack, run_cell as run_cell, run_cells as run_cells
from ._store import Store as Store
from ._grid import run_grid as run_grid
