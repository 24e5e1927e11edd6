"""Sweep files (YAML) and SLURM profiles, validated before anything runs.

A sweep file:
    name: chn-capacity                 # required
    experiment: capacity               # required
    models: [chn, dam]                 # or `model: chn`
    datasets: [random]                 # or `dataset: random`
    seeds: [0, 1, 2]                   # default [0]
    grid: {dim: [100, 200], n_memories: [10, 20]}    # a mapping = product;
                                       # a list of mappings = union of products
    grid:                              # an entry may give its own models/datasets, which
      - {models: [chn], n_memories: [10, 20]}          # replace the top-level ones for it
      - {models: [dam-softmax], similarity: [dot, l2], n_memories: [10, 20]}
                                       # (top-level models/datasets may then be omitted)
    results: results/chn-capacity      # default results/<name>
    executor: inline                   # inline | local | slurm (the --executor flag overrides)
    batched: auto                      # auto | true | false: group same-shaped cells into one
                                       # vmapped program (auto: on for GPU/TPU, off on CPU)
    local: {workers: 2}
    slurm: {profile: slurm/local.yaml, cells_per_job: 8}
    wandb: {mode: disabled, project: ambench, entity: null, group: null, per_cell: false}
                                       # one W&B run per sweep (a table of cells, summary
                                       # plots); per_cell: true adds one run per cell
    smoke: {seeds: [0], grid: {...}, results: results/smoke/chn-capacity}   # overrides for CI
    report: {col: noise_level, row: dataset, where: {model: [chn, dam]}}   # `ambench report
                                       # --sweep`'s choices, checked against the cells on load

Command-line overrides (`ambench sweep FILE KEY=VALUE ...`, hydra-style) change the file's
values before anything is validated: `seeds=[0,1]`, `models=[chn]`, `results=results/x`,
`grid.n_memories=[10,20]` (in every entry of a list of grids), `grid.1.n_memories=[5]` (one
entry), `smoke.seeds=[0]`, `wandb.mode=offline`. Values are read as YAML reads them; a key the
sweep-file schema does not have is an error naming the allowed keys.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from . import _safety
from .._resources import shipped_sweeps, sweep_file
from ._cells import ROOT, ConfigError, expand

from ._schema import EXECUTORS as EXECUTORS, REPORT_KEYS, SMOKE_KEYS, SWEEP_KEYS, WANDB_KEYS, SLURM_SWEEP_KEYS
from ._schema import ReportBlock, SweepFile
from ._schema import one_line, seeds_list

GRID_ENTRY_KEYS = {"model", "models", "dataset", "datasets"}  # besides parameters


@dataclass
class Sweep:
    name: str
    file: Path
    experiment: str
    cells: list  # of Cell
    results: Path
    executor: str
    workers: int
    profile: str | None
    cells_per_job: int
    wandb: dict = field(default_factory=dict)
    batched: bool | None = None  # None: decided by the backend where the cells run
    overrides: list[str] = field(default_factory=list)  # KEY=VALUE as given on the command line


def _fail(file, key, message) -> NoReturn:
    raise ConfigError(f"{file}: {key}: {message}")


def _as_list(file, spec, one, many, *, where=""):
    if one in spec and many in spec:
        _fail(file, where + many, f"give either `{one}` or `{many}`, not both")
    value = spec.get(many, spec.get(one))
    if value is None:
        _fail(file, where + many, f"missing; add `{many}: [...]` (at the top level or in every grid entry)")
    value = value if isinstance(value, list) else [value]
    if not value or not all(isinstance(v, str) for v in value):
        _fail(file, where + many, f"must be a non-empty list of names, got {value!r}")
    return value


def _grid_values(file, k, v) -> list:
    """One grid parameter's values: a non-empty list of distinct scalars (a scalar is a list of one)."""
    values = v if isinstance(v, list) else [v]
    if not values:
        _fail(file, f"grid.{k}", "empty list of values; give at least one")
    if any(isinstance(x, (dict, list)) for x in values):
        _fail(file, f"grid.{k}", f"values must be scalars, got {values!r}")
    if k == "seed":
        _fail(file, "grid.seed", "seeds are not a grid parameter: give them as `seeds: [0, 1, 2]`")
    if len({repr(x) for x in values}) != len(values):
        _fail(file, f"grid.{k}", f"a value is repeated in {values!r}")
    return values


