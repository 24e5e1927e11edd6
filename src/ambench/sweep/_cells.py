"""Experiments are discovered from the experiments/ folder; a cell is one fully resolved config.

An experiment module defines DESCRIPTION, PARAMS (name -> default) and run(cell, progress).
A cell's key is a hash of its full configuration (every default filled in), so the same
measurement always lands in the same file.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import itertools
import json
import os
from pathlib import Path
from types import ModuleType

from ..models import MODELS
from ..protocol import DATASET_PARAMS, check_cell
from ..data import DATASETS

ROOT = Path(__file__).resolve().parents[3]
IDENTITY = ("experiment", "model", "dataset", "seed")


class ConfigError(ValueError):
    """Bad input caught before anything runs; the message names the fix."""


def experiments_dir() -> Path:
    return Path(os.environ.get("AMBENCH_EXPERIMENTS", ROOT / "experiments"))


def experiment_names() -> list[str]:
    return sorted(p.stem for p in experiments_dir().glob("*.py") if not p.stem.startswith("_"))


@functools.lru_cache(maxsize=None)
def load_experiment(name: str) -> ModuleType:
    path = experiments_dir() / f"{name}.py"
    if not path.exists():
        raise ConfigError(f"unknown experiment {name!r}; known: {', '.join(experiment_names())}")
    spec = importlib.util.spec_from_file_location(f"ambench_experiments.{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def experiment_source_hash(name: str) -> str:
    return hashlib.sha256((experiments_dir() / f"{name}.py").read_bytes()).hexdigest()[:12]


def parse_value(text: str, default):
    """A --set value typed like its default: bool, int, float, or string ('none' for empty)."""
    if isinstance(default, bool):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if default is None:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    return text


def parse_sets(pairs: list[str]) -> dict[str, list[str]]:
    """['k=v1,v2', ...] -> {'k': ['v1', 'v2']}; a list value makes a grid."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            raise ConfigError(f"malformed --set {pair!r}: write --set key=value (or key=v1,v2 for a grid)")
        key, value = pair.split("=", 1)
        values = [v.strip() for v in value.split(",")]
        if not all(values):
            raise ConfigError(f"malformed --set {pair!r}: empty value in the list")
        out[key.strip()] = values
    return out


def known_params(experiment: str, model: str) -> dict:
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    return {**DATASET_PARAMS, **MODELS[model].params, **load_experiment(experiment).PARAMS}


def resolve_cell(experiment: str, model: str, dataset: str, seed: int, params: dict) -> dict:
    """Fill defaults, type and validate one cell. Raises ConfigError naming the fix."""
    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    defaults = known_params(experiment, model)
    unknown = sorted(set(params) - set(defaults) - set(IDENTITY))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown} for {experiment}/{model}; known: {', '.join(sorted(defaults))}")
    if not 0 <= int(seed) < 2**32:
        raise ConfigError(f"seed must be an integer in [0, 2^32), got {seed}; e.g. --seeds 0,1,2")
    cell = {"experiment": experiment, "model": model, "dataset": dataset, "seed": int(seed)}
    for name, default in defaults.items():
        value = params.get(name, default)
        if isinstance(value, str) and not isinstance(default, str):
            try:
                value = parse_value(value, default)
            except ValueError as err:
                raise ConfigError(f"bad value for {name}: {err}") from None
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif default is not None and not isinstance(value, type(default)):
            raise ConfigError(f"{name} must be {type(default).__name__} like its default {default!r}, got {value!r}")
        cell[name] = value
    for name, allowed in MODELS[model].choices.items():
        if cell[name] not in allowed:
            raise ConfigError(f"bad value for {name}: {cell[name]!r}; allowed for {model}: {', '.join(allowed)}")
    try:
        check_cell(cell)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return cell


def cell_key(cell: dict) -> str:
    canonical = json.dumps(cell, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def expand(experiment: str, models: list[str], datasets: list[str], seeds: list[int],
           grid: dict[str, list]) -> list[dict]:
    """The cartesian product of models × datasets × seeds × grid values, resolved."""
    names = list(grid)
    cells = []
    for model, dataset, seed in itertools.product(models, datasets, seeds):
        for values in itertools.product(*(grid[n] for n in names)):
            cells.append(resolve_cell(experiment, model, dataset, seed, dict(zip(names, values))))
    return cells
