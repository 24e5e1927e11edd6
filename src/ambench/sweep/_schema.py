"""The sweep file's schema (pydantic): every key, its type and its allowed values in one place.

`_spec.load_sweep` applies command-line overrides and flags to the file's mapping, validates
it here, then resolves the grids into cells (`_spec._grids`, `_cells.expand`), which needs the
experiment's parameters. `one_line` turns pydantic's first error into the one-line
`FILE: KEY: what to fix` that every sweep error has.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..params import ConfigError

EXECUTORS = ("inline", "local", "slurm")


class _Block(BaseModel):
    """A nested mapping of a sweep file: no unknown key; `null` reads as empty."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_empty(cls, data):
        return {} if data is None else data


class LocalBlock(_Block):
    workers: Any = None  # checked against this machine's CPUs by `_safety.check_workers`


class SlurmBlock(_Block):
    profile: str | None = None
    cells_per_job: Any = 8

    @field_validator("cells_per_job")
    @classmethod
    def _positive(cls, v):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"must be a positive integer, got {v!r}")
        return v


class WandbBlock(_Block):
    mode: Any = "disabled"
    project: Any = None
    entity: Any = None
    group: Any = None
    dir: Any = None
    per_cell: Any = False

    @field_validator("mode")
    @classmethod
    def _mode(cls, v):
        if v not in ("online", "offline", "disabled"):
            raise ValueError(f"must be online, offline or disabled, got {v!r}")
        return v

    @field_validator("per_cell")
    @classmethod
    def _bool(cls, v):
        if not isinstance(v, bool):
            raise ValueError(f"must be true or false, got {v!r}")
        return v


def seeds_list(v):
    seeds = v if isinstance(v, list) else [v]
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"must be a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"repeated seeds {seeds!r}")
    return seeds


class SmokeBlock(_Block):
    """What `--smoke` replaces for CI: a small grid of the same sweep."""

    model: Any = None
    models: Any = None
    dataset: Any = None
    datasets: Any = None
    seeds: list[int] | None = None
    grid: Any = None
    results: Any = None

    _check_seeds = field_validator("seeds", mode="before")(classmethod(lambda cls, v: v if v is None else seeds_list(v)))


class ReportBlock(_Block):
    """The report's choices (`ambench report DIR --sweep FILE`): axes, channels and a row
    filter. Each name is checked against the sweep's cells when the file is loaded
    (`_spec.check_report`), before any cell runs."""

    x: str | None = None
    y: str | None = None
    hue: str | None = None
    style: str | None = None
    col: str | None = None
    row: str | None = None
    where: dict[str, Any] | None = None

    @field_validator("x", "y", "hue", "style", "col", "row", mode="before")
    @classmethod
    def _column(cls, v):
        if v is not None and (not isinstance(v, str) or not v):
            raise ValueError(f"must be a column name, got {v!r}")
        return v

    @field_validator("where", mode="before")
    @classmethod
    def _where(cls, v):
        if v is None:
            return v
        if not isinstance(v, dict):
            raise ValueError(f"must be a mapping of column: value (e.g. {{dataset: mnist-5k}}), got {v!r}")
        for k, value in v.items():
            values = value if isinstance(value, list) else [value]
            if not isinstance(k, str) or not values or any(isinstance(x, (dict, list)) or x is None for x in values):
                raise ValueError(f"{k}: must be a value or a list of values, got {value!r}")
        return v


def _name(v):
    if not isinstance(v, str) or not v:
        raise ValueError("missing or not a string")
    return v


class SweepFile(BaseModel):
    """A sweep file's schema (the module docstring shows one). Fields are checked in this
    order, and the first problem is reported as `FILE: KEY: what to fix` (`one_line`). Models,
    datasets and grids are checked with the experiment's parameters by `_grids` and `expand`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(None, validate_default=True)
    experiment: str = Field(None, validate_default=True)
    description: Any = None
    smoke: SmokeBlock | None = None
    seeds: list[int] = [0]
    model: Any = None
    models: Any = None
    dataset: Any = None
    datasets: Any = None
    grid: Any = None
    results: Any = None
    executor: str = "inline"
    local: LocalBlock = LocalBlock()
    slurm: SlurmBlock = SlurmBlock()
    wandb: WandbBlock = WandbBlock()
    batched: bool | str = "auto"
    report: ReportBlock | None = None  # the report's choices, checked against the cells by `_spec.check_report`

    _check_names = field_validator("name", "experiment", mode="before")(classmethod(lambda cls, v: _name(v)))
    _check_seeds = field_validator("seeds", mode="before")(classmethod(lambda cls, v: seeds_list(v)))

    @field_validator("executor", mode="before")
    @classmethod
    def _executor(cls, v):
        if v not in EXECUTORS:
            raise ValueError(f"must be one of {EXECUTORS}, got {v!r}")
        return v

    @field_validator("batched", mode="before")
    @classmethod
    def _batched(cls, v):
        if v not in ("auto", True, False):
            raise ValueError(f"must be auto, true or false, got {v!r}")
        return v


SWEEP_KEYS = frozenset(SweepFile.model_fields)
SMOKE_KEYS = frozenset(SmokeBlock.model_fields)
WANDB_KEYS = frozenset(WandbBlock.model_fields)
SLURM_SWEEP_KEYS = frozenset(SlurmBlock.model_fields)
REPORT_KEYS = frozenset(ReportBlock.model_fields)

# what a mistake in a nested mapping is called: (key named, message) for an unknown key or a
# value that is not a mapping
_BLOCK_ERRORS = {
    "smoke": (None, "cannot be overridden; allowed: " + ", ".join(sorted(SMOKE_KEYS))),
    "local": ("local", "only `workers: N` is allowed"),
    "slurm": ("slurm", "allowed keys: " + ", ".join(sorted(SLURM_SWEEP_KEYS))),
    "wandb": ("wandb", "allowed keys: " + ", ".join(sorted(WANDB_KEYS))),
    "report": (None, "unknown key; allowed: " + ", ".join(sorted(REPORT_KEYS))),
}
_NOT_A_MAPPING = {"smoke": "must be a mapping of overrides", "wandb": "must be a mapping (e.g. {mode: offline})",
                  "report": "must be a mapping (e.g. {col: noise_level, row: dataset})"}


def one_line(file, err: ValidationError) -> ConfigError:
    """The first problem pydantic found, as today's one-line `FILE: KEY: message` (an unknown
    top-level key first, then the fields in declaration order)."""
    errors = err.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == 1), errors[0])
    loc = [str(p) for p in first["loc"]]
    key, msg = ".".join(loc), first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden" and len(loc) == 1:
        msg = f"unknown key; allowed: {', '.join(sorted(SWEEP_KEYS))}"
    elif loc[0] in _BLOCK_ERRORS and (first["type"] == "extra_forbidden" or len(loc) == 1 and "type" in first["type"]):
        named, msg = _BLOCK_ERRORS[loc[0]]
        msg = _NOT_A_MAPPING.get(loc[0], msg) if len(loc) == 1 else msg
        key = named or key
    return ConfigError(f"{file}: {key}: {msg}")