def _grid_list(file, spec) -> list[dict]:
    """The grid entries: a mapping is one entry, a list of mappings several, none is `{}`."""
    grid = spec.get("grid")
    grids = grid if isinstance(grid, list) else [grid if grid is not None else {}]
    if not grids:
        _fail(file, "grid", "an empty list of grids; give at least one mapping")
    bad = next((g for g in grids if not isinstance(g, dict)), None)
    if bad is not None:
        _fail(file, "grid", f"each grid must be a mapping of parameter: [values], got {bad!r}")
    return grids


def _top_names(file, spec, grids: list[dict], *, smoke: bool) -> dict[str, list[str]]:
    """The top-level models and datasets, where some grid entry uses them (refused where none does)."""
    top = {}
    for one, many in (("model", "models"), ("dataset", "datasets")):
        every = all(one in g or many in g for g in grids)
        if one in spec or many in spec or not every:
            top[many] = _as_list(file, spec, one, many)
            if not smoke and every:  # given, every entry names its own
                _fail(file, many, f"every grid entry names its own {many}, so the top-level ones are unused; "
                                  "drop them")
    return top


def _grids(file, spec, *, smoke: bool = False) -> list[tuple[list[str], list[str], dict[str, list]]]:
    """(models, datasets, grid) per grid entry: an entry's own `models`/`datasets` replace the
    top-level ones for that entry (a model need not be named at the top level)."""
    grids = _grid_list(file, spec)
    top = _top_names(file, spec, grids, smoke=smoke)
    out = []
    for i, g in enumerate(grids):
        where = f"grid.{i}." if isinstance(spec.get("grid"), list) else "grid."
        names = {many: _as_list(file, g, one, many, where=where) if (one in g or many in g) else top[many]
                 for one, many in (("model", "models"), ("dataset", "datasets"))}
        norm = {k: _grid_values(file, k, v) for k, v in g.items() if k not in GRID_ENTRY_KEYS}
        out.append((names["models"], names["datasets"], norm))
    return out


OVERRIDE_EXAMPLE = "e.g. seeds=[0,1], models=[chn], grid.n_memories=[10,20], results=results/x"
NESTED_KEYS = {"local": {"workers"}, "slurm": SLURM_SWEEP_KEYS, "wandb": WANDB_KEYS, "smoke": SMOKE_KEYS,
               "report": REPORT_KEYS}


def parse_override(text: str) -> tuple[list[str], object]:
    """`KEY=VALUE` (KEY dotted, VALUE read as YAML reads it) -> (path, value)."""
    key, sep, value = text.partition("=")
    path = key.strip().split(".")
    if not sep or not all(path):
        raise ConfigError(f"override {text!r}: write KEY=VALUE, {OVERRIDE_EXAMPLE}")
    if len(value) > _safety.MAX_OVERRIDE_CHARS:
        raise ConfigError(f"override {key.strip()}: the value has {len(value):,} characters, more than "
                          f"{_safety.MAX_OVERRIDE_CHARS:,}; put large grids in the sweep file")
    try:
        return path, _safety.parse_yaml(value, f"override {key.strip()}", "value")
    except ConfigError as err:
        raise ConfigError(f"{err}; quote it or write a list as [a,b]") from None


def _set_grid(text: str, spec: dict, top: str, rest: list[str], value) -> None:
    """grid[.N][.KEY]=VALUE: a whole grid, one entry of a list, or a key in every entry."""
    if not rest:
        spec[top] = value
        return
    grid = spec.get(top)
    if rest[0].isdigit():
        if not isinstance(grid, list) or int(rest[0]) >= len(grid):
            n = len(grid) if isinstance(grid, list) else 0
            raise ConfigError(f"override {text!r}: {top} has {n} entr{'y' if n == 1 else 'ies'} in a list; "
                              f"index 0..{n - 1}, or write {top}.KEY=... for every entry")
        index, rest = int(rest[0]), rest[1:]
        if not rest:
            grid[index] = value
            return
        entries = [grid[index]]
    else:
        if grid is None:
            grid = spec[top] = {}
        entries = grid if isinstance(grid, list) else [grid]
    rest = [".".join(rest)] if rest else rest  # grid.dam-softmax.beta=[1,10]: one model's parameter
    if len(rest) != 1 or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"override {text!r}: a grid key is one name (a parameter, models or datasets), "
                          f"e.g. {top}.n_memories=[10,20] or {top}.0.n_memories=[10]")
    for e in entries:
        e[rest[0]] = value


