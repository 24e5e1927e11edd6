"""Checks on what a user hands to `ambench sweep` before anything is dispatched.

- YAML: a SafeLoader that refuses duplicate keys and nesting deeper than MAX_DEPTH (checked on
  the event stream, before any node or Python object is built), and files that are not UTF-8.
- Names that reach a shell or a batch script (the sweep's `name`, the W&B group, job names):
  `[A-Za-z0-9._-]{1,64}`, not starting with a dot.
- Results paths: a relative path must stay under the current folder.
- SLURM profiles: every field typed and checked with pydantic (`extra="forbid"`), in SLURM's
  own syntax; `setup` lines are shell commands by design and are not checked.
- The trust boundary: submitit's pickles under RESULTS/submitit/ are code that the jobs run,
  so a results folder writable by group or others is refused (AMBENCH_TRUST_RESULTS=1 overrides).
Every failure is a ConfigError of one line naming the file, the key and the fix.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from ._cells import ConfigError

MAX_DEPTH = 50
MAX_CELLS = 100_000
MAX_FILE_BYTES = 1_000_000  # a sweep file or profile; the largest committed one is a few kB
NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
NAME_RULE = "1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.'"


# --- YAML --------------------------------------------------------------------------------

class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key: SafeLoader itself reports it
                if first is not None:
                    raise _Duplicate(key, key_node.start_mark.line + 1, first)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _Duplicate(Exception):
    def __init__(self, key, line, first):
        self.key, self.line, self.first = key, line, first


def read_text(file: Path, what: str = "file") -> str:
    """The file as UTF-8 text, or a ConfigError naming the file and the first bad byte; a file
    larger than MAX_FILE_BYTES is refused before it is read (parsing it would take minutes)."""
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"{file}: {size:,} bytes, more than {MAX_FILE_BYTES:,} for a {what}; "
                          "write a grid as lists of values, not one cell per line")
    data = file.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{file}: not UTF-8 text (byte {err.start} is 0x{data[err.start]:02x}); "
                          f"save the {what} as UTF-8") from None


def load_yaml(file: Path, what: str = "sweep file"):
    """Parse a YAML file safely: UTF-8, no duplicate keys, nesting at most MAX_DEPTH."""
    return parse_yaml(read_text(file, what), file, what)


MAX_OVERRIDE_CHARS = 1_000_000  # a command-line value longer than this is refused before parsing


def parse_yaml(text: str, file, what: str = "sweep file"):
    """YAML text (a file's or a command-line value's) under the same rules: no duplicate keys,
    nesting at most MAX_DEPTH; errors name `file` (a path or e.g. "override KEY")."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):  # iterative: no recursion on depth
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError(f"{file}: line {event.start_mark.line + 1}: nested deeper than {MAX_DEPTH} "
                                      f"levels; flatten the {what}")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _Duplicate as dup:
        raise ConfigError(f"{file}: line {dup.line}: key {dup.key!r} given twice (first on line {dup.first}); "
                          "keep one") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "syntax"
        raise ConfigError(f"{file}: {where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    except RecursionError:  # aliases nested through each other; the depth scan sees no anchors
        raise ConfigError(f"{file}: nested too deeply; flatten the {what}") from None


# --- names and paths ---------------------------------------------------------------------

def check_name(file, key: str, value) -> str:
    """A name that reaches a job script or a shell: NAME_RULE, else a one-line error."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ConfigError(f"{file}: {key}: {value!r} is not a safe name ({NAME_RULE}); rename it")
    return value


def confine_results(where: str, value) -> Path:
    """The results folder: an absolute path as given, or a relative one that stays under the
    current folder (a `..` that climbs out of it is refused). `where` names the source in
    errors ("FILE: results" or "--out")."""
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ConfigError(f"{where}: empty results path; give a folder (e.g. results/NAME)")
    if "\x00" in str(value) or "\n" in str(value) or "\r" in str(value):
        raise ConfigError(f"{where}: the path contains a NUL or line break; give a plain folder name")
    path = Path(value)
    if path.is_absolute():
        return path
    normal = Path(os.path.normpath(path))
    if normal.parts and normal.parts[0] == "..":
        raise ConfigError(f"{where}: {value} leaves the current folder; give a path under it or an absolute path")
    return Path.cwd() / normal


def check_trusted(folder: Path) -> None:
    """Refuse a results folder (or its submitit/ folder) that group or others may write:
    anyone who can write there can plant a pickle that the next job unpickles and runs."""
    if os.environ.get("AMBENCH_TRUST_RESULTS", "").strip() == "1":
        return
    for path in (folder, folder / "submitit"):
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & 0o022:
            raise ConfigError(f"{path} is writable by group or others (mode {stat.filemode(mode)}): its job pickles "
                              f"could be replaced; run `chmod go-w {path}` or set AMBENCH_TRUST_RESULTS=1")


def private_folder(path: Path) -> Path:
    """Create (or tighten) a folder only its owner may read or write (submitit's pickles)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


# --- sizes -------------------------------------------------------------------------------

def max_cells(given: int | None) -> int:
    """The cap on cells per sweep: --max-cells, else AMBENCH_MAX_CELLS, else MAX_CELLS."""
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ConfigError(f"--max-cells must be a positive integer, got {given!r}")
        return given
    env = os.environ.get("AMBENCH_MAX_CELLS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ConfigError(f"AMBENCH_MAX_CELLS must be a positive integer, got {env!r}; unset it for {MAX_CELLS}")
        return int(env)
    return MAX_CELLS


def check_cell_count(file, n: int, cap: int, exact: bool) -> None:
    if n > cap:
        what = "cells" if exact else "cells in one grid alone"
        raise ConfigError(f"{file}: grid: {n:,} {what}, more than the cap of {cap:,}; shrink the grid, split the "
                          "sweep, or raise the cap with --max-cells N (or AMBENCH_MAX_CELLS)")


def grid_size(n_models: int, n_datasets: int, n_seeds: int, grid: dict[str, list]) -> int:
    return n_models * n_datasets * n_seeds * math.prod(len(v) for v in grid.values())


def check_workers(file, workers) -> int:
    limit = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"{file}: local.workers: must be a positive integer, got {workers!r}")
    if workers > limit:
        raise ConfigError(f"{file}: local.workers: {workers} is more than this machine's {limit} CPUs; "
                          f"give at most {limit}")
    return workers


# --- SLURM profiles ----------------------------------------------------------------------

SAFE = r"[A-Za-z0-9._-]{1,64}"
SHELL_META = set(";&|$`<>\\\"'\n\r")
_TIME = re.compile(r"(?:(\d+)-)?(\d{1,2}):(\d{2}):(\d{2})")
_MEM = re.compile(r"\d+[KMGT]")
_GRES = re.compile(r"[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?:\d+(?:,[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?:\d+)*")


def _strict_int(v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"must be an integer, got {v!r}")
    return v


def slurm_minutes(v) -> int:
    """SLURM time: minutes as an integer, or HH:MM:SS or D-HH:MM:SS; rounded up to minutes."""
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise ValueError(f"must be at least 1 minute, got {v}")
        return v
    if isinstance(v, str):
        m = _TIME.fullmatch(v.strip())
        if m:
            days, h, mi, s = (int(x) if x else 0 for x in m.groups())
            if mi < 60 and s < 60 and (days == 0 or h < 24):
                total = ((days * 24 + h) * 60 + mi) * 60 + s
                if total > 0:
                    return math.ceil(total / 60)
    raise ValueError(f"must be minutes (e.g. 240) or HH:MM:SS / D-HH:MM:SS (e.g. 0-04:00:00), got {v!r}")


Int = Annotated[int, BeforeValidator(_strict_int)]
SafeName = Annotated[str, Field(pattern=rf"^{SAFE}$")]


class Profile(BaseModel):
    """A SLURM profile file. Fields map onto submitit parameters in `submitit_parameters`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: SafeName | None = None
    description: str | None = None
    partition: SafeName | None = None
    account: SafeName | None = None
    qos: SafeName | None = None
    time_min: Annotated[int, BeforeValidator(slurm_minutes)] | None = None
    gpus_per_node: Annotated[Int, Field(ge=0)] | None = None
    cpus_per_task: Annotated[Int, Field(ge=1)] | None = None
    mem_gb: int | str | None = None
    gres: str | None = None
    array_parallelism: Annotated[Int, Field(ge=1)] | None = None
    max_array_size: Annotated[Int, Field(ge=1)] | None = None
    signal_delay_s: Annotated[Int, Field(ge=0)] | None = None
    additional_parameters: dict[str, Any] | None = None
    setup: list[str] | str | None = None

    @field_validator("description")
    @classmethod
    def _one_line(cls, v):
        if v is not None and ("\n" in v or "\r" in v):
            raise ValueError("must be one line")
        return v

    @field_validator("mem_gb", mode="before")
    @classmethod
    def _mem(cls, v):
        if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
            return v
        if isinstance(v, str) and _MEM.fullmatch(v):
            return v
        raise ValueError(f"must be GB as an integer (e.g. 64) or NNN[KMGT] (e.g. 512M, 64G), got {v!r}")

    @field_validator("gres", mode="before")
    @classmethod
    def _gres(cls, v):
        if isinstance(v, str) and _GRES.fullmatch(v):
            return v
        raise ValueError(f"must be TYPE[:MODEL]:COUNT (e.g. gpu:2 or gpu:a100:4), got {v!r}")

    @field_validator("additional_parameters", mode="before")
    @classmethod
    def _extra(cls, v):
        if not isinstance(v, dict):
            raise ValueError(f"must be a mapping of sbatch option: value, got {v!r}")
        for k, val in v.items():
            if not isinstance(k, str) or not re.fullmatch(r"[a-z_-]+", k):
                raise ValueError(f"option {k!r} must be lower-case letters, '_' or '-'")
            if isinstance(val, bool):
                if not val:
                    raise ValueError(f"{k}: false is not an sbatch flag; remove the option")
                continue
            if not isinstance(val, (str, int, float)) or (bad := SHELL_META & set(str(val))):
                raise ValueError(f"{k}: value {val!r} must be a plain string or number without line breaks or "
                                 f"shell characters (found {''.join(sorted(bad)) if isinstance(val, (str, int, float)) else ''!r})")
        return v

    @field_validator("setup", mode="before")
    @classmethod
    def _setup(cls, v):
        lines = [v] if isinstance(v, str) else v
        if not isinstance(lines, list) or not all(isinstance(s, str) for s in lines):
            raise ValueError("must be a shell line or a list of shell lines")
        return v


def validate_profile(file: Path, data) -> Profile:
    """A profile mapping, validated; a ConfigError names the file, the key and the fix."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: a profile is a mapping of SLURM settings (partition:, time_min:, ...)")
    if "cells_per_job" in data:
        raise ConfigError(f"{file}: cells_per_job: not a profile setting; give it in the sweep file "
                          "(slurm: {cells_per_job: N})")
    try:
        return Profile.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "?"
        if first["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(Profile.model_fields))
            raise ConfigError(f"{file}: {key}: unknown key; allowed: {allowed}") from None
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "string_pattern_mismatch":
            msg = f"{first.get('input')!r} is not a safe name ({NAME_RULE.replace(', not starting with', ';')})"
        raise ConfigError(f"{file}: {key}: {msg}; fix it in the profile") from None


def submitit_parameters(profile: Profile) -> dict:
    """Profile -> submitit AutoExecutor parameters (max_array_size, name, description are ours)."""
    p = profile
    out = {"slurm_partition": p.partition, "slurm_account": p.account, "slurm_qos": p.qos,
           "timeout_min": p.time_min, "gpus_per_node": p.gpus_per_node, "cpus_per_task": p.cpus_per_task,
           "slurm_gres": p.gres, "slurm_array_parallelism": p.array_parallelism,
           "slurm_signal_delay_s": p.signal_delay_s, "slurm_additional_parameters": p.additional_parameters,
           "slurm_setup": [p.setup] if isinstance(p.setup, str) else p.setup}
    if isinstance(p.mem_gb, int):
        out["mem_gb"] = p.mem_gb
    elif isinstance(p.mem_gb, str):
        out["slurm_mem"] = p.mem_gb
    return {k: v for k, v in out.items() if v is not None}
