"""`ambench status`: done / outdated / running / stale / failed / missing per results folder
(the numbers; `console.print_status` shows them).

Imports neither JAX nor the component registries when the cached component versions are
current (`_versions`), and asks SLURM only where a cluster is configured, with a short timeout,
so that it answers in well under a second on a laptop.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from . import _versions
from ._plan import plan
from ._store import Store, result_folders


def states(store: Store, keys: set[str], live_jobs: set[str] | None) -> dict[str, set[str]]:
    """Cell keys by state: done, failed, running, stale (a marker whose process or job is gone)."""
    done = store.done_keys() & keys
    failed = store.failed_keys() & keys
    running, stale = set(), set()
    for k, info in store.running().items():
        if k in keys and k not in done and k not in failed:
            (running if store.marker_state(info, live_jobs) == "running" else stale).add(k)
    return {"done": done, "failed": failed, "running": running, "stale": stale}


SLURM_CONFS = ("/etc/slurm/slurm.conf", "/etc/slurm-llnl/slurm.conf", "/run/slurm/conf/slurm.conf",
               "/var/spool/slurmd/conf-cache/slurm.conf")


def controller(conf: str) -> tuple[str, int] | None:
    """(host, port) of the first SlurmctldHost (or ControlMachine) in a slurm.conf, port
    SlurmctldPort (the first of a range) or 6817; None when the file does not say."""
    host, port = None, 6817
    try:
        lines = Path(conf).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.split("#", 1)[0].partition("=")
        key, value = key.strip().lower(), value.strip()
        if key in ("slurmctldhost", "controlmachine") and host is None and value:
            name, _, addr = value.partition("(")
            host = (addr.rstrip(")") or name).strip()
        elif key == "slurmctldport" and value.split("-")[0].isdigit():
            port = int(value.split("-")[0])
    return (host, port) if host else None


def controller_down(conf: str, timeout: float = 0.2) -> bool:
    """Whether the controller a slurm.conf names refuses or ignores a TCP connection: then
    squeue would only retry for about 10 s before failing (measured on Debian's SLURM 22.05)."""
    where = controller(conf)
    if where is None:
        return False  # not known here: squeue decides
    try:
        socket.create_connection(where, timeout=timeout).close()
    except OSError:
        return True
    return False


def squeue_ids() -> set[str] | None:
    """Job ids in the SLURM queue (each job's id and its array form), or None when there is no
    SLURM here (no squeue, no slurm.conf, a controller that refuses connections) or it did not
    answer within AMBENCH_SQUEUE_TIMEOUT_S (default 0.8 s: a hung slurmctld must not stall
    `status`)."""
    if shutil.which("squeue") is None:
        return None
    conf = os.environ.get("SLURM_CONF") or next((c for c in SLURM_CONFS if os.path.exists(c)), None)
    if conf is None or controller_down(conf):
        return None
    try:
        timeout = float(os.environ.get("AMBENCH_SQUEUE_TIMEOUT_S", "0.8"))
        out = subprocess.run(["squeue", "-h", "-o", "%i %A", "-u", getpass.getuser()], capture_output=True,
                             text=True, timeout=timeout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return set(out.stdout.split()) if out.returncode == 0 else None


def read_manifest(folder: Path, manifest) -> dict:
    """The manifest's fields of the right types ({} for one that is not a JSON object; a field
    of the wrong type is dropped with one line on stderr)."""
    if not isinstance(manifest, dict):
        return {}
    out = dict(manifest)
    for name in ("cells", "jobs"):
        value = out.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            print(f"{folder / 'sweep.json'}: {name} is not a list of strings; ignored", file=sys.stderr, flush=True)
            out[name] = []
    if not isinstance(out.get("name", "-"), str):
        out["name"] = "-"
    return out


def sweep_status(root: Path) -> list[dict]:
    """One row per results folder under `root`: cells, done, running, stale (started by a
    process or job that is gone), failed, missing, quarantined (invalid cell files set aside),
    jobs in the queue."""
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist; give a results folder (e.g. results/NAME)")
    folders = result_folders(root)
    if not folders:
        raise FileNotFoundError(f"no sweep results under {root}; run `ambench sweep FILE` first")
    live_jobs = squeue_ids()
    versions = _versions.versions() if any((f / "cells").is_dir() for f in folders) else {}
    rows = []
    for folder in folders:
        store = Store(folder)
        try:
            manifest = json.loads((folder / "sweep.json").read_text()) if (folder / "sweep.json").exists() else {}
        except (OSError, ValueError):
            manifest = {}
        manifest = read_manifest(folder, manifest)
        keys = set(manifest.get("cells", [])) | store.done_keys()
        s = states(store, keys, live_jobs)
        queued = None if live_jobs is None else sum(1 for j in manifest.get("jobs", []) if j in live_jobs)
        planned = plan(dict.fromkeys(sorted(s["done"])), store,  # keys only: no parameters to compare
                       outdated=lambda row: _versions.outdated_reason(row, versions))
        outdated = len(planned.keys("outdated"))
        rows.append({"results": str(folder), "sweep": manifest.get("name", "-"), "cells": len(keys),
                     "done": len(s["done"]), "outdated": outdated, "running": len(s["running"]),
                     "stale": len(s["stale"]), "failed": len(s["failed"]),
                     "missing": len(keys - s["done"] - s["failed"] - s["running"] - s["stale"]),
                     "quarantined": len(store.quarantined()), "jobs_in_queue": queued,
                     "failures": {k: (store.failure(k) or {}).get("error", "") for k in sorted(s["failed"])}})
    return rows