def apply_overrides(spec: dict, overrides: list[str]) -> dict:
    """The sweep file's mapping with command-line `KEY=VALUE` overrides applied (a copy); the
    result is validated like the file itself, so every check holds for overridden values."""
    spec = copy.deepcopy(spec)
    for text in overrides:
        path, value = parse_override(text)
        top, rest = path[0], path[1:]
        if top not in SWEEP_KEYS:
            raise ConfigError(f"override {text!r}: no key {top!r} in a sweep file; allowed: {', '.join(sorted(SWEEP_KEYS))}")
        if top == "grid" or (top == "smoke" and rest[:1] == ["grid"]):
            if top == "smoke":
                spec["smoke"] = spec.get("smoke") if isinstance(spec.get("smoke"), dict) else {}
            _set_grid(text, spec if top == "grid" else spec["smoke"], "grid", rest if top == "grid" else rest[1:],
                      value)
            continue
        if not rest:
            spec[top] = value
            continue
        allowed = NESTED_KEYS.get(top)
        if allowed is None or len(rest) != 1 or rest[0] not in allowed:
            where = f"allowed: {', '.join(f'{top}.{k}' for k in sorted(allowed))}" if allowed else "it takes no subkeys"
            raise ConfigError(f"override {text!r}: no key {'.'.join(path)!r}; {where}")
        node = spec.get(top)
        spec[top] = {**(node if isinstance(node, dict) else {}), rest[0]: value}
    return spec


def _check_overrides_are_used(overrides: list[str], *, smoke: bool, executor, out, wandb_mode) -> None:
    """An override that another input replaces would be silently unused: refused."""
    seen = set()
    for text in overrides:
        key = ".".join(parse_override(text)[0])
        if key in seen:
            raise ConfigError(f"override {key} is given twice; give it once")
        seen.add(key)
        flag = {"executor": executor and "--executor", "results": out and "--out",
                "wandb.mode": (wandb_mode and "--wandb") or (os.environ.get("WANDB_MODE") and "WANDB_MODE")}.get(key)
        if flag:
            raise ConfigError(f"override {text!r}: {flag} is given too and wins; give one of them")
        if key.split(".")[0] == "smoke" and not smoke:
            raise ConfigError(f"override {text!r}: the smoke block is used only with --smoke; add --smoke or drop it")


def _apply_smoke(file, spec: dict, overrides: list[str]) -> dict:
    """The file's mapping with the smoke block's values in place of the top-level ones. Smoke
    results go to results/smoke/NAME unless the smoke block names a folder (never into the full
    results: where `ambench figures --rerun-smoke` and `status` look for them)."""
    smoke_spec = spec.get("smoke")
    if smoke_spec is None:
        _fail(file, "smoke", "--smoke needs a `smoke:` mapping of overrides in the file")
    for text in overrides:  # an override the smoke block replaces would be silently unused
        top = parse_override(text)[0][0]
        same = {top, {"model": "models", "models": "model", "dataset": "datasets", "datasets": "dataset"}.get(top)}
        if top in SMOKE_KEYS and same & set(smoke_spec):
            raise ConfigError(f"override {text!r}: with --smoke the file's smoke.{top} replaces it; "
                              f"write smoke.{text}")
    spec = dict(spec)
    for one, many in (("model", "models"), ("dataset", "datasets")):
        if one in smoke_spec or many in smoke_spec:
            spec.pop(one, None), spec.pop(many, None)
    return {**spec, "results": f"results/smoke/{spec.get('name')}", **smoke_spec}


