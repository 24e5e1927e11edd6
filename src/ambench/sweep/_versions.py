"""Component code versions without importing JAX: a cache checked against the source files.

A component's version (`Component.version`) hashes source files of ambench, of the
experiments folder, or of a plugin's package. `record` writes the versions that freshly
imported registries computed together with a stamp (path and content hash) of every such file;
`cached` returns them while the stamp is unchanged and None otherwise, so `ambench status`
answers from the cache in well under a second (hashing the sources takes milliseconds, JAX
takes seconds to import) and falls back to importing the registries after any edit. Exactly
the runners' versions either way: the cache holds what the registries computed, and only for
the very files they were computed from. A process that has imported the registries already
uses them (a test may have replaced a component) and never records.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from .. import _facts
from .._resources import experiments_dir
from ._store import atomic_write_json

PACKAGE = Path(__file__).resolve().parents[1]  # src/ambench, or site-packages/ambench
GROUPS = ("ambench.models", "ambench.datasets", "ambench.experiments")
FORMAT = 2  # 2: versions hash the normalised code (ambench._source), not the file bytes


def cache_file() -> Path:
    """versions.json in ambench's cache folder (`compile_cache.cache_root`, without its JAX import)."""
    if os.environ.get("AMBENCH_CACHE"):
        root = Path(os.environ["AMBENCH_CACHE"]).expanduser()
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "ambench"
    return root / "component-versions.json"


def _files_stamp(paths) -> str:
    digest = hashlib.sha256()
    for p in sorted({str(p) for p in paths}):
        digest.update(p.encode() + b"\0")
        try:
            digest.update(Path(p).read_bytes())
        except OSError:
            digest.update(b"\0missing")
        digest.update(b"\0")
    return digest.hexdigest()


def _editable(dist) -> bool:
    """Installed with `pip install -e` (PEP 660: direct_url.json says so)."""
    try:
        return bool(json.loads(dist.read_text("direct_url.json") or "{}").get("dir_info", {}).get("editable"))
    except (ValueError, AttributeError):
        return False


def stamp() -> list | None:
    """What the versions depend on: ambench's sources, the experiments folder, and the installed
    plugins (entry point and the files of its distribution); None when a plugin's files cannot
    be listed (then the cache is never used)."""
    from importlib.metadata import entry_points

    plugins = []
    for group in GROUPS:
        for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
            dist = getattr(ep, "dist", None)
            if dist is None or dist.files is None or _editable(dist):
                return None  # an editable install lists a finder, not its sources: never trust the cache
            files = [dist.locate_file(f) for f in dist.files if str(f).endswith(".py")]
            plugins.append([group, ep.name, ep.value, _files_stamp(files)])
    folder = experiments_dir()
    return [FORMAT, str(folder), _files_stamp(PACKAGE.rglob("*.py")), _files_stamp(folder.glob("*.py")), plugins]


def registry_versions() -> dict[str, dict[str, str]]:
    """The versions the runners record (`Cell.versions`), from the imported registries."""
    from ._cells import versions as registered

    return registered()


def record() -> dict[str, dict[str, str]]:
    """Compute the versions by importing the registries and cache them."""
    now = stamp()  # before the import: a file edited meanwhile makes the next `cached` miss
    versions = registry_versions()
    if now is not None:
        try:
            atomic_write_json(cache_file(), {"stamp": now, "versions": versions}, durable=False)
        except OSError:
            pass  # a read-only cache folder: status stays correct, only slower
    return versions


def cached() -> dict[str, dict[str, str]] | None:
    """The cached versions if no file they depend on changed since `record`, else None."""
    try:
        saved = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("stamp") is None:
        return None
    now = stamp()
    return saved.get("versions") if now is not None and saved["stamp"] == now else None


def versions() -> dict[str, dict[str, str]]:
    """Component versions: this process's registries if imported, else the cache when it is
    current, else imported and recorded."""
    if "ambench.sweep._cells" in sys.modules:
        return registry_versions()
    return cached() or record()


def outdated_reason(row: dict, versions: dict[str, dict[str, str]]) -> str | None:
    """The one outdated rule (`_facts.outdated_reason`), here against cached versions."""
    return _facts.outdated_reason(row, versions)
