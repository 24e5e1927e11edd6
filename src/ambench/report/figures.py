"""The registry of paper figures: a name, the sweep it reads, a plot function.

`ambench figures` redraws every registered figure from stored results only (no experiment is
re-run): the full sweep's results when every cell is stored, else the committed smoke ones.
Each figure writes PDF and PNG with a fixed style; each may also print the table behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import matplotlib.pyplot as plt
import pandas as pd
from rich.console import Console

from .._resources import sweeps_dir
from ..params import Registry
from ._completion_figs import plot_f12
from ._capacity_figs import (bootstrap_crossing as bootstrap_crossing, bootstrap_mean_crossing as bootstrap_mean_crossing,
                             double_factorial as double_factorial, exp_capacity_alpha as exp_capacity_alpha,
                             fit_growth as fit_growth, interpolate_crossing as interpolate_crossing,
                             khalf_table as khalf_table, krotov_hopfield_capacity as krotov_hopfield_capacity,
                             plot_f1, plot_f2, plot_f3, plot_f9, rate_function as rate_function)
from ._modern_figs import plot_f10, plot_f11
from ._pages import save
from ._style import style
from ._suite_figs import plot_f5 as plot_f5, plot_f6 as plot_f6, plot_f7 as plot_f7, plot_f8
from ._tables import flat_view, load_results as load_results
from ._uhn_figs import plot_f4, plot_f4b as plot_f4b

console = Console()


@dataclass(frozen=True)
class Figure:
    """A paper figure: drawn by `plot` from the stored results of one sweep, whose results live
    in RESULTS/<sweep>/ (full) and RESULTS/smoke/<sweep>/. `sweep_file` is sweeps/<sweep>.yaml
    unless given (a figure from another package ships its own sweep file). Made by
    `ambench.register_figure`."""

    name: str
    sweep: str  # the sweep's name: its results folder, and sweeps/<sweep>.yaml by default
    title: str
    plot: Callable[[pd.DataFrame], tuple[plt.Figure, pd.DataFrame | None, str]]
    sweep_file: Path | None = None


def _discover() -> None:
    """The built-in figures (their plot functions live in the _*_figs modules)."""
    for name, sweep, title, plot in (
        ("F1", "f1-chn-capacity", "CHN capacity vs N", plot_f1),
        ("F2", "f2-attractors", "Krotov-Hopfield Appendix B", plot_f2),
        ("F3", "f3-khalf", "K_1/2 vs N, n = 3", plot_f3),
        ("F4", "f4-uhn", "Universal Hopfield Networks capacity", plot_f4),
        ("F4b", "f4b-uhn-masks-noise", "Universal Hopfield Networks masks and noise", plot_f4b),
        ("F5", "f5-noise", "success vs corruption", plot_f5),
        ("F6", "f6-convergence", "convergence vs load", plot_f6),
        ("F7", "f7-throughput", "throughput vs K", plot_f7),
        ("F8", "f8-conditional", "conditional HAM", plot_f8),
        ("F9", "f9-exp-capacity", "exponential DAM capacity vs N", plot_f9),
        ("F10", "f10-modern-hopfield", "modern Hopfield one-update retrieval", plot_f10),
        ("F11", "f11-sparse", "sparse modern Hopfield retrieval vs K", plot_f11),
        ("F12", "f12-completion", "completing masked images across the families", plot_f12),
    ):
        register_figure(name, sweep=sweep, title=title, plot=plot)


# Paper figures by name: the built-ins, then those of installed packages (modules named in the
# entry-point group `ambench.figures` that call `ambench.register_figure`).
FIGURES: Registry[Figure] = Registry("figure", discover=_discover)


def register_figure(name: str, *, sweep: str, title: str, plot: Callable[..., Any],
                    sweep_file: str | Path | None = None) -> Figure:
    """Register a paper figure: `ambench figures --only NAME` draws it from stored results only.

    Args:
        name: the figure's name (F1, or a lab's own).
        sweep: the sweep whose results it reads (RESULTS/<sweep>/, RESULTS/smoke/<sweep>/).
        title: a few words for listings.
        plot: `plot(df) -> (matplotlib Figure, table or None, note)`.
        sweep_file: the sweep file, when it is not sweeps/<sweep>.yaml (a plugin ships its own).
    """
    return FIGURES.register(Figure(name, sweep, title, plot, None if sweep_file is None else Path(sweep_file)))


def sweep_path(fig: Figure) -> Path:
    return Path(fig.sweep_file) if fig.sweep_file is not None else sweeps_dir() / f"{fig.sweep}.yaml"


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
    try:  # sweeps/NAME.yaml when run from the repository, as the README writes it
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
    for m in missing:
        console.print(f"[red]missing[/red] {m}", markup=True)
    return 1 if missing else 0
