"""The registry of paper figures: a name, the sweep it reads, a plot function.

A paper figure is one folder, figures/NAME/ (found like experiments/: the checkout's top level,
or its copy in a wheel; AMBENCH_FIGURES overrides): figure.py defines the plot function and
calls `ambench.register_figure`, sweep.yaml is the sweep whose results it draws. A new figure is
a new folder: nothing else is edited. `ambench figures` redraws every registered figure from
stored results only (no experiment is re-run): the full sweep's results when every cell is
stored, else the committed smoke ones. Each figure writes PDF and PNG with a fixed style; each
may also print the table behind it. Shared helpers (crossings, fits, theory curves, the style)
are public in `ambench.report`.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import matplotlib.pyplot as plt
import pandas as pd
import yaml
from rich.console import Console

from .._resources import FIGURE_FILE, FIGURE_SWEEP, figure_folders, figures_dir, shipped_sweeps
from ..params import ConfigError, Registry
from ._pages import save
from ._style import style
from ._tables import flat_view, load_results as load_results

console = Console()


@dataclass(frozen=True)
class Figure:
    """A paper figure: drawn by `plot` from the stored results of one sweep, whose results live
    in RESULTS/<sweep>/ (full) and RESULTS/smoke/<sweep>/, and whose file is `sweep_file` (the
    sweep.yaml of the figure's folder; a shipped sweep of that name when None). Made by
    `ambench.register_figure`."""

    name: str
    sweep: str  # the sweep's name: its results folder
    title: str
    plot: Callable[[pd.DataFrame], tuple[plt.Figure, pd.DataFrame | None, str]]
    sweep_file: Path | None = None


def load_figure(folder: Path) -> None:
    """Execute figures/NAME/figure.py as module `ambench_figures.NAME` (it registers itself)."""
    path = folder / FIGURE_FILE
    name = "ambench_figures." + folder.name.replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    if not any(getattr(f.plot, "__module__", None) == name for f in FIGURES.items.values()):
        raise ConfigError(f"figure file {path} registers no figure; end it with "
                          "`ambench.register_figure(NAME, title=..., plot=...)` (see figures/f2-attractors)")


def _discover() -> None:
    """The figures folder: each figures/NAME/figure.py, in natural order (F2 before F10)."""
    for folder in figure_folders().values():
        load_figure(folder)


def _folder_stamp() -> tuple:
    """The figures folder and its figure folders: a new folder or AMBENCH_FIGURES is seen at once."""
    return (str(figures_dir()), tuple(figure_folders()))


# Paper figures by name: the figures folder's, then those of installed packages (modules named in
# the entry-point group `ambench.figures` that call `ambench.register_figure`).
FIGURES: Registry[Figure] = Registry("figure", discover=_discover, stamp=_folder_stamp)


def _sweep_name(file: Path) -> str:
    try:
        name = (yaml.safe_load(file.read_text()) or {}).get("name")
    except (OSError, yaml.YAMLError, AttributeError) as err:
        raise ConfigError(f"{file}: not a readable sweep file ({err})") from None
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{file}: name: missing or not a string")
    return name


def register_figure(name: str, *, title: str, plot: Callable[..., Any], sweep: str | None = None,
                    sweep_file: str | Path | None = None) -> Figure:
    """Register a paper figure: `ambench figures --only NAME` draws it from stored results only.

    Args:
        name: the figure's name (F1, or a lab's own).
        title: a few words for listings.
        plot: `plot(df) -> (matplotlib Figure, table or None, note)`.
        sweep: the name of the sweep whose results it reads (RESULTS/<sweep>/,
            RESULTS/smoke/<sweep>/); by default the `name:` of its sweep file.
        sweep_file: the sweep file; by default the sweep.yaml beside the file that defines
            `plot` (a figure folder), else the shipped sweep named `sweep`.
    """
    if sweep_file is None:
        beside = Path(getattr(getattr(plot, "__code__", None), "co_filename", "")).with_name(FIGURE_SWEEP)
        sweep_file = beside if beside.is_file() else None
    file = None if sweep_file is None else Path(sweep_file)
    declared = None if file is None else _sweep_name(file)
    if sweep is None and declared is None:
        raise ConfigError(f"figure {name!r}: give sweep= (a sweep's name) or put its sweep.yaml beside figure.py")
    if sweep is not None and declared is not None and sweep != declared:
        raise ConfigError(f"figure {name!r}: sweep={sweep!r} but its sweep file {file} is named {declared!r}; "
                          "give one of them")
    return FIGURES.register(Figure(name, sweep or declared, title, plot, file))


def sweep_path(fig: Figure) -> Path:
    """The figure's sweep file: its own, else the shipped sweep of its sweep's name."""
    if fig.sweep_file is not None:
        return Path(fig.sweep_file)
    return shipped_sweeps().get(fig.sweep, figures_dir() / fig.sweep / FIGURE_SWEEP)


def registered() -> Registry[Figure]:
    """Every registered figure (`FIGURES`)."""
    return FIGURES


def results_for(fig: Figure, results: Path) -> tuple[pd.DataFrame, Path]:
    """The full sweep's results when every one of its cells is stored, else the smoke ones."""
    from ..sweep._plan import plan
    from ..sweep._spec import load_sweep
    from ..sweep._store import Store

    sweep_file = sweep_path(fig)
    partial = []
    for folder, smoke in ((results / fig.sweep, False), (results / "smoke" / fig.sweep, True)):
        if not (folder / "cells").is_dir():
            continue
        planned = plan(load_sweep(sweep_file, smoke=smoke).cells, Store(folder))
        counts, total = planned.counts(), len(planned.state)
        if counts["missing"] + counts["failed"]:
            partial.append(f"{folder} has {total - counts['missing'] - counts['failed']}/{total} cells")
            continue
        stale = planned.keys("changed", "outdated")
        if stale:  # drawn from other code or other settings than the sweep's: never without a word
            partial.append(f"{folder}: {len(stale)}/{total} cells were computed by other code or settings "
                           f"({planned.why[stale[0]]}); re-issue the sweep with --rerun-outdated")
            console.print(f"[yellow]skipped[/yellow] {partial[-1]}", soft_wrap=True)
            continue
        df = flat_view(load_results(folder))  # the paper figures read flat columns (beta, n_memories)
        return df[df.cell_key.isin(planned.rows)].reset_index(drop=True), folder
    try:  # figures/NAME/sweep.yaml when run from the repository, as the README writes it
        sweep_file = sweep_file.relative_to(Path.cwd())
    except ValueError:
        pass
    raise FileNotFoundError(f"{fig.name} needs the results of {sweep_file}"
                            f"{' (' + '; '.join(partial) + ')' if partial else ''}: run `ambench sweep "
                            f"{sweep_file} --smoke --out {results / 'smoke' / fig.sweep}` (or without --smoke, "
                            f"--out {results / fig.sweep}), then redraw")


