"""The results store: one JSON file per finished cell, named by its key, written atomically.

Layout of a results folder:
  cells/<key>.json          a finished cell: config, metrics, provenance (the source of truth)
  failed/<key>.json         the last error of a cell that raised (retried on the next issue)
  running/<key>.json        a cell some worker has started (host, pid, job id, start time)
  quarantine/<key>.<t>.json a cell file that did not validate, moved aside (never deleted),
                            with <key>.<t>.reason.txt beside it; its cell runs again
  results.parquet           the consolidated long-format table (rebuilt from cells/)
A write goes to a temporary file in the same folder and is renamed into place, so a kill at
any moment leaves either the whole row or none of it, never a torn or duplicate one. A file
that is in cells/ counts as done only when it parses as standard JSON and validates
(`Store.valid_row`): a file truncated, emptied or replaced by hand is quarantined, not trusted.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import json
import math
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

from .._experiment import EXPERIMENTS, RETRIEVAL_METRICS, Metric, count, rate, series
from .._facts import IDENTITY
from .._resources import experiment_files

KEY = re.compile(r"[0-9a-f]{16}")  # the name of a cell file ambench writes (`Cell.key`)
NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")  # a component name read from disk (it becomes a file name)
MARKER = ".ambench-store"  # written into every results folder ambench writes cells to
STALE_AFTER_S = 7 * 24 * 3600  # a marker from another host, with no job id we can check, older than this
HOST = socket.gethostname()
_HOST_TOKEN = re.sub(r"[^A-Za-z0-9-]", "_", HOST)  # in temporary file names: whose writer it was
_TMP = re.compile(r"\..+\.pid(\d+)@([A-Za-z0-9_-]*)\.[^.]+\.tmp")


def _umask() -> int:
    """The process umask without changing it for other threads where /proc tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _finite(value):
    """NaN and ±inf as null: standard JSON has no such constants (a metric that is undefined,
    e.g. a loss never computed, reads back as a missing value)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def loads_strict(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity (Python's json accepts them)."""
    return json.loads(text, parse_constant=_reject_constant)


