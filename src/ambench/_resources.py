"""The experiments, figures and sweep files that ship with ambench, found through the package.

The repository keeps them at its top level (their source of truth): experiments/ (one file per
experiment), figures/ (one folder per paper figure: its figure.py and its sweep.yaml) and
sweeps/ (the sweeps no figure reads), with the SLURM profiles slurm/*.yaml that sweep files name.
A built wheel carries copies in the package as ambench/_shipped/{experiments,figures,sweeps,slurm}
(setup.py's build step). `shipped_root` finds them
through importlib.resources in both cases: inside the installed package, else next to the
package in a source checkout (an editable install, or PYTHONPATH=src). Nothing here imports JAX.
"""

from __future__ import annotations

import os
import re
from importlib.resources import files
from pathlib import Path

SHIPPED = ("experiments", "figures", "sweeps", "slurm")
FIGURE_FILE, FIGURE_SWEEP = "figure.py", "sweep.yaml"  # what a figure folder holds


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
    """The folder that holds experiments/, figures/ and sweeps/: ambench/_shipped inside an
    installed wheel, the checkout's top level in a source checkout."""
    return checkout() or package_dir() / "_shipped"


def _folder(variable: str, shipped: str) -> Path:
    given = os.environ.get(variable, "")
    return Path(given).expanduser() if given else shipped_root() / shipped


def experiments_dir() -> Path:
    """The experiments folder: AMBENCH_EXPERIMENTS when set, else the shipped experiments."""
    return _folder("AMBENCH_EXPERIMENTS", "experiments")


def experiment_files() -> dict[str, Path]:
    """Each experiment's file by name: experiments/NAME.py (files starting with _ are helpers)."""
    return {p.stem: p for p in sorted(experiments_dir().glob("*.py")) if not p.stem.startswith("_")}


def figures_dir() -> Path:
    """The figures folder: AMBENCH_FIGURES when set, else the shipped figures."""
    return _folder("AMBENCH_FIGURES", "figures")


def _natural(name: str) -> tuple:
    """f2 before f10: digits compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def figure_folders() -> dict[str, Path]:
    """Each figure folder by name (figures/NAME/ holding figure.py), in natural order (f2 < f10)."""
    folder = figures_dir()
    found = [p for p in folder.iterdir() if (p / FIGURE_FILE).is_file()] if folder.is_dir() else []
    return {p.name: p for p in sorted(found, key=lambda p: _natural(p.name))}


def sweeps_dir() -> Path:
    """The shipped sweep files no figure reads (sweeps/*.yaml: smoke, studies, comparisons)."""
    return shipped_root() / "sweeps"


def shipped_sweeps() -> dict[str, Path]:
    """Every shipped sweep file by its file's name: figures/NAME/sweep.yaml, then sweeps/NAME.yaml."""
    figures = {name: p / FIGURE_SWEEP for name, p in figure_folders().items() if (p / FIGURE_SWEEP).is_file()}
    return {**figures, **{p.stem: p for p in sorted(sweeps_dir().glob("*.yaml"))}}


def sweep_file(text: str | Path) -> Path:
    """A sweep file as given on the command line: the path if it exists (a figure folder means
    its sweep.yaml), else a shipped sweep named `NAME`, `NAME.yaml`, `sweeps/NAME.yaml` or
    `figures/NAME` (so `ambench sweep f2-attractors` works from any folder after `pip install
    ambench`, and the older `sweeps/f2-attractors.yaml` still does); the given path otherwise."""
    path = Path(text)
    if path.is_dir() and (path / FIGURE_SWEEP).is_file():
        return path / FIGURE_SWEEP
    if path.exists() or path.is_absolute():
        return path
    parts = path.parts
    if parts and parts[-1] == FIGURE_SWEEP and len(parts) == 3 and parts[0] == "figures":
        parts = parts[:2]
    if len(parts) == 1 or (len(parts) == 2 and parts[0] in ("sweeps", "figures")):
        name = parts[-1].removesuffix(".yaml")
        candidate = shipped_sweeps().get(name)
        if candidate is not None:
            return candidate
    return path
