"""The results store: one JSON file per finished cell, named by its key, written atomically.

Layout of a results folder:
  cells/<key>.json          a finished cell: config, metrics, provenance (the source of truth)
  failed/<key>.json         the last error of a cell that raised (retried on the next issue)
  running/<key>.json        a cell some worker has started (host, pid, job id, start time)
  results.parquet           the consolidated long-format table (rebuilt from cells/)
A write goes to a temporary file in the same folder and is renamed into place, so a kill at
any moment leaves either the whole row or none of it, never a torn or duplicate one.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path


def atomic_write_json(path: Path, payload: dict, *, durable: bool = True) -> None:
    """Write-then-rename; `durable` also flushes the file to disk before the rename (results:
    a power cut loses no finished cell), which markers such as running/ do not need."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, sort_keys=True, default=str)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def check_writable(self) -> None:
        try:
            (self.root / "cells").mkdir(parents=True, exist_ok=True)
            probe = self.root / "cells" / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as err:
            raise PermissionError(f"results folder {self.root} is not writable ({err.strerror}); choose another with --out") from None

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / f"{key}.json"

    def has(self, key: str) -> bool:
        return self._path("cells", key).exists()

    def done_keys(self) -> set[str]:
        return {p.stem for p in (self.root / "cells").glob("*.json")}

    def failed_keys(self) -> set[str]:
        return {p.stem for p in (self.root / "failed").glob("*.json")} - self.done_keys()

    def running(self) -> dict[str, dict]:
        out = {}
        for p in (self.root / "running").glob("*.json"):
            if not self.has(p.stem):
                try:
                    out[p.stem] = json.loads(p.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
        return out

    def mark_running(self, key: str, cell: dict) -> None:
        atomic_write_json(self._path("running", key), {
            "cell": cell, "host": socket.gethostname(), "pid": os.getpid(),
            "job_id": os.environ.get("SLURM_JOB_ID", ""), "started": time.time()}, durable=False)

    def write_result(self, key: str, row: dict) -> None:
        atomic_write_json(self._path("cells", key), row)
        self._path("failed", key).unlink(missing_ok=True)
        self._path("running", key).unlink(missing_ok=True)

    def write_failure(self, key: str, cell: dict, error: str) -> None:
        atomic_write_json(self._path("failed", key), {"cell": cell, "error": error, "time": time.time()})
        self._path("running", key).unlink(missing_ok=True)

    def failure(self, key: str) -> dict | None:
        p = self._path("failed", key)
        return json.loads(p.read_text()) if p.exists() else None

    def rows_by_key(self, keys: list[str]) -> list[dict]:
        return [json.loads(self._path("cells", k).read_text()) for k in keys]

    def rows(self) -> list[dict]:
        rows = []
        for p in sorted((self.root / "cells").glob("*.json")):
            try:
                rows.append(json.loads(p.read_text()))
            except json.JSONDecodeError:  # cannot happen with atomic writes; never crash a report
                continue
        return rows