def _mkstemp_public(folder: Path, name: str) -> tuple[int, str]:
    """mkstemp (0600) then chmod to 0666 & ~umask: results are readable like any file the user
    writes, and never group/other-writable unless the umask says so."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.pid{os.getpid()}@{_HOST_TOKEN}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def atomic_write_json(path: Path, payload: dict, *, durable: bool = True) -> None:
    """Write-then-rename; `durable` also flushes the file to disk before the rename (results:
    a power cut loses no finished cell), which markers such as running/ do not need. Non-finite
    floats are written as null so that every file is standard JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp_public(path.parent, path.name)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(_finite(payload), f, sort_keys=True, default=str, allow_nan=False)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pid_alive(pid) -> bool:
    """Whether a process with this id runs on this host (EPERM: it exists, not ours). A zombie
    (dead, not yet reaped: an orphan in a container whose pid 1 does not reap) is not alive."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(pid, 0) is all we know


def _experiment_file(name: str) -> Path | None:
    return experiment_files().get(name)  # the shipped experiments in a wheel too


def _declared_list(node: ast.expr) -> tuple[Metric, ...] | None:
    """The value of a `metrics=` argument, evaluated with only the declaration helpers in scope
    (Metric, rate, count, series, RETRIEVAL_METRICS, as bare names or `ambench.` attributes; no
    builtins but `tuple`): what the experiment file declares, without importing it (no JAX).
    None when it uses anything else."""
    helpers = {"Metric": Metric, "rate": rate, "count": count, "series": series, "RETRIEVAL_METRICS": RETRIEVAL_METRICS}
    scope = {**helpers, "ambench": SimpleNamespace(**helpers), "tuple": tuple, "__builtins__": {}}
    try:  # the file's own text, which running the experiment executes anyway
        value = eval(compile(ast.Expression(node), "<metrics>", "eval"), scope)  # noqa: S307
        out = tuple(value)
    except Exception:  # noqa: BLE001 - a declaration it cannot read: fall back to main_metric/shown_metrics
        return None
    return out if all(isinstance(m, Metric) for m in out) else None


@functools.lru_cache(maxsize=64)
def _declared(path: str, stamp: tuple) -> dict[str, Metric]:
    """The metrics an experiment file declares in its `register_experiment(...)` call, read
    without importing it (no JAX): its `metrics=` when it gives them (name, type, range);
    otherwise `main_metric` and `shown_metrics`, numbers or null, a rate (`*_rate`, `accuracy`)
    in [0, 1], and `metric_range` bounding the main metric. (Older files: the module constants
    MAIN_METRIC, SHOWN_METRICS and METRIC_RANGES.)"""
    try:
        tree = ast.parse(Path(path).read_text())
    except (OSError, SyntaxError, ValueError):
        return {}

    def literal(node):
        try:
            return ast.literal_eval(node)
        except ValueError:
            return None

    values = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values.setdefault(node.targets[0].id, literal(node.value))
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "register_experiment":
            given = next((k.value for k in node.keywords if k.arg == "metrics"), None)
            declared = None if given is None else _declared_list(given)
            if declared is not None:
                return {m.name: m for m in declared}
            kw = {k.arg: literal(k.value) for k in node.keywords if k.arg}
            values.update({"MAIN_METRIC": kw.get("main_metric"), "SHOWN_METRICS": kw.get("shown_metrics")})
            if kw.get("metric_range") is not None and kw.get("main_metric"):
                values["METRIC_RANGES"] = {kw["main_metric"]: kw["metric_range"]}
    names = [values.get("MAIN_METRIC")] + list(values.get("SHOWN_METRICS", ()) or ())
    out = {}
    for n in names:
        if isinstance(n, str):
            out[n] = rate(n, n) if n.endswith("_rate") or n == "accuracy" else Metric(n, n)
    for n, (low, high) in dict(values.get("METRIC_RANGES", {}) or {}).items():
        out[n] = Metric(n, n, "float", (None if low is None else float(low), None if high is None else float(high)))
    return out


def _registered_metrics(experiment: str) -> dict[str, Metric] | None:
    """The metrics of `experiment` as its registry entry declares them, when this process has
    registered it (a plugin's, or one registered at run time): none is discovered or imported
    for this (status stays free of JAX). Its `metrics=` where given, else the same rules as a
    file's main and shown metrics; None when it is not registered here."""
    entry = EXPERIMENTS.items.get(experiment)  # `items`, not `[...]`: no discovery
    if entry is None:
        return None
    if entry.metrics:
        return {m.name: m for m in entry.metrics}
    out = {n: rate(n, n) if n.endswith("_rate") or n == "accuracy" else Metric(n, n)
           for n in [entry.main_metric, *(entry.shown_metrics or ())]}
    if entry.metric_range is not None:
        low, high = entry.metric_range
        out[entry.main_metric] = Metric(entry.main_metric, entry.main_metric, "float",
                                        (None if low is None else float(low), None if high is None else float(high)))
    return out


def declared_metrics(experiment: str) -> dict[str, Metric]:
    """The metrics `experiment` declares: read from its file in the experiments folder, else
    from its registry entry when this process registered it (a plugin's, or one registered at
    run time); {} when neither is found."""
    path = _experiment_file(experiment)
    if path is None:
        return _registered_metrics(experiment) or {}
    st = path.stat()
    return _declared(str(path), (st.st_mtime_ns, st.st_size))


_TYPES = {"float": (int, float), "int": (int,), "bool": (bool,), "list": (list,)}
_KIND = {"float": "a number", "int": "an integer", "bool": "a boolean", "list": "a list"}


def metric_error(row: dict) -> str | None:
    """Why a stored row's metrics break what its experiment declares (type and range), or None."""
    for name, m in declared_metrics(row["experiment"]).items():
        if name not in row or row[name] is None:
            continue  # an undefined metric is stored as null
        v = row[name]
        if (isinstance(v, bool) and m.type != "bool") or not isinstance(v, _TYPES[m.type]):
            return f"metric {name} is not {_KIND[m.type]} (got {v!r})"
        low, high = m.range
        if m.type != "list" and ((low is not None and v < low) or (high is not None and v > high)):
            return f"metric {name}={v!r} is outside its declared range [{low}, {high}]"
    return None


class Store:
    """A results folder. Reads of cells/ validate every file (parsed once per mtime and size,
    so listing a folder of thousands of cells stays cheap) and quarantine what fails."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._cache: dict[str, tuple[tuple[int, int, int], dict | None, str | None]] = {}
        self._unmovable: set[str] = set()

    def check_writable(self) -> None:
        table = self.root / "results.parquet"
        if table.is_symlink() or (table.exists() and not table.is_file()):
            raise PermissionError(f"{table} is not a regular file (a folder or a link); move it away so the table "
                                  "can be rebuilt from cells/")
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o755)
            (self.root / "cells").mkdir(exist_ok=True, mode=0o755)
            probe = self.root / "cells" / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as err:
            raise PermissionError(f"results folder {self.root} is not writable ({err.strerror}); choose another with --out") from None

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / f"{key}.json"

    # --- validation and quarantine -------------------------------------------------------

    @staticmethod
    def valid_row(key: str, row) -> str | None:
        """Why `row` (parsed from cells/<key>.json) is not a stored cell, or None if it is."""
        if not isinstance(row, dict):
            return f"not a JSON object but a {type(row).__name__}"
        if row.get("cell_key") != key:
            return f"cell_key {row.get('cell_key')!r} does not match the file name {key!r}"
        for name in ("experiment", "model", "dataset"):
            if not isinstance(row.get(name), str) or not row[name]:
                return f"{name} missing or not a non-empty string (got {row.get(name)!r})"
            if not NAME.fullmatch(row[name]):  # it becomes a file name in reports: never a path
                return f"{name} {row[name][:80]!r} is not a component name (1 to 64 of A-Z a-z 0-9 . _ -)"
        seed = row.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool):
            return f"seed missing or not an integer (got {seed!r})"
        return metric_error(row)

    def _load(self, path: Path) -> tuple[dict | None, str | None, tuple | None]:
        """(row, None, stamp) for a valid file, (None, reason, stamp) otherwise; stamp is None
        when the file vanished."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None, None, None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = self._cache.get(path.stem)
        if hit is not None and hit[0] == stamp:
            return hit[1], hit[2], stamp
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None, None, None
        except (OSError, UnicodeDecodeError) as err:
            row, reason = None, f"unreadable: {err}"
        else:
            try:
                row = loads_strict(text)
                reason = self.valid_row(path.stem, row)
            except ValueError as err:  # JSONDecodeError is a ValueError
                row, reason = None, f"not valid JSON: {err}"
            if reason is not None:
                row = None
        self._cache[path.stem] = (stamp, row, reason)
        return row, reason, stamp

    def quarantine(self, key: str, reason: str, stamp: tuple | None = None) -> Path | None:
        """Move cells/<key>.json to quarantine/<key>.<time>.json with a .reason.txt beside it.
        If the file changed since it was judged (a worker stored the cell again meanwhile),
        the fresh file is put back instead of being quarantined."""
        src = self._path("cells", key)
        if not KEY.fullmatch(key) or src.is_symlink() or not src.is_file():
            return None  # not a file ambench wrote: never moved (it is not counted either)
        folder = self.root / "quarantine"
        stem = f"{key}.{time.strftime('%Y%m%dT%H%M%S')}.{time.time_ns() % 10**9:09d}"
        dst = folder / f"{stem}.json"
        try:
            if folder.is_symlink():
                raise PermissionError("quarantine/ is a symbolic link")
            created = not folder.exists()
            folder.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(src, dst)
            except OSError:
                if created:
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # leave the archive as it was
                raise
        except FileNotFoundError:
            return None  # another process quarantined it (or it was stored again and is fine)
        except OSError as err:  # a read-only archive: say so, move nothing; the cell counts as not stored
            if key not in self._unmovable:
                self._unmovable.add(key)
                print(f"invalid cell file {src} ({reason}); not quarantined: {getattr(err, 'strerror', None) or err}; "
                      "it counts as not stored", file=sys.stderr, flush=True)
            return None
        st = dst.stat()
        if stamp is not None and (st.st_ino, st.st_mtime_ns, st.st_size) != stamp:
            if not src.exists():
                os.replace(dst, src)  # a fresh write raced us: it was never judged; keep it
            else:
                dst.unlink()
            return None
        (folder / f"{stem}.reason.txt").write_text(f"{reason}\n")
        self._cache.pop(key, None)
        print(f"quarantined invalid cell file {src} -> {dst} ({reason}); the cell will run again",
              file=sys.stderr, flush=True)
        return dst

    def quarantined(self) -> list[Path]:
        """Quarantined cell files, oldest first."""
        return sorted(p for p in (self.root / "quarantine").glob("*.json"))

    def _valid(self, path: Path) -> dict | None:
        row, reason, stamp = self._load(path)
        if reason is not None:
            self.quarantine(path.stem, reason, stamp)
            return None
        return row

    def _files(self) -> list[Path]:
        """cells/*.json regular files in a cells/ folder that is not a link (a link out is not
        followed); only key-named ones (`KEY`, what ambench writes) are ever moved to quarantine."""
        folder = self.root / "cells"
        if folder.is_symlink() or not folder.is_dir():
            return []
        return [p for p in sorted(folder.glob("*.json")) if not p.is_symlink() and p.is_file()]

    def remove_orphans(self) -> int:
        """Delete temporary files that writers on this host left when killed (their process is
        gone); a live writer's file, another host's, or a file ambench did not name is kept."""
        removed = 0
        for kind in ("cells", "failed", "running", ""):
            folder = self.root / kind
            if folder.is_symlink() or not folder.is_dir():
                continue
            for p in folder.glob(".*.tmp"):
                m = _TMP.fullmatch(p.name)
                if m and m[2] == _HOST_TOKEN and not pid_alive(int(m[1])) and not p.is_symlink():
                    with contextlib.suppress(OSError):
                        p.unlink()
                        removed += 1
        return removed

    def _scan(self) -> dict[str, dict]:
        out = {}
        for p in self._files():
            row = self._valid(p)
            if row is not None:
                out[p.stem] = row
        live = set(out)
        for k in [k for k in self._cache if k not in live]:  # forget files that went away
            self._cache.pop(k, None)
        return out

    # --- reads ---------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        path = self._path("cells", key)
        if (self.root / "cells").is_symlink() or path.is_symlink():
            return False
        return self._valid(path) is not None

    def stored_at(self, key: str) -> float | None:
        """When `key`'s result file was written (None: not stored)."""
        try:
            return self._path("cells", key).stat().st_mtime
        except OSError:
            return None

    def done_keys(self) -> set[str]:
        return set(self._scan())

    def failed_keys(self) -> set[str]:
        return {p.stem for p in (self.root / "failed").glob("*.json")} - self.done_keys()

    def running(self) -> dict[str, dict]:
        """Markers of cells started and not stored: key -> {cell, host, pid, job_id, started}."""
        done = self.done_keys()
        out = {}
        for p in (self.root / "running").glob("*.json"):
            if p.stem not in done:
                try:
                    info = json.loads(p.read_text())
                except (OSError, ValueError):
                    continue
                if isinstance(info, dict):
                    out[p.stem] = info
        return out

    @staticmethod
    def marker_state(info: dict, live_jobs: set[str] | None, *, stale_after_s: float | int | None = None,
                     now: float | None = None) -> str:
        """'running' or 'stale' for a running/ marker. Stale: its process is on this host and
        gone; or its SLURM job is not in the queue (`live_jobs`, job ids and array roots, None
        when squeue could not be asked); or it is older than `stale_after_s` (env
        AMBENCH_STALE_AFTER_S, default a week) with no process or job we could check."""
        if stale_after_s is None:
            stale_after_s = float(os.environ.get("AMBENCH_STALE_AFTER_S", STALE_AFTER_S))
        job = str(info.get("job_id") or "")
        if info.get("host") == HOST:
            return "running" if pid_alive(info.get("pid")) else "stale"
        if job and live_jobs is not None:
            return "running" if (job in live_jobs or job.split("_")[0] in live_jobs) else "stale"
        started = info.get("started")
        age = (now or time.time()) - started if isinstance(started, (int, float)) else math.inf
        return "stale" if age > stale_after_s else "running"

    def failure(self, key: str) -> dict | None:
        p = self._path("failed", key)
        try:
            return json.loads(p.read_text()) if p.exists() else None
        except (OSError, ValueError):
            return None

    def rows_by_key(self, keys: list[str]) -> list[dict]:
        """The valid rows of `keys`; a key that is not (validly) stored raises KeyError."""
        rows = []
        for k in keys:
            row = self._valid(self._path("cells", k))
            if row is None:
                raise KeyError(f"cell {k} is not stored in {self.root}/cells (or was quarantined)")
            rows.append(row)
        return rows

    def rows(self) -> list[dict]:
        """Every valid stored row, ordered by cell key."""
        return list(self._scan().values())

    # --- writes --------------------------------------------------------------------------

    def mark_running(self, key: str, cell: Mapping) -> None:
        atomic_write_json(self._path("running", key), {
            "cell": dict(cell), "host": HOST, "pid": os.getpid(),
            "job_id": os.environ.get("SLURM_JOB_ID", ""), "started": time.time()}, durable=False)

    def write_result(self, key: str, row: dict) -> None:
        if not (self.root / MARKER).exists():  # marks the folder as ambench's (`result_folders`)
            (self.root / MARKER).parent.mkdir(parents=True, exist_ok=True)
            (self.root / MARKER).write_text("a results folder of ambench: cells/ holds its stored cells\n")
        atomic_write_json(self._path("cells", key), row)
        self._path("failed", key).unlink(missing_ok=True)
        self._path("running", key).unlink(missing_ok=True)

    def clear_running(self, key: str) -> None:
        """The cell stopped without a result or an error of its own (interrupted): it is missing."""
        self._path("running", key).unlink(missing_ok=True)

    def write_failure(self, key: str, cell: Mapping, error: str) -> None:
        atomic_write_json(self._path("failed", key), {"cell": dict(cell), "error": error, "time": time.time()})
        self._path("running", key).unlink(missing_ok=True)

    def consolidate(self) -> int:
        """Rebuild results.parquet from the valid cell files (pyarrow only; one row per cell,
        columns `experiment, model, dataset, seed, cell_key` first, then in order of first
        appearance). Each writer uses its own temporary file and renames it into place, so
        concurrent rebuilds never tear the table a reader opens. Returns the number of rows;
        with no rows the old table, if any, is left as it is."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table_path = self.root / "results.parquet"
        if table_path.is_symlink() or (table_path.exists() and not table_path.is_file()):
            raise ValueError(f"{table_path} is not a regular file (a folder or a link); move it away so the table "
                             "can be rebuilt from cells/")
        self.remove_orphans()
        rows = self.rows()
        if not rows:
            return 0
        names = list(IDENTITY)
        seen = set(names)
        for r in rows:
            for k in r:
                if k not in seen:
                    seen.add(k)
                    names.append(k)
        columns = {}
        for name in names:
            values = [r.get(name) for r in rows]
            try:
                columns[name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed types: keep them as JSON text
                columns[name] = pa.array([None if v is None else json.dumps(v, sort_keys=True) for v in values],
                                         pa.string())
        table = pa.table(columns)
        fd, tmp = _mkstemp_public(self.root, "results.parquet")
        try:
            with os.fdopen(fd, "wb") as f:
                pq.write_table(table, f)
            os.replace(tmp, self.root / "results.parquet")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(rows)


def result_folders(root: Path) -> list[Path]:
    """The results folders under `root` that ambench may read and tidy: `root` itself when it
    has a cells/ folder, and folders below it holding a sweep manifest (sweep.json) or the
    store's marker file. Symbolic links are not followed, and a cells/ that is a link is
    skipped with a line on stderr (another program's cells/ folder is never touched)."""
    root = Path(root)
    found = []
    for here, dirs, files in os.walk(root):  # followlinks=False
        folder = Path(here)
        dirs[:] = sorted(d for d in dirs if d not in ("cells", "quarantine", "failed", "running", "submitit"))
        if folder != root and "sweep.json" not in files and MARKER not in files:
            continue
        cells = folder / "cells"
        if cells.is_symlink():
            print(f"{cells} is a symbolic link; ambench does not follow it (skipped)", file=sys.stderr, flush=True)
        elif cells.is_dir() or "sweep.json" in files:
            found.append(folder)
    return sorted(found)
