"""The experiments and sweep files that ship with ambench, found through the package.

The repository keeps them at its top level (experiments/, sweeps/: their source of truth); a
built wheel carries copies in the package as ambench/_shipped/experiments and
ambench/_shipped/sweeps (setup.py's build step). `shipped_root` finds them through
importlib.resources in both cases: inside the installed package, else next to the package in a
source checkout (an editable install, or PYTHONPATH=src). Nothing here imports JAX.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

SHIPPED = ("experiments", "sweeps")


def package_dir() -> Path:
    """The folder of the imported ambench package (site-packages/ambench or src/ambench)."""
    return Path(str(files("ambench")))


def checkout() -> Path | None:
    """The source checkout ambench is imported from (src/ambench -> its top level), or None for
    an installed wheel: the package carries its experiments then."""
    package = package_dir()
    if (package / "_shipped").is_dir():
        return None
    top = package.parents[1]
    return top if (top / "pyproject.toml").is_file() and package.parent.name == "src" else None


def shipped_root() -> Path:
    """The folder that holds experiments/ and sweeps/: ambench/_shipped inside an installed wheel,
    the checkout's top level in a source checkout."""
    return checkout() or package_dir() / "_shipped"


def experiments_dir() -> Path:
    """The experiments folder: AMBENCH_EXPERIMENTS when set, else the shipped experiments."""
    given = os.environ.get("AMBENCH_EXPERIMENTS", "")
    return Path(given).expanduser() if given else shipped_root() / "experiments"


def sweeps_dir() -> Path:
    """The shipped sweep files (sweeps/*.yaml: the paper figures' protocols)."""
    return shipped_root() / "sweeps"


def sweep_file(text: str | Path) -> Path:
    """A sweep file as given on the command line: the path if it exists, else a shipped sweep
    named `NAME`, `NAME.yaml` or `sweeps/NAME.yaml` (so `ambench sweep sweeps/f2-attractors.yaml`
    works from any folder after `pip install ambench`); the given path when none matches."""
    path = Path(text)
    if path.exists() or path.is_absolute():
        return path
    parts = path.parts
    if len(parts) == 1 or (len(parts) == 2 and parts[0] == "sweeps"):
        name = parts[-1] if parts[-1].endswith(".yaml") else f"{parts[-1]}.yaml"
        candidate = sweeps_dir() / name
        if candidate.is_file():
            return candidate
    return path