def _cells(file, spec: dict, seeds: list[int], *, smoke: bool, max_cells: int | None) -> list:
    """Every cell of the grids, each once, the cell cap checked before and after expansion."""
    cap, grids = _safety.max_cells(max_cells), _grids(file, spec, smoke=smoke)  # smoke: the top level serves the full grid
    for models, datasets, grid in grids:  # refused before expansion: counting is instant, 10^6 cells are not
        _safety.check_cell_count(file, _safety.grid_size(len(models), len(datasets), len(seeds), grid), cap, False)
    cells, seen = [], set()
    for models, datasets, grid in grids:
        try:
            part = expand(spec["experiment"], models, datasets, seeds, grid, hint="grid:")
        except ConfigError as err:
            raise ConfigError(f"{file}: {err}") from None
        for c in part:  # a union of grids may overlap: each cell once
            if c.key not in seen:
                seen.add(c.key)
                cells.append(c)
        _safety.check_cell_count(file, len(cells), cap, True)
    return cells


def _stored_metrics(experiment: str) -> tuple[list[str], str]:
    """The metrics a row of `experiment` holds, and where that list comes from: its declared
    `metrics=`, else its main and shown metrics (all an experiment that declares none says)."""
    from .._experiment import EXPERIMENTS

    spec = EXPERIMENTS[experiment]
    if spec.metrics:
        return [m.name for m in spec.metrics], "its declared metrics"
    names = [spec.main_metric] + list(spec.shown_metrics or ())
    return list(dict.fromkeys(names)), "its main and shown metrics; it declares no metrics="


def _same_value(given, stored) -> bool:
    """A `where:` value read from YAML against a cell's value: equal, equal as text or as numbers."""
    if given == stored and type(given) is type(stored) or str(given) == str(stored):
        return True
    try:
        return not isinstance(stored, bool) and float(given) == float(stored)
    except (TypeError, ValueError):
        return False


def check_report(file, report: ReportBlock | None, cells: list, experiment: str) -> None:
    """The `report:` section against the rows these cells will store, before any runs: each
    axis and channel names a column of them (`beta` or `model.beta`; `series` and `none` for a
    channel), `y` a metric the experiment stores, and each `where:` value one some cell holds."""
    if report is None:
        return
    rows = []  # per cell: a column, bare (`beta`) and spaced (`model.beta`) -> its value
    for c in cells:
        row = {"model": c.model.name, "dataset": c.data.name, "seed": c.seed}
        for k, v in c.row_params().items():
            row[k] = row[k.partition(".")[2]] = v
        rows.append(row)
    columns = {k for row in rows for k in row}
    params = sorted(k for k in columns if "." not in k)
    metrics, whence = _stored_metrics(experiment)
    for key in ("x", "y", "hue", "style", "col", "row"):
        name = getattr(report, key)
        if name is None or (name in metrics if key == "y" else name in columns or name in (
                metrics if key == "x" else ("series", "none"))):
            continue
        stored = f"the metrics of {experiment} ({whence}): {', '.join(metrics)}"
        if key == "y":
            _fail(file, "report.y", f"{name!r} is not a metric this sweep's rows hold; give one of {stored}")
        hint = f"a parameter ({', '.join(params)}) or one of {stored}" if key == "x" else \
            f"one of {', '.join(params)}, series or none"
        _fail(file, f"report.{key}", f"no column {name!r} in this sweep's rows; give {hint}")
    where = {k: v if isinstance(v, list) else [v] for k, v in (report.where or {}).items()}
    for key, given in where.items():
        if key not in columns:
            _fail(file, f"report.where.{key}", f"no column {key!r} in this sweep's rows; give one of {', '.join(params)}")
        for g in given:
            if not any(key in row and _same_value(g, row[key]) for row in rows):
                held = sorted({str(row[key]) for row in rows if key in row})
                _fail(file, f"report.where.{key}", f"no cell of this sweep has {key}={g}; its values: "
                                                   f"{', '.join(held[:10])}{' …' if len(held) > 10 else ''}")
    if where and not any(all(k in row and any(_same_value(g, row[k]) for g in gs) for k, gs in where.items())
                         for row in rows):
        _fail(file, "report.where", "no cell of this sweep has all of "
                                    + ", ".join(f"{k}={'|'.join(map(str, gs))}" for k, gs in where.items())
                                    + "; the report would be empty")


