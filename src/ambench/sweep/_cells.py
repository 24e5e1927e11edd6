"""Cells: an experiment, a model and a data source, each with its own parameters, and a seed.

An experiment is a file in the shipped experiments folder (`_resources.experiments_dir`: the
checkout's experiments/, or its copy inside an installed wheel; AMBENCH_EXPERIMENTS overrides)
that calls `ambench.register_experiment` (the interface: `ambench.Experiment`). A cell's key
hashes each component's name and the parameters that differ from its declared defaults, so a
new parameter whose default keeps the old behaviour changes no stored key; each stored cell
records the code version of each component, so results of changed code show as outdated.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import yaml

from .. import _facts, protocol
from .._experiment import EXPERIMENTS as EXPERIMENTS, Experiment
from .._facts import KINDS
from .._resources import experiments_dir as experiments_dir, shipped_root
from ..data import DATASETS, DataSpec
from ..models import MODELS, ModelSpec
from ..params import Component, ConfigError, Params, non_default, only_with, unused_values

ROOT = shipped_root()  # holds experiments/, figures/ and sweeps/: the checkout's top level, or ambench/_shipped in a wheel
ExperimentSpec = Experiment  # the name older code imports
MAX_SEED = 2**32
# Stored rows, format 2: identity (experiment, model, dataset, seed, cell_key), then each
# component's parameters under `<kind>.<name>` (`experiment.n_memories`, `model.beta`,
# `data.noise_level`: the same prefixes `--set` takes), only those that take part in the cell
# (a parameter its `only_with` condition leaves out is absent, not a default), then the
# metrics, the code version of each component (`code_<kind>`) and provenance. Format 1 rows
# were flat (`beta`, `n_memories`, every declared parameter, used or not).
ROW_FORMAT = 2


def experiment_names() -> list[str]:
    return sorted(EXPERIMENTS)


def load_experiment(name: str) -> ModuleType:
    return EXPERIMENTS[name].module


@dataclass(frozen=True)
class Part:
    """One component of a cell with its validated parameters."""

    component: Component
    params: Params

    @property
    def name(self) -> str:
        return self.component.name

    def spec(self) -> list:
        return [self.name, non_default(self.component, self.params)]

    def used(self) -> dict[str, Any]:
        """The parameters that take part in this cell: those whose `only_with` condition holds."""
        values = self.params.model_dump()
        return {k: v for k, v in values.items()
                if all(values[c] in allowed for c, allowed in only_with(self.component.params.model_fields[k]).items())}


@dataclass(frozen=True, eq=False)
class Cell(Mapping):
    """A fully resolved measurement. Reads like a flat mapping (`cell["beta"]`, `cell["model"]`)
    since parameter names are unique within a cell; `key` and `versions` identify it."""

    experiment: Part
    model: Part
    data: Part
    seed: int
    _flat: dict = field(init=False, repr=False)

    def __post_init__(self):
        flat = {"experiment": self.experiment.name, "model": self.model.name, "dataset": self.data.name,
                "seed": self.seed}
        for kind, part in zip(KINDS, self.parts()):
            for k, v in part.params.model_dump().items():
                if k in flat:
                    raise ConfigError(f"{kind} {part.name} and another component of this cell both have a "
                                      f"parameter {k!r}; rename one (parameter names are unique within a cell)")
                flat[k] = v
        object.__setattr__(self, "_flat", flat)

    def parts(self) -> tuple[Part, Part, Part]:
        return (self.experiment, self.model, self.data)

    def __getitem__(self, name: str) -> Any:
        return self._flat[name]

    def __iter__(self):
        return iter(self._flat)

    def __len__(self) -> int:
        return len(self._flat)

    def __eq__(self, other) -> bool:
        return isinstance(other, Cell) and self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(self.key)

    def flat(self) -> dict[str, Any]:
        return dict(self._flat)

    def row_params(self) -> dict[str, Any]:
        """The stored row's parameter columns: `<kind>.<name>` for each parameter that takes part."""
        return {f"{kind}.{k}": v for kind, part in zip(KINDS, self.parts()) for k, v in part.used().items()}

    def spec(self) -> dict:
        """What the key hashes: component names, their non-default parameters, the seed."""
        return {"experiment": self.experiment.spec(), "model": self.model.spec(), "data": self.data.spec(),
                "seed": self.seed}

    @functools.cached_property
    def key(self) -> str:
        canonical = json.dumps(self.spec(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def versions(self) -> dict[str, str]:
        return {f"code_{kind}": part.component.version for kind, part in zip(KINDS, self.parts())}

    def replace(self, **params) -> "Cell":
        """The same cell with some parameters changed (validated again)."""
        return resolve_cell(self.experiment.name, self.model.name, self.data.name, self.seed,
                            {**{f"{k}.{n}": v for k, p in zip(KINDS, self.parts())
                                for n, v in non_default(p.component, p.params).items()}, **params})

    def __reduce__(self):  # pickled by description: experiment modules are loaded from files
        return (_from_spec, (self.spec(),))


def _from_spec(spec: dict) -> Cell:
    return resolve_cell(spec["experiment"][0], spec["model"][0], spec["data"][0], spec["seed"],
                        {f"{kind}.{k}": v for kind in KINDS for k, v in spec[kind][1].items()})


def cell_key(cell: Cell) -> str:
    return cell.key


def _components(experiment: str, model: str, dataset: str) -> tuple[Experiment, ModelSpec, DataSpec]:
    return EXPERIMENTS[experiment], MODELS[model], DATASETS[dataset]


def split_params(components, params: dict[str, Any], *, hint: str = "--set") -> list[dict[str, Any]]:
    """Assign each `key` (or `kind.key`) to the one component that declares it."""
    out: list[dict[str, Any]] = [{} for _ in components]
    for key, value in params.items():
        if key == "seed" or key.endswith(".seed"):
            raise ConfigError("seed is not a parameter: give seeds with --seeds 0,1,2 (or `seeds:` in a sweep file)")
        if "." in key:
            kind, name = key.split(".", 1)
            if kind not in KINDS:
                raise ConfigError(f"{hint} {key}: {kind!r} is not a component; use experiment., model. or data.")
            owners = [i for i, c in enumerate(components) if c.kind == kind]
            if name not in components[owners[0]].params.model_fields:
                comp = components[owners[0]]
                raise ConfigError(f"{comp.kind} {comp.name} has no parameter {name!r}; "
                                  f"its parameters: {', '.join(comp.params.model_fields) or 'none'}")
        else:
            name = key
            owners = [i for i, c in enumerate(components) if name in c.params.model_fields]
        if not owners:
            known = sorted({n for c in components for n in c.params.model_fields})
            names = "/".join(c.name for c in components)
            raise ConfigError(f"unknown parameter {name!r} for {names}; known: {', '.join(known)}")
        if len(owners) > 1:
            kinds = " or ".join(f"{components[i].kind}.{name}" for i in owners)
            raise ConfigError(f"parameter {name!r} is ambiguous here: write {kinds}")
        out[owners[0]][name] = value
    return out


def resolve_cell(experiment: str, model: str, dataset: str, seed: int, params: dict[str, Any], *,
                 hint: str = "--set") -> Cell:
    """Validate one cell and resolve its `auto` choices to the values that will be used."""
    comps = _components(experiment, model, dataset)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
        raise ConfigError(f"seed must be an integer in [0, 2^32), got {seed!r}; e.g. --seeds 0,1,2")
    values = split_params(comps, params, hint=hint)
    exp_p, model_p, data_p = (c.validate(v, hint=hint) for c, v in zip(comps, values))
    data_p = protocol.resolve_data(comps[1], comps[2], data_p)
    identify = getattr(comps[2], "identify", None)
    if identify is not None:  # a file-backed source: keyed by what it reads
        try:
            data_p = identify(data_p)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    exp_p = protocol.resolve_experiment(exp_p, data_p)
    cell = Cell(Part(comps[0], exp_p), Part(comps[1], model_p), Part(comps[2], data_p), seed)
    unused = [m for part in cell.parts() for m in unused_values(part.component, part.params)]
    if unused:  # after `auto` is resolved: e.g. threshold with a criterion that is not threshold
        raise ConfigError(unused[0])
    try:  # parameters only: whether the data files are there is `check_available`'s, before computing
        for comp in reversed(comps):  # the data source's own checks first
            if comp.check is not None:
                comp.check(cell)
        protocol.check_cell(cell)
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(str(err)) from None
    return cell


def check_available(cells) -> None:
    """Before computing `cells`: each data source's files are there (and hold n_memories
    patterns where only the files tell the size), else ConfigError naming the fix; one check per
    distinct source, parameters and n_memories. Resolving a cell never looks at files, so a
    stored row's cell is rebuilt (status, report, figures) without the data."""
    seen = set()
    for cell in cells:
        available = getattr(cell.data.component, "available", None)
        what = (cell.data.name, json.dumps(cell.data.params.model_dump(), sort_keys=True, default=str),
                cell.get("n_memories"))
        if available is None or what in seen:
            continue
        seen.add(what)
        try:
            available(cell)
        except ValueError as err:
            raise ConfigError(str(err)) from None


def parse_value(text: str) -> Any:
    """A --set value as YAML reads it: 3 -> int, 0.5 -> float, true -> bool, abc -> str."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, (dict, list)) or value is None else value


def parse_sets(pairs: list[str]) -> dict[str, list]:
    """['k=v1,v2', ...] -> {'k': [v1, v2]} with typed values; a list value makes a grid."""
    out: dict[str, list] = {}
    for pair in pairs or []:
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            raise ConfigError(f"malformed --set {pair!r}: write --set key=value (or key=v1,v2 for a grid)")
        key, value = pair.split("=", 1)
        key = key.strip()
        if key == "seed":
            raise ConfigError("--set seed=... is not how seeds are given: use --seeds 0,1 (each seed a cell)")
        if key in out:
            raise ConfigError(f"--set {key} is given twice; give one --set {key}=v1,v2 for a grid")
        if value.count(",") >= 100_000:  # refused before each value is parsed (that would take minutes)
            raise ConfigError(f"--set {key}: more than 100,000 values; a grid that large goes in a sweep file "
                              "(and is refused there above AMBENCH_MAX_CELLS)")
        values = [v.strip() for v in value.split(",")]
        if not all(values):
            raise ConfigError(f"malformed --set {pair!r}: empty value in the list")
        typed = [parse_value(v) for v in values]
        if len({json.dumps(v) for v in typed}) != len(typed):
            raise ConfigError(f"--set {pair!r}: a value is repeated")
        out[key] = typed
    return out


def _targeted(grid: dict[str, list], models: list[str], datasets: list[str], hint: str) -> dict[str, dict]:
    """Split `grid` into keys for every cell and keys one model or dataset owns
    (`dam-softmax.beta`): {"": common, "dam-softmax": {"model.beta": [...]}, ...}. A prefix
    naming a model or dataset that is not in this run is an error (its values would be unused)."""
    out: dict[str, dict] = {"": {}}
    for key, values in grid.items():
        head, dot, rest = key.partition(".")
        if not dot or head in KINDS:
            out[""][key] = values
            continue
        if head in models:
            out.setdefault(head, {})[f"model.{rest}"] = values
        elif head in datasets:
            out.setdefault(head, {})[f"data.{rest}"] = values
        else:
            known = "model" if head in MODELS else "dataset" if head in DATASETS else None
            if known:
                raise ConfigError(f"{hint} {key}: {known} {head!r} is not in this run (models: {', '.join(models)}; "
                                  f"datasets: {', '.join(datasets)}); add it or drop {key}")
            raise ConfigError(f"{hint} {key}: {head!r} is neither a component kind (experiment., model., data.) "
                              f"nor a model or dataset of this run ({', '.join(models + datasets)})")
    return out


def expand(experiment: str, models: list[str], datasets: list[str], seeds: list[int],
           grid: dict[str, list], *, hint: str = "--set") -> list[Cell]:
    """The cartesian product of models × datasets × seeds × grid values, resolved. A key
    prefixed with a model or dataset of the run (`dam-softmax.beta`) varies that one's
    parameter only. Two grid points that resolve to the same cell (e.g. encoding=auto and the
    value auto picks) are one."""
    targeted = _targeted(grid, models, datasets, hint)
    cells, seen = [], set()
    for model, dataset, seed in itertools.product(models, datasets, seeds):
        here = {**targeted[""], **targeted.get(model, {}), **targeted.get(dataset, {})}
        names = list(here)
        for values in itertools.product(*(here[n] for n in names)):
            try:
                cell = resolve_cell(experiment, model, dataset, seed, dict(zip(names, values)), hint=hint)
            except ConfigError as err:
                owners = [m for m in models if m != model and _declares(MODELS[m], names)]
                if "unknown parameter" in str(err) and owners:
                    bad = next(n for n in names if "." not in n and n in MODELS[owners[0]].params.model_fields)
                    raise ConfigError(f"{err}; to vary it for {owners[0]} only, write {hint} {owners[0]}.{bad}=...") from None
                raise
            if cell.key not in seen:
                seen.add(cell.key)
                cells.append(cell)
    return cells


def _declares(component, names) -> bool:
    return any("." not in n and n in component.params.model_fields for n in names)


def cell_from_row(row: dict) -> Cell:
    """The cell a stored row (or an old flat cell dict) describes, by the components' declared
    parameters: every parameter the row has that a component declares is taken."""
    comps = _components(row["experiment"], row["model"], row["dataset"])
    # the values that differ from the defaults: a stored default is not a value a user gave
    params = {}
    for c in comps:
        for n, spec in c.params.model_fields.items():
            name = f"{c.kind}.{n}" if f"{c.kind}.{n}" in row else n  # format 2, else format 1 (flat)
            if name in row and not _same_value(_plain(row[name]), spec.default):
                params[f"{c.kind}.{n}"] = _plain(row[name])
    return resolve_cell(row["experiment"], row["model"], row["dataset"], int(row["seed"]), params)


def _same_value(a, b) -> bool:
    return type(a) is type(b) and a == b


def _plain(v):
    return v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v


def is_namespaced(row: Mapping) -> bool:
    """A format-2 row: its parameters are stored as `<kind>.<name>`."""
    return any(isinstance(k, str) and k.split(".", 1)[0] in KINDS and "." in k for k in row)


def namespaced_row(row: dict, *, check: bool = True) -> dict:
    """A stored row in format 2 (the same row when it is already): its cell's parameters under
    `<kind>.<name>`, only those that take part; metrics, code versions and provenance as they
    were. With `check` (what `ambench migrate` does) the cell is resolved and must give the
    row's key (keys hash each component's non-default values, whatever the row's format);
    without, the components' declarations alone place each column (fast, for reading tables)."""
    if is_namespaced(row):
        return dict(row)
    comps = _components(row["experiment"], row["model"], row["dataset"])
    if check:
        cell = cell_from_row(row)
        if cell.key != row.get("cell_key"):
            raise ValueError(f"cell {row.get('cell_key')}: its parameters give key {cell.key}; migrate it first")
        params, spaced = set(cell), cell.row_params()
    else:
        params, spaced = set(), {}
        for c in comps:
            fields = c.params.model_fields
            values = {n: _plain(row[n]) for n in fields if n in row}
            params |= set(values)
            spaced.update({f"{c.kind}.{n}": v for n, v in values.items()
                           if all(k not in values or values[k] in allowed  # no record of k: keep it
                                  for k, allowed in only_with(fields[n]).items())})
    out = {k: row[k] for k in ("experiment", "model", "dataset", "seed", "cell_key") if k in row}
    out.update(spaced)
    out.update({k: v for k, v in row.items() if k not in params and k not in out})
    return out


def parameter_names() -> set[str]:
    """Every parameter any registered component declares (the config columns of a table)."""
    return {n for reg in (EXPERIMENTS, MODELS, DATASETS) for c in reg.values() for n in c.params.model_fields}


def parameters_differ(row: Mapping, cell: Cell) -> str | None:
    """Which parameter a stored row of `cell`'s key records with another value than the cell
    has (None: none). Keys hash non-default values only, so after a default changes a stored
    row keeps its key but answered another question: it must not count as this cell done."""
    for kind, part in zip(KINDS, cell.parts()):
        for name, value in part.params.model_dump().items():
            stored = row.get(f"{kind}.{name}", row.get(name))
            if hasattr(stored, "item"):  # numpy scalars from parquet
                stored = stored.item()
            if stored is None or isinstance(stored, float) and stored != stored:  # not recorded (older rows)
                continue
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (stored, value))
            if not (float(stored) == float(value) if numbers else stored == value):
                return f"{kind} {part.name}: {name} is stored as {stored!r}, the cell has {value!r}"
    return None


def versions() -> dict[str, dict[str, str]]:
    """{kind: {name: code version}} of every registered component (what `outdated_reason` checks)."""
    return {kind: {name: reg[name].version for name in reg}
            for kind, reg in zip(KINDS, (EXPERIMENTS, MODELS, DATASETS))}


def outdated_reason(row: dict) -> str | None:
    """Why a stored row was computed by code other than what is here now (None: same code):
    `_facts.outdated_reason` against the registered components."""
    return _facts.outdated_reason(row, versions())
