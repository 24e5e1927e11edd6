"""The registry of paper figures: a name, the sweep it reads, a plot function.

`ambench figures` redraws every registered figure from stored results only (no experiment is
re-run): the full sweep's results when every cell is stored, else the committed smoke ones.
Each figure writes PDF and PNG with a fixed style; each may also print the table behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from rich.console import Console

from ._pages import save, style
from ._tables import load_results

console = Console()


@dataclass(frozen=True)
class Figure:
    name: str
    sweep: str  # sweeps/<sweep>.yaml
    title: str
    plot: Callable[[pd.DataFrame], tuple[plt.Figure, pd.DataFrame | None, str]]


def _theory_chn(n):
    return {"0.138 N (AGS)": 0.138 * n, "N / (2 ln N)": n / (2 * np.log(n)), "N / (4 ln N)": n / (4 * np.log(n))}


def plot_f1(df):
    """CHN capacity vs N, both criteria, with the three theory lines."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    sns.lineplot(data=df, x="dim", y="capacity", hue="criterion", marker="o", errorbar="sd", ax=ax)
    n = np.linspace(df.dim.min(), df.dim.max(), 100)
    for (label, k), ls in zip(_theory_chn(n).items(), ("--", ":", "-.")):
        ax.plot(n, k, ls, color="gray", label=label)
    ax.set(xlabel="N (neurons)", ylabel="capacity K_c", title="Hebbian CHN capacity (mean ± sd over seeds)")
    ax.legend(fontsize=7)
    table = df.groupby(["criterion", "dim"]).capacity.agg(["mean", "std", "count"]).reset_index()
    table["ratio_mean"] = table["mean"] / table["dim"]
    table["theory"] = [0.138 * n if c == "bits" else n / (2 * math.log(n)) for c, n in zip(table.criterion, table.dim)]
    return fig, table, "bits: <= 1.5% wrong bits in >= 90% of patterns; exact: no wrong bit in >= 90%"


def plot_f2(df):
    """Histogram of the overlap with the closest memory after convergence, one panel per n."""
    rows = [(int(r.n), o) for r in df.itertuples() for o in r.overlaps]
    data = pd.DataFrame(rows, columns=["n", "overlap"])
    ns = sorted(data.n.unique())
    fig, axes = plt.subplots(1, len(ns), figsize=(3 * len(ns), 3), sharey=True)
    for ax, n in zip(np.atleast_1d(axes), ns):
        ax.hist(data[data.n == n].overlap, bins=np.linspace(-1, 1, 41), color="C0")
        ax.set(title=f"n = {n}", xlabel="overlap with closest memory")
    np.atleast_1d(axes)[0].set_ylabel("random starts")
    table = df[["n", "n_memories", "dim", "n_starts", "on_memory_rate", "on_negative_rate",
                "on_memory_or_negative_rate", "mean_abs_overlap"]].sort_values("n")
    k, d = int(df.n_memories.iloc[0]), int(df.dim.iloc[0])
    fig.suptitle(f"DAM F(x)=x^n, N={d}, K={k}: where random starts end", y=1.04)
    return fig, table, "signed overlap: -1 is the negative of a memory (an attractor too for even n)"


def _fit_exponent(n, k):
    x, y = np.log(n), np.log(k)
    (slope, icpt), cov = np.polyfit(x, y, 1, cov=True) if len(n) > 2 else (np.polyfit(x, y, 1), np.zeros((2, 2)))
    return slope, math.sqrt(cov[0, 0]), icpt