def _checked(file: Path, overrides: list[str], *, smoke: bool, executor, out, wandb_mode) -> tuple[dict, SweepFile]:
    """The file's mapping with overrides and flags applied, and its validated `SweepFile`."""
    if not file.exists():
        names = ", ".join(shipped_sweeps())
        raise ConfigError(f"{file}: no such sweep file; give a path, or a shipped sweep: {names}")
    spec = _safety.load_yaml(file)
    if not isinstance(spec, dict):
        raise ConfigError(f"{file}: the top level must be a mapping (name:, experiment:, ...)")
    _check_overrides_are_used(overrides, smoke=smoke, executor=executor, out=out, wandb_mode=wandb_mode)
    spec = apply_overrides(spec, overrides)
    if executor:  # a flag's value is the one checked (a file's value it replaces is never used)
        spec["executor"] = executor
    mode = wandb_mode or os.environ.get("WANDB_MODE")
    if mode and isinstance(spec.get("wandb") or {}, dict):
        spec["wandb"] = {**(spec.get("wandb") or {}), "mode": mode}
    try:
        checked = SweepFile.model_validate(spec)
    except ValidationError as err:
        raise one_line(file, err) from None
    _safety.check_name(file, "name", checked.name)
    return spec, checked


def _slurm_profile(file: Path, checked: SweepFile, profile: str | None) -> str | None:
    """The SLURM profile a slurm sweep uses (checked), refused when given to another executor."""
    ex, prof = checked.executor, profile or checked.slurm.profile
    if profile is not None and ex != "slurm":
        raise ConfigError(f"--profile {profile} is only used by the slurm executor (this sweep runs {ex}); "
                          "add --executor slurm or drop --profile")
    if ex == "slurm" and not prof:
        _fail(file, "slurm.profile", "the slurm executor needs a profile: --profile slurm/NAME.yaml")
    if prof:  # a profile the file names must exist whatever executor runs it now
        load_profile(prof)
    return prof


def load_sweep(path: str | Path, *, smoke: bool = False, executor: str | None = None,
               profile: str | None = None, wandb_mode: str | None = None, out: str | None = None,
               max_cells: int | None = None, overrides: list[str] | None = None) -> Sweep:
    """The sweep file at `path` with the command-line `overrides` (KEY=VALUE) applied, every
    value checked (`SweepFile`, whose values the flags replace first) and every cell resolved;
    ConfigError (one line) names the first problem."""
    file, overrides = sweep_file(path), list(overrides or [])  # a path, or a shipped sweep's name
    spec, checked = _checked(file, overrides, smoke=smoke, executor=executor, out=out, wandb_mode=wandb_mode)
    if smoke:
        spec = _apply_smoke(file, spec, overrides)
    seeds = seeds_list(spec.get("seeds", [0]))  # checked above, top level and smoke block alike
    cells = _cells(file, spec, seeds, smoke=smoke, max_cells=max_cells)
    check_report(file, checked.report, cells, checked.experiment)
    workers = checked.local.workers
    workers = _safety.check_workers(file, workers) if workers is not None else min(2, os.cpu_count() or 1)
    wandb = {"mode": "disabled", "per_cell": False, "group": checked.name, **checked.wandb.model_dump(exclude_unset=True)}
    if wandb["group"] is not None:
        _safety.check_name(file, "wandb.group", wandb["group"])
    results = _safety.confine_results("--out", out) if out is not None else \
        _safety.confine_results(f"{file}: results", spec.get("results", f"results/{checked.name}"))
    wandb["dir"] = (str(_safety.confine_results(f"{file}: wandb.dir", wandb["dir"])) if wandb.get("dir") is not None
                    else str(results))
    prof = _slurm_profile(file, checked, profile)
    return Sweep(checked.name, file, checked.experiment, cells, results, checked.executor, workers, prof,
                 checked.slurm.cells_per_job, wandb, None if checked.batched == "auto" else checked.batched,
                 overrides)


def load_profile(path: str | Path) -> _safety.Profile:
    """A SLURM profile, every field typed and checked (`_safety.Profile`)."""
    file = Path(path)
    if not file.exists() and not file.is_absolute() and (ROOT / file).exists():
        file = ROOT / file
    if not file.exists():
        raise ConfigError(f"SLURM profile {path} not found; profiles live in slurm/*.yaml (e.g. slurm/local.yaml)")
    return _safety.validate_profile(file, _safety.load_yaml(file, "profile"))


def submitit_parameters(profile: _safety.Profile) -> dict:
    return _safety.submitit_parameters(profile)
