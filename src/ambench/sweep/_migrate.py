"""`ambench migrate`: results folders written before components owned their parameters.

Those cells were one flat dict keyed by a hash of every parameter of every component. Each is
rewritten under its new key (components' non-default parameters), with the parameters its
components declare, its metrics and provenance unchanged, and its code versions marked
`unrecorded`, so `ambench status` counts it as computed by other code until it is re-run.
Parameters that no component of the cell declares (an image dataset's `dim`, say) were never
used; they are dropped, and reported when they differ from the old defaults.
"""

from __future__ import annotations

import json
from pathlib import Path

from .._facts import IDENTITY, RUN_PROVENANCE, is_provenance
from ._cells import KINDS, cell_from_row
from ._store import Store, atomic_write_json, loads_strict, result_folders

# the old format's parameters and their defaults (ambench 0.1, flat cells)
OLD_PARAMS = {
    "encoding": "auto", "dim": 100, "data_dir": "", "download": False, "grayscale": False, "balanced": False,
    "split": "train", "update": "async", "order": "random", "max_sweeps": 20, "beta": None, "dt": None,
    "max_steps": None, "interaction": "power", "n": 3, "similarity": None, "method": "update",
    "separation": "softmax", "features": 8, "kernel_size": 5, "n_classes": 10, "n_memories": None,
    "n_queries": 100, "noise_kind": None, "noise_level": None, "criterion": "auto", "max_wrong": 0.015,
    "threshold": 50.0, "search": False, "success_threshold": 0.9, "k_max": 5000, "n_starts": 1000, "batch": 256,
    "n_steps": 20, "precision": "fp32", "chunk": 0, "repeats": 3, "reference": True, "n_train": 2000,
    "n_test": 500, "train_steps": 100, "learning_rate": 0.01, "batch_size": 64,
}


def migrate_row(row: dict) -> tuple[dict, list[str]]:
    """The row in the current format, and the unused parameters it carried with non-default values."""
    cell = cell_from_row(row)
    used = set(cell)
    dropped = [f"{k}={row[k]!r}" for k in OLD_PARAMS if k in row and k not in used
               and OLD_PARAMS[k] is not None and row[k] != OLD_PARAMS[k]]
    metrics = {k: v for k, v in row.items() if k not in OLD_PARAMS and k not in IDENTITY and not is_provenance(k)}
    new = {**cell.flat(), "cell_key": cell.key, **metrics, **{f"code_{kind}": "unrecorded" for kind in KINDS},
           **{k: row[k] for k in RUN_PROVENANCE if k in row}, "migrated_from": row["cell_key"]}
    return new, dropped


def migrate_folder(root: Path) -> dict[str, int]:
    """Rewrite every old-format cell of one results folder (and its manifest) in place. A file
    that is not a cell (unparsable, not an object) is left as it is and reported; an old cell
    whose new key is already stored in the current format never replaces it: it is moved to
    quarantine/ with the reason beside it."""
    renamed: dict[str, str] = {}
    counts = {"migrated": 0, "current": 0, "dropped_values": 0, "kept": 0, "skipped": 0}
    store = Store(root)
    for path in store._files():
        try:
            row = loads_strict(path.read_text())
            if not isinstance(row, dict):
                raise ValueError(f"a JSON {type(row).__name__}, not an object")
            if "code_experiment" in row:
                counts["current"] += 1
                continue
            new, dropped = migrate_row(row)
        except (OSError, ValueError, KeyError, TypeError) as err:
            counts["skipped"] += 1
            print(f"{path}: not migrated ({str(err).splitlines()[0] if str(err) else type(err).__name__})")
            continue
        counts["dropped_values"] += len(dropped)
        if dropped:
            print(f"{path}: dropped parameters no component uses: {', '.join(dropped)}")
        target = root / "cells" / f"{new['cell_key']}.json"
        if new["cell_key"] != path.stem and target.exists():
            try:
                current = loads_strict(target.read_text())
            except (OSError, ValueError):
                current = None
            if isinstance(current, dict) and "code_experiment" in current:
                counts["kept"] += 1
                store.quarantine(path.stem, f"old-format cell; its cell {new['cell_key']} is already stored in the "
                                            "current format and was kept")
                renamed[path.stem] = new["cell_key"]
                continue
        atomic_write_json(target, new)
        if new["cell_key"] != path.stem:
            path.unlink()
        renamed[path.stem] = new["cell_key"]
        counts["migrated"] += 1
    manifest = root / "sweep.json"
    if manifest.exists() and renamed:
        try:
            info = json.loads(manifest.read_text())
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict) and isinstance(info.get("cells", []), list):
            info["cells"] = sorted({renamed.get(k, k) for k in info.get("cells", []) if isinstance(k, str)})
            atomic_write_json(manifest, info)
        else:
            print(f"{manifest}: not a manifest ambench can read; its cell list was not updated")
    return counts


def namespace_folder(root: Path) -> dict[str, int]:
    """Rewrite every flat (format 1) current cell of one folder as format 2 (`<kind>.<name>`
    parameters, only those that take part; see `_cells.ROW_FORMAT`), under the same key, then
    state the format in `format.json`. A cell already in format 2 is left untouched."""
    from ._cells import is_namespaced, namespaced_row
    from ._run import write_format

    counts = {"namespaced": 0, "already": 0, "left": 0}
    for path in sorted((root / "cells").glob("*.json")):
        try:
            row = json.loads(path.read_text())
            if not isinstance(row, dict):
                raise ValueError("not a mapping")
            if is_namespaced(row):
                counts["already"] += 1
                continue
            new = namespaced_row(row)
        except (OSError, ValueError, KeyError, TypeError) as err:  # not a current cell: the store's reader
            counts["left"] += 1                                  # quarantines it, with its reason
            print(f"{path}: left as it is ({str(err).splitlines()[0] if str(err) else type(err).__name__})")
            continue
        if new["cell_key"] != path.stem:
            counts["left"] += 1
            print(f"{path}: left as it is (its parameters give key {new['cell_key']})")
            continue
        atomic_write_json(path, new)
        counts["namespaced"] += 1
    write_format(root, check=False)
    return counts


def migrate(root: Path) -> int:
    folders = [f for f in result_folders(Path(root)) if (f / "cells").is_dir()]
    if not folders:
        raise FileNotFoundError(f"no results folders (with cells/) under {root}")
    for folder in folders:
        counts = migrate_folder(folder)
        spaced = namespace_folder(folder)
        if counts["migrated"] or spaced["namespaced"]:
            Store(folder).consolidate()
        extra = "".join(f", {counts[k]} {what}" for k, what in (
            ("kept", "old cells not migrated: their current cell is kept (see quarantine/)"),
            ("skipped", "files not migrated (not cells)")) if counts[k])
        print(f"{folder}: {counts['migrated']} cells migrated, {spaced['namespaced']} rewritten with "
              f"<kind>.<parameter> columns, {counts['current']} already current{extra}")
    return 0