def plot_f3(df):
    """K_1/2 vs N (log-log) for power and rectified n=3, fitted exponent beside the N² laws."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    sns.lineplot(data=df, x="dim", y="capacity", hue="interaction", marker="o", errorbar="sd", ax=ax)
    ax.set(xscale="log", yscale="log", xlabel="N", ylabel="K_1/2", title="DAM n=3: K_1/2 vs N")
    notes, rows = [], []
    for inter, part in df.groupby("interaction"):
        means = part.groupby("dim").capacity.mean()
        slope, err, icpt = _fit_exponent(means.index.values.astype(float), means.values.astype(float))
        rows.append({"interaction": inter, "exponent": slope, "stderr": err, "n_points": len(means)})
        notes.append(f"{inter}: exponent {slope:.2f} ± {err:.2f}")
    n = np.linspace(df.dim.min(), df.dim.max(), 50)
    ref = df[df.interaction == "power"].groupby("dim").capacity.mean()
    c2 = ref.iloc[0] / ref.index[0] ** 2
    cl = ref.iloc[0] / (ref.index[0] ** 2 / math.log(ref.index[0]))
    ax.plot(n, c2 * n**2, "--", color="gray", label="∝ N² (asymptotic)")
    ax.plot(n, cl * n**2 / np.log(n), ":", color="gray", label="∝ N²/ln N (finite size)")
    ax.legend(fontsize=7)
    law = np.polyfit(np.log(n), np.log(n**2 / np.log(n)), 1)[0]
    text = "; ".join(notes) + f"; the N²/ln N law alone has slope {law:.2f} here: below 2 is expected"
    ax.text(0.02, 0.98, text.replace("; ", "\n"), transform=ax.transAxes, va="top", fontsize=7)
    return fig, pd.DataFrame(rows), text


UHN_DATASETS = {"mnist-5k": "MNIST (5k subset)", "fashion_mnist-idx": "Fashion-MNIST"}
UHN_SEPARATIONS = ("identity", "square", "cube", "poly10", "softmax", "max")
UHN_NOISE = {"gaussian-abs": "clamp(|x + N(0, σ)|) (their code)", "gaussian": "clamp(x + N(0, σ))"}


def plot_f4(df):
    """UHN capacity curves: success vs N per similarity (columns) and separation (hue), one row
    per dataset and corruption (their |noise| and plain Gaussian noise differ in the ordering).
    Protocol: single-shot retrieval, queries = stored images + Gaussian noise σ = 0.5 clamped to
    [0, 1] (with and without their absolute value), 5 seeds on disjoint image blocks, mean ± sd;
    success = squared error ≤ the sweep's `threshold` per 784 pixels (60, their code's value;
    their plots are labelled 50); softmax is softmax(β·s/Σs) with β = 1000 as in their
    `general_update_rule`."""
    df = df.assign(queries=df.dataset.map(UHN_DATASETS).fillna(df.dataset) + "\n"
                   + df.noise_kind.map(UHN_NOISE).fillna(df.noise_kind),
                   similarity=df.similarity + " similarity")
    thresholds = sorted(df.threshold.unique())
    g = sns.relplot(data=df, x="n_memories", y="threshold_rate", hue="separation", col="similarity", row="queries",
                    hue_order=[x for x in UHN_SEPARATIONS if x in set(df.separation)],
                    palette={sep: ("black" if sep == "max" else f"C{i}") for i, sep in enumerate(UHN_SEPARATIONS)},
                    kind="line", marker="o", errorbar="sd", height=2.6, aspect=1.25,
                    facet_kws={"margin_titles": True})
    g.set(xscale="log", ylim=(0, 1.05))
    g.set_titles(row_template="{row_name}", col_template="{col_name}", size=8)
    thr = ", ".join(f"{t:g}" for t in thresholds)
    g.set_axis_labels("stored images N", f"fraction retrieved\n(squared error ≤ {thr})")
    sns.move_legend(g, "lower center", bbox_to_anchor=(0.45, -0.04), ncol=6, title="separation")
    g.figure.suptitle(f"Universal Hopfield Networks: fraction retrieved vs stored images (threshold {thr} per "
                      "784 pixels, their code's; their plots are labelled 50)", y=1.02)
    g.figure.subplots_adjust(hspace=0.25, wspace=0.08)
    table = (df.groupby(["dataset", "noise_kind", "similarity", "separation"])[["threshold_rate", "nearest_rate"]]
             .mean().reset_index())
    protocol = (f"threshold_rate: squared error <= {thr} per 784 pixels (their code; their plots are labelled 50); "
                "nearest_rate: the nearest stored image (Euclidean) is the right one; mean over N and seeds; "
                "softmax(beta*s/sum(s)), beta = 1000; sigma = 0.5; single shot")
    table = table.assign(similarity=table.similarity.str.replace(" similarity", ""), threshold=thr, protocol=protocol)
    return g.figure, table, ("mean over N of the success rates; higher = more capacity. gaussian-abs = "
                             "clamp(|x + N(0, σ)|, 0, 1) as in their code; gaussian = clamp(x + N(0, σ), 0, 1). "
                             + protocol)


def plot_f5(df):
    g = sns.relplot(data=df, x="noise_level", y="nearest_rate", hue="model", col="noise_kind", kind="line",
                    marker="o", errorbar="sd", height=3, aspect=1.1, facet_kws={"sharex": False})
    g.figure.suptitle("Retrieval under corruption (strict: nearest stored pattern)", y=1.03)
    return g.figure, df.groupby(["model", "noise_kind", "noise_level"]).nearest_rate.mean().reset_index(), ""


def plot_f6(df):
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    sns.lineplot(data=df, x="load", y="steps", hue="model", marker="o", errorbar="sd", ax=a)
    a.set(title="steps to convergence vs load K/N", ylabel="mean steps (sweeps or updates)")
    for (model, load), part in df.groupby(["model", "load"]):
        trace = part.energy_trace.iloc[0]
        if len(trace) > 1:
            e = np.asarray(trace, float)
            b.plot(np.arange(len(e)), (e - e[-1]) / (abs(e[0] - e[-1]) + 1e-12), alpha=0.6,
                   color=f"C{sorted(df.model.unique()).index(model)}")
    b.set(title="normalised energy traces (one line per model and load)", xlabel="step", ylabel="(E - E_final)/|ΔE|")
    table = df.groupby(["model", "load"])[["steps", "energy_monotone_rate", "converged_rate"]].mean().reset_index()
    return fig, table, "every trace is non-increasing (energy_monotone_rate)"


def plot_f7(df):
    fig, ax = plt.subplots(figsize=(5.5, 4))
    sns.lineplot(data=df, x="n_memories", y="tflops", hue="precision", marker="o", ax=ax)
    for prec, part in df.groupby("precision"):
        ax.axhline(part.matmul_tflops.median(), ls=":", color="gray")
    device = df.device.iloc[0] if "device" in df else "?"
    ax.set(xscale="log", xlabel="K memories", ylabel="TFLOP/s", title=f"softmax-DAM throughput on {device}")
    table = df[["precision", "n_memories", "dim", "batch", "tflops", "matmul_tflops", "ceiling_fraction",
                "queries_steps_per_s"]].sort_values(["precision", "n_memories"])
    return fig, table, "dotted: the matmul rate measured in the same run"


def plot_f8(df):
    trained = df.sort_values(["train_steps", "n_memories"]).iloc[-1]
    shape = tuple(trained.image_shape)
    images = np.asarray(trained.generated, float)
    fig = plt.figure(figsize=(10, 3.2))
    for c, im in enumerate(images):
        ax = fig.add_subplot(2, len(images), c + 1)
        ax.imshow(im.reshape(shape)[0], cmap="gray")
        ax.set_axis_off()
        ax.set_title(str(c), fontsize=8)
    ax = fig.add_subplot(2, 1, 2)
    sns.barplot(data=df, x="n_memories", y="accuracy", hue="train_steps", ax=ax, errorbar="sd")
    ax.set(ylabel="test accuracy", ylim=(0, 1))
    fig.suptitle("conditional HAM: one image per clamped label (top), classification accuracy (bottom)")
    return fig, df.groupby(["n_memories", "train_steps"]).accuracy.agg(["mean", "std", "count"]).reset_index(), ""


FIGURES = {f.name: f for f in [
    Figure("F1", "f1-chn-capacity", "CHN capacity vs N", plot_f1),
    Figure("F2", "f2-attractors", "Krotov-Hopfield Appendix B", plot_f2),
    Figure("F3", "f3-khalf", "K_1/2 vs N, n = 3", plot_f3),
    Figure("F4", "f4-uhn", "Universal Hopfield Networks capacity", plot_f4),
    Figure("F5", "f5-noise", "success vs corruption", plot_f5),
    Figure("F6", "f6-convergence", "convergence vs load", plot_f6),
    Figure("F7", "f7-throughput", "throughput vs K", plot_f7),
    Figure("F8", "f8-conditional", "conditional HAM", plot_f8),
]}


def _sweep_file(name: str) -> Path:
    from ..sweep._cells import ROOT

    return ROOT / "sweeps" / f"{name}.yaml"


def results_for(fig: Figure, results: Path) -> tuple[pd.DataFrame, Path]:
    """The full sweep's results when every one of its cells is stored, else the smoke ones."""
    from ..sweep import cell_key
    from ..sweep._spec import load_sweep

    sweep_file = _sweep_file(fig.sweep)
    partial = []
    for folder, smoke in ((results / fig.sweep, False), (results / "smoke" / fig.sweep, True)):
        if not (folder / "cells").is_dir():
            continue
        wanted = {cell_key(c) for c in load_sweep(sweep_file, smoke=smoke).cells}
        df = load_results(folder)
        df = df[df.cell_key.isin(wanted)]
        if len(df) == len(wanted):
            return df, folder
        partial.append(f"{folder} has {len(df)}/{len(wanted)} cells")
    raise FileNotFoundError(f"{fig.name} needs the results of sweeps/{fig.sweep}.yaml"
                            f"{' (' + '; '.join(partial) + ')' if partial else ''}: run `ambench sweep "
                            f"sweeps/{fig.sweep}.yaml --smoke` (or without --smoke), then redraw")


def draw(name: str, results: Path, out: Path) -> list[Path]:
    fig_spec = FIGURES[name]
    df, folder = results_for(fig_spec, results)
    style()
    fig, table, note = fig_spec.plot(df)
    paths = save(fig, out / f"{name}-{fig_spec.sweep}")
    if table is not None:
        table.to_csv(out / f"{name}-{fig_spec.sweep}.csv", index=False)
        console.print(f"[bold]{name}[/bold] {fig_spec.title} (from {folder}){': ' + note if note else ''}")
        shown = table.drop(columns=["protocol"], errors="ignore")  # the protocol is in the note above
        console.print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"), markup=False, highlight=False)
    return paths


def figures_command(*, only: str | None, results: Path, out: Path, rerun_smoke: bool = False) -> int:
    names = list(FIGURES) if only is None else [n.strip() for n in only.split(",")]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure {unknown[0]!r}; registered: {', '.join(FIGURES)}")
    if rerun_smoke:  # into the folder the figures read: <results>/smoke/<sweep>
        from ..sweep.driver import run_sweep

        for n in names:
            sweep = FIGURES[n].sweep
            run_sweep(_sweep_file(sweep), smoke=True, executor="inline", out=results / "smoke" / sweep,
                      on_interrupt="leave")
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