def draw(name: str, results: Path, out: Path) -> list[Path]:
    fig_spec = registered()[name]
    df, folder = results_for(fig_spec, results)
    style()
    fig, table, note = fig_spec.plot(df)
    paths = save(fig, out / f"{name}-{fig_spec.sweep}")
    if table is not None:
        table.to_csv(out / f"{name}-{fig_spec.sweep}.csv", index=False)
        console.print(f"[bold]{name}[/bold] {fig_spec.title} (from {folder}){': ' + note if note else ''}",
                      soft_wrap=True)
        print_table(table.drop(columns=["protocol"], errors="ignore"))  # the protocol is in the note above
    return paths


def print_table(table: pd.DataFrame, out: Console | None = None) -> None:
    """The table behind a figure; columns past the console's width go to a block below, whole
    rows each, so a log at 80 columns never shows a row wrapped in the middle."""
    out = out or console
    out.print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}", line_width=out.width),
              markup=False, highlight=False, soft_wrap=True)


def figure_names(only: str | None) -> list[str]:
    figures = registered()
    names = list(figures) if only is None else [n.strip() for n in only.split(",")]
    unknown = [n for n in names if n not in figures]
    if unknown:
        raise ValueError(f"unknown figure {unknown[0]!r}; registered: {', '.join(figures)}")
    return names


def figures_command(*, only: str | None, results: Path, out: Path) -> int:
    """Draw the named figures from stored results only (report never dispatches: `ambench
    figures --rerun-smoke` runs the smoke sweeps first, at the command line)."""
    names = figure_names(only)
    missing = []
    for n in names:
        try:
            for p in draw(n, results, out):
                console.print(f"wrote {p}")
        except FileNotFoundError as err:
            missing.append(str(err))
    if missing and not Path(results).is_dir():  # one line for the cause, not one per figure
        console.print(f"[red]missing[/red] no results folder {results} (from {Path.cwd()}): give --results DIR, the "
                      "folder holding <sweep>/ and smoke/<sweep>/ (a checkout's results/), or run the sweeps first; "
                      f"{missing[0]}", soft_wrap=True)
        return 1
    for m in missing:
        console.print(f"[red]missing[/red] {m}", soft_wrap=True)
    return 1 if missing else 0
