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
import matplotlib.ticker as ticker
import numpy as np
import pandas as pd
import seaborn as sns
from rich.console import Console

from ._pages import save
from ._style import (DASHES, MARKERS, PALETTE, THEORY_COLOUR, colours, label, line_band, log_ticks, model_colour,
                     rate_axis, size, stats, style)
from ._tables import load_results

console = Console()


@dataclass(frozen=True)
class Figure:
    """A paper figure: drawn by `plot` from the stored results of one sweep, whose results live
    in RESULTS/<sweep>/ (full) and RESULTS/smoke/<sweep>/. `sweep_file` is sweeps/<sweep>.yaml
    unless given (a figure from another package ships its own sweep file)."""

    name: str
    sweep: str  # the sweep's name: its results folder, and sweeps/<sweep>.yaml by default
    title: str
    plot: Callable[[pd.DataFrame], tuple[plt.Figure, pd.DataFrame | None, str]]
    sweep_file: Path | None = None


def _theory_chn(n):
    return {"0.138 N (AGS)": 0.138 * n, "N / (2 ln N)": n / (2 * np.log(n)), "N / (4 ln N)": n / (4 * np.log(n))}


def bootstrap_mean_crossing(k, rates, level: float, *, reps: int = 2000, seed: int = 0):
    """Bootstrap replicates of the `level` crossing of the mean success curve, resampling the
    rows of `rates` (seeds x K: one independent pattern set per seed) with replacement."""
    rng = np.random.default_rng(seed)
    rates = np.asarray(rates, float)
    picks = rng.integers(0, rates.shape[0], size=(reps, rates.shape[0]))
    return np.array([interpolate_crossing(k, rates[p].mean(axis=0), level)[0] for p in picks])


F1_CURVES = {"bits": "success_rate", "exact": "exact_rate"}  # the curve cells use criterion=bits


def plot_f1(df):
    """CHN capacity vs N, both criteria, with the three theory lines: the bisection K_c of each
    seed (mean ± sd) beside K_c read off the mean success curve over seeds (right panel) as its
    interpolated 0.9 crossing (linear in log K between the bracketing grid points) with a 95%
    bootstrap interval resampling the seeds. Protocol: random ±1 patterns, queries = the stored
    patterns themselves (up to 100), asynchronous updates to a fixed point with the sweep's cap
    (max_sweeps); bits: at most 1.5% wrong bits, exact: none wrong; K_c: success >= 0.9; one
    pattern set per seed, memories nested across K within a seed."""
    search, curves = df[df.search.astype(bool)], df[~df.search.astype(bool)]
    fig, (ax, cx) = plt.subplots(1, 2, figsize=size("double", height=3.2), layout="constrained")
    crit_colour = colours(["bits", "exact"])
    table = search.groupby(["criterion", "dim"]).capacity.agg(["mean", "std", "count"]).reset_index()
    table = table.rename(columns={"mean": "bisect_mean", "std": "bisect_sd", "count": "bisect_seeds"})
    table["ratio_mean"] = table["bisect_mean"] / table["dim"]
    table["theory"] = [0.138 * n if c == "bits" else n / (2 * math.log(n)) for c, n in zip(table.criterion, table.dim)]
    for col in ("curve_K_c", "curve_ci_low", "curve_ci_high", "curve_seeds", "curve_boot_unbracketed"):
        table[col] = np.nan
    dims = sorted(df.dim.unique())
    dim_colour = colours(dims)
    for c, crit in enumerate(("bits", "exact")):
        part = table[table.criterion == crit]
        ax.errorbar(part.dim, part.bisect_mean, yerr=part.bisect_sd, fmt="o-", color=crit_colour[crit], capsize=3, ms=4,
                    label=f"{crit}: bisection per seed (mean ± sd)")
        for dim, cur in curves.groupby("dim"):
            wide = cur.pivot_table(index="seed", columns="n_memories", values=F1_CURVES[crit])
            k, mean = wide.columns.values.astype(float), wide.mean().values
            kc, _ = interpolate_crossing(k, mean, 0.9)
            reps = bootstrap_mean_crossing(k, wide.values, 0.9, seed=int(dim))
            ok = reps[np.isfinite(reps)]
            row = (table.criterion == crit) & (table.dim == dim)
            table.loc[row, ["curve_K_c", "curve_ci_low", "curve_ci_high", "curve_seeds", "curve_boot_unbracketed"]] = (
                kc, *(np.percentile(ok, [2.5, 97.5]) if len(ok) else (np.nan, np.nan)), len(wide),
                float(np.mean(~np.isfinite(reps))))
            cx.plot(k / dim, mean, "o-" if crit == "bits" else "s--", color=dim_colour[dim], ms=3,
                    label=f"N={dim}, {crit}")
        part = table[table.criterion == crit]
        err = np.vstack([part.curve_K_c - part.curve_ci_low, part.curve_ci_high - part.curve_K_c])
        ax.errorbar(part.dim * 1.03, part.curve_K_c, yerr=err, fmt="D", color=crit_colour[crit], mfc="white",
                    capsize=3, ms=4, label=f"{crit}: 0.9 crossing of the mean curve (95% bootstrap)")
    n = np.linspace(df.dim.min(), df.dim.max(), 100)
    for (name, k), ls in zip(_theory_chn(n).items(), ("--", ":", "-.")):
        ax.plot(n, k, ls, color=THEORY_COLOUR, label=name)
    seeds, cap = search.seed.nunique(), int(df.max_sweeps.max())
    ax.set(xlabel=label("dim"), ylabel="capacity K_c (success ≥ 0.9)",
           title=f"Hebbian CHN capacity ({seeds} seeds, cap {cap} sweeps)")
    ax.legend(fontsize=5)
    cx.axhline(0.9, color=THEORY_COLOUR, lw=0.8)
    cx.set(xlabel=label("load"), ylabel="fraction of stored patterns\nretrieved (mean over seeds)",
           title="success vs load (solid: ≤ 1.5% wrong bits; dashed: exact)")
    rate_axis(cx)
    cx.legend(fontsize=5, ncol=2)
    protocol = ("queries: the stored patterns (up to 100), asynchronous updates to a fixed point, cap "
                f"{cap} sweeps; bits: <= 1.5% wrong bits, exact: none; K_c: success >= 0.9; bisection per seed "
                f"({seeds} seeds) and the 0.9 crossing of the mean curve over {curves.seed.nunique()} seeds "
                "(interpolated in log K between bracketing grid points, 95% bootstrap over seeds, 2,000 replicates)")
    return fig, table.assign(protocol=protocol), protocol


def plot_f2(df):
    """Where random starts end: histogram of the signed overlap m with the closest memory after
    convergence, one panel per interaction order n, on a log count axis; the starts that end
    exactly on a memory (m = 1) or on its negative (m = −1, an attractor too for even F) are
    drawn as their own bars. Protocol (Krotov–Hopfield App. B): N random ±1 memories, K of
    them, random ±1 starts, asynchronous updates to a fixed point."""
    ns = sorted(int(n) for n in df.n.unique())
    fig, axes = plt.subplots(1, len(ns), figsize=size("double", height=2.4), sharey=True, squeeze=False,
                             layout="constrained")
    edges = np.linspace(-1, 1, 41)
    width = edges[1] - edges[0]
    kinds = (("memory", 1.0, PALETTE[2], "ends on a memory (m = 1)"),
             ("negative", -1.0, PALETTE[3], "ends on a negative (m = −1)"))
    for ax, n in zip(axes[0], ns):
        o = np.concatenate([np.asarray(r.overlaps, float) for r in df[df.n == n].itertuples()])
        exact = {name: np.isclose(o, m, atol=1e-6) for name, m, _, _ in kinds}
        rest = o[~(exact["memory"] | exact["negative"])]
        counts, _ = np.histogram(rest, bins=edges)
        ax.bar(edges[:-1], counts, width=width, align="edge", color=PALETTE[0], label="elsewhere (|m| < 1)")
        for name, m, colour, text in kinds:
            ax.bar(m - width / 2, exact[name].sum(), width=width, color=colour, label=text)
        ax.set_yscale("log")
        ax.set_ylim(0.7, len(o) * 8)
        ax.set(title=f"n = {n}", xlim=(-1.08, 1.08), xticks=[-1, -0.5, 0, 0.5, 1], xlabel="overlap m")
        ax.text(0.5, 0.97, f"memory {exact['memory'].mean():.1%}\nnegative {exact['negative'].mean():.1%}",
                transform=ax.transAxes, ha="center", va="top", fontsize=6)
    axes[0, 0].set_ylabel("random starts (log scale)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    k, d = int(df.n_memories.iloc[0]), int(df.dim.iloc[0])
    starts = int(df.n_starts.iloc[0])
    fig.suptitle(f"Dense AM F(x) = xⁿ, N = {d} neurons, K = {k} memories: where {starts:,} random ±1 starts end\n"
                 "(m: signed overlap with the closest memory after convergence)")
    fig.legend(handles, names, loc="outside lower center", ncol=3, frameon=False)
    table = df[["n", "n_memories", "dim", "n_starts", "on_memory_rate", "on_negative_rate",
                "on_memory_or_negative_rate", "mean_abs_overlap"]].sort_values("n")
    return fig, table, "signed overlap: -1 is the negative of a memory (an attractor too for even n)"


def _fit_exponent(n, k):
    """Least-squares slope of log k on log n, its standard error (from the residuals; 0 with two
    points) and the intercept."""
    x, y = np.log(n), np.log(k)
    (slope, icpt), cov = np.polyfit(x, y, 1, cov=True) if len(n) > 2 else (np.polyfit(x, y, 1), np.zeros((2, 2)))
    return slope, math.sqrt(cov[0, 0]), icpt


def interpolate_crossing(k, rate, level: float = 0.5) -> tuple[float, int]:
    """Where a success curve falls through `level`, linear in log K between the two grid points
    that bracket it: the first i (K ascending) with rate[i] >= level > rate[i+1], and
    log K* = log K_i + (rate_i − level)/(rate_i − rate_{i+1})·(log K_{i+1} − log K_i).
    Returns (K*, i); (nan, −1) when no pair of neighbours brackets the level."""
    k, rate = np.asarray(k, float), np.asarray(rate, float)
    order = np.argsort(k)
    k, rate = k[order], rate[order]
    for i in range(len(k) - 1):
        if rate[i] >= level > rate[i + 1]:
            t = (rate[i] - level) / (rate[i] - rate[i + 1])
            return float(np.exp(np.log(k[i]) + t * (np.log(k[i + 1]) - np.log(k[i])))), int(order[i])
    return float("nan"), -1


def bootstrap_crossing(k, successes, trials, level: float = 0.5, *, reps: int = 2000, seed: int = 0):
    """Bootstrap replicates of `interpolate_crossing` resampling the starts: each K's success
    count redrawn as Binomial(trials, successes/trials) (the count of a resample with replacement
    of its starts), independently per K. Returns the replicates (nan where none brackets)."""
    rng = np.random.default_rng(seed)
    k, successes, trials = (np.asarray(a, float) for a in (k, successes, trials))
    draws = rng.binomial(trials.astype(int), successes / trials, size=(reps, len(k))) / trials
    return np.array([interpolate_crossing(k, d, level)[0] for d in draws])


KHALF_PROTOCOL = ("success: the final state equals a stored memory exactly; {starts} random ±1 starts per K "
                  "({sets} fresh pattern sets x {per_set} starts); asynchronous updates to a fixed point, cap "
                  "{cap} sweeps; K_1/2 interpolated in log K between the grid points bracketing 0.5; 95% "
                  "bootstrap interval over starts (2,000 replicates); fit: least squares of log K_1/2 on log N")


def khalf_table(df, *, reps: int = 2000):
    """K_1/2 per (interaction, N) from khalf cells, with bootstrap intervals and the crossing's
    bracket, and the fitted exponent per interaction (its stderr, and a bootstrap interval of the
    slope from the same replicates)."""
    rows, boots = [], {}
    for (inter, dim), part in df.groupby(["interaction", "dim"]):
        part = part.sort_values("n_memories")
        k = part.n_memories.values.astype(float)
        trials = part.total_starts.values.astype(float)
        succ = np.round(part.success_rate.values * trials)
        khalf, i = interpolate_crossing(k, part.success_rate.values)
        reps_k = bootstrap_crossing(k, succ, trials, reps=reps, seed=int(dim))
        boots[(inter, dim)] = reps_k
        ok = reps_k[np.isfinite(reps_k)]
        rows.append({"interaction": inter, "N": int(dim), "K_half": khalf,
                     "ci_low": float(np.percentile(ok, 2.5)) if len(ok) else float("nan"),
                     "ci_high": float(np.percentile(ok, 97.5)) if len(ok) else float("nan"),
                     "boot_unbracketed": float(np.mean(~np.isfinite(reps_k))),
                     "K_below": float(part.n_memories.values[i]) if i >= 0 else float("nan"),
                     "K_above": float(part.n_memories.values[i + 1]) if i >= 0 else float("nan"),
                     "rate_below": float(part.success_rate.values[i]) if i >= 0 else float("nan"),
                     "rate_above": float(part.success_rate.values[i + 1]) if i >= 0 else float("nan"),
                     "K_grid": " ".join(str(int(x)) for x in k),
                     "starts_per_K": int(trials[0]), "max_cap_hit_rate": float(part.cap_hit_rate.max()),
                     "max_negative_rate": float(part.negative_rate.max())})
    table = pd.DataFrame(rows)
    for inter, part in table.groupby("interaction"):
        good = part[np.isfinite(part.K_half)]
        if len(good) < 2:
            continue
        slope, err, icpt = _fit_exponent(good.N.values.astype(float), good.K_half.values)
        sample = np.array([boots[(inter, n)] for n in good.N]).T  # (reps, N)
        fine = np.all(np.isfinite(sample), axis=1)
        slopes = [np.polyfit(np.log(good.N.values.astype(float)), np.log(r), 1)[0] for r in sample[fine]]
        table.loc[table.interaction == inter, ["exponent", "exponent_stderr", "exponent_boot_low",
                                               "exponent_boot_high", "intercept"]] = (
            slope, err, np.percentile(slopes, 2.5), np.percentile(slopes, 97.5), icpt)
    return table


def double_factorial(m: int) -> int:
    """m!! = m·(m−2)·(m−4)···(1 or 2), with (−1)!! = 0!! = 1."""
    return math.prod(range(m, 0, -2)) if m > 0 else 1


def krotov_hopfield_capacity(n_neurons, n: int):
    """K_max ≈ N^(n−1) / (2·(2n−3)!!·ln N): Krotov & Hopfield 2016's perfect-recovery capacity
    of F(x) = xⁿ (error probability below 1/N), with its prefactor; N = 100: 11, 360, 7,240 for
    n = 2, 3, 4."""
    n_neurons = np.asarray(n_neurons, float)
    return n_neurons ** (n - 1) / (2 * double_factorial(2 * n - 3) * np.log(n_neurons))


def plot_f3(df):
    """K_1/2 by the Krotov-Hopfield protocol (experiments/khalf.py): the success curves (left),
    K_1/2 vs N on log-log axes with bootstrap intervals and the fitted line per interaction,
    beside their perfect-recovery law N^(n−1)/(2·(2n−3)!!·ln N) with its own prefactor, not
    fitted (right). Protocol: the sweep's seeds, sets and starts (1,000 starts per K in the full
    sweep), success = the final state equals a stored memory exactly, asynchronous updates to a
    fixed point with a 100-sweep cap (cap_hit_rate in the table), K_1/2 interpolated linearly in
    log K between the two grid points bracketing 0.5, a 95% bootstrap interval resampling the
    starts (binomial per K, 2,000 replicates), the exponent a least-squares fit of log K_1/2 on
    log N (stderr from the residuals; a bootstrap interval of the slope beside it)."""
    table = khalf_table(df)
    order = int(df.n.iloc[0]) if "n" in df else 3
    fig, (a, b) = plt.subplots(1, 2, figsize=size("double", height=3.0), layout="constrained")
    dims = sorted(df.dim.unique())
    dim_colour = colours(dims)
    inter_colour = colours(sorted(df.interaction.unique()))
    for (inter, dim), part in df.groupby(["interaction", "dim"]):
        part = part.sort_values("n_memories")
        a.plot(part.n_memories, part.success_rate, "o-" if inter == "power" else "s--", color=dim_colour[dim],
               label=f"N={dim}, {inter}", ms=2.5, lw=1)
    a.axhline(0.5, color=THEORY_COLOUR, lw=0.8)
    starts = int(df.total_starts.iloc[0])
    a.set(xscale="log", xlabel=label("n_memories"), ylabel="fraction of random starts\nending on a memory",
          title=f"success vs K ({starts:,} starts per K)")
    rate_axis(a)
    a.xaxis.set_major_formatter(ticker.ScalarFormatter())
    fig.legend(*a.get_legend_handles_labels(), fontsize=5, ncol=5, loc="outside lower left", frameon=False)
    notes = []
    for i, (inter, part) in enumerate(table.groupby("interaction")):
        part = part.sort_values("N")
        err = np.vstack([part.K_half - part.ci_low, part.ci_high - part.K_half])
        b.errorbar(part.N, part.K_half, yerr=err, fmt=MARKERS[i], color=inter_colour[inter], capsize=2, ms=3.5,
                   label=f"{inter}: K_1/2 (95% bootstrap)")
        if "exponent" in part and np.isfinite(part.exponent.iloc[0]):
            n = np.linspace(part.N.min(), part.N.max(), 50)
            b.plot(n, np.exp(part.intercept.iloc[0]) * n ** part.exponent.iloc[0], DASHES[i], color=inter_colour[inter],
                   lw=1, label=f"{inter} fit: ∝ N^({part.exponent.iloc[0]:.2f} ± {part.exponent_stderr.iloc[0]:.2f})")
            notes.append(f"{inter}: exponent {part.exponent.iloc[0]:.2f} ± {part.exponent_stderr.iloc[0]:.2f} "
                         f"(bootstrap {part.exponent_boot_low.iloc[0]:.2f}–{part.exponent_boot_high.iloc[0]:.2f})")
    n = np.linspace(table.N.min(), table.N.max(), 50)
    kh = krotov_hopfield_capacity(n, order)
    kh_slope = np.polyfit(np.log(n), np.log(kh), 1)[0]
    b.plot(n, kh, ":", color=THEORY_COLOUR, lw=1.3,
           label=f"Krotov–Hopfield N^{order - 1}/(2·{2 * order - 3}!!·ln N)\n(perfect recovery, not fitted;\n"
                 f"slope {kh_slope:.2f} over this range)")
    table["krotov_hopfield"] = krotov_hopfield_capacity(table.N.values, order)
    table["K_half_over_krotov_hopfield"] = table.K_half / table.krotov_hopfield
    b.set(xscale="log", yscale="log", xlabel=label("dim"), ylabel="K_1/2 (half of the random\nstarts end on a memory)",
          title=f"dense AM n = {order}: K_1/2 vs N")
    b.set_xticks(dims, [str(int(d)) for d in dims])
    b.xaxis.set_minor_formatter(ticker.NullFormatter())
    b.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    b.yaxis.set_major_formatter(ticker.ScalarFormatter())
    b.yaxis.set_minor_formatter(ticker.NullFormatter())
    b.legend(fontsize=5.5, loc="lower right")
    law = np.polyfit(np.log(n), np.log(n**2 / np.log(n)), 1)[0]
    ratio = table.K_half_over_krotov_hopfield
    text = "; ".join(notes) + f"; N²/ln N has slope {law:.2f} over this range"
    sets, per_set = int(df.n_sets.iloc[0]), int(df.n_starts.iloc[0])
    protocol = KHALF_PROTOCOL.format(starts=sets * per_set, sets=sets, per_set=per_set, cap=int(df.max_sweeps.max()))
    note = (text + f"; K_1/2 / Krotov-Hopfield K_max: {ratio.min():.2f}–{ratio.max():.2f} (their law is for "
            "perfect recovery from the stored patterns, K_1/2 for random starts). " + protocol)
    return fig, table.assign(protocol=protocol), note


UHN_DATASETS = {"mnist-5k": "MNIST (5k subset)", "fashion_mnist-idx": "Fashion-MNIST"}
UHN_SEPARATIONS = ("identity", "square", "cube", "poly10", "softmax", "max")
UHN_NOISE = {"gaussian-abs": "clamp(|x + N(0, σ)|) (their code)", "gaussian": "clamp(x + N(0, σ))"}


def plot_f4(df):
    """UHN capacity curves: success vs stored images K per similarity (columns) and separation
    (colour), one row per dataset and corruption (their |noise| and plain Gaussian noise differ
    in the ordering); mean over seeds with 95% t-bands clipped to [0, 1].
    Protocol: single-shot retrieval, queries = stored images + Gaussian noise σ (0.5) clamped to
    [0, 1] (with and without their absolute value), 5 seeds on disjoint image blocks; success =
    squared error ≤ the sweep's `threshold` per 784 pixels (60, their code's value; their plots
    are labelled 50); softmax is softmax(β·s/Σs) with β = 1000 as in their `general_update_rule`."""
    thresholds = sorted(df.threshold.unique())
    thr = ", ".join(f"{t:g}" for t in thresholds)
    sigma = ", ".join(f"{v:g}" for v in sorted(df.noise_level.unique()))
    queries = [(d, k) for d in UHN_DATASETS if d in set(df.dataset) for k in UHN_NOISE if k in set(df.noise_kind)]
    sims = [s for s in ("dot", "euclidean", "manhattan") if s in set(df.similarity)]
    seps = [x for x in UHN_SEPARATIONS if x in set(df.separation)]
    sep_colour = colours(seps)
    table_s = stats(df, ["dataset", "noise_kind", "similarity", "separation", "n_memories"], "threshold_rate")
    fig, axes = plt.subplots(len(queries), len(sims), figsize=size("double", height=1.75 * len(queries) + 0.9),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    for r, (dataset, kind) in enumerate(queries):
        for c, sim in enumerate(sims):
            ax = axes[r, c]
            for i, sep in enumerate(seps):
                s = table_s[(table_s.dataset == dataset) & (table_s.noise_kind == kind) & (table_s.similarity == sim)
                            & (table_s.separation == sep)]
                line_band(ax, s.n_memories, s, color=sep_colour[sep], marker=MARKERS[i], ms=2.2, lw=0.9, label=sep)
            ax.set_xscale("log")
            rate_axis(ax)
            if r == 0:
                ax.set_title(f"{sim} similarity")
            if c == len(sims) - 1:
                ax.text(1.04, 0.5, f"{UHN_DATASETS[dataset]}\n{UHN_NOISE[kind]}", transform=ax.transAxes,
                        rotation=270, va="center", ha="left", fontsize=6)
            if r == len(queries) - 1:
                ax.set_xlabel("stored images K")
        axes[r, 0].set_ylabel("fraction retrieved")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.suptitle(f"Universal Hopfield Networks: fraction retrieved (squared error ≤ {thr} per 784 pixels, their "
                 f"code's; their plots say 50)\nvs stored images K, Gaussian noise σ = {sigma}, "
                 f"{df.seed.nunique()} seeds")
    fig.legend(handles, names, loc="outside lower center", ncol=len(seps), title="separation", frameon=False)
    table = (df.groupby(["dataset", "noise_kind", "similarity", "separation"])[["threshold_rate", "nearest_rate"]]
             .mean().reset_index())
    protocol = (f"threshold_rate: squared error <= {thr} per 784 pixels (their code; their plots are labelled 50); "
                "nearest_rate: the nearest stored image (Euclidean) is the right one; mean over N and seeds; "
                f"softmax(beta*s/sum(s)), beta = 1000; sigma = {sigma}; single shot; bands: 95% t over seeds, "
                "clipped to [0, 1]")
    table = table.assign(threshold=thr, protocol=protocol)
    return fig, table, ("mean over N of the success rates; higher = more capacity. gaussian-abs = "
                        "clamp(|x + N(0, σ)|, 0, 1) as in their code; gaussian = clamp(x + N(0, σ), 0, 1). "
                        + protocol)


F5_KINDS = ("gaussian", "mask_rows", "salt_pepper")


def plot_f5(df):
    """Success (the retrieved state is nearest, in Euclidean distance, to its own stored image)
    vs corruption level, one panel per corruption, one line per model: mean over seeds with a
    95% t-band clipped to [0, 1]. Protocol: the sweep's K stored images and queries (the stored
    images corrupted, then encoded like the memories), `nearest_rate` per cell."""
    kinds = [k for k in F5_KINDS if k in set(df.noise_kind)] + sorted(set(df.noise_kind) - set(F5_KINDS))
    models = sorted(df.model.unique())
    fig, axes = plt.subplots(1, len(kinds), figsize=size("double"), sharey=True, squeeze=False, layout="constrained")
    table = stats(df, ["model", "noise_kind", "noise_level"], "nearest_rate")
    for ax, kind in zip(axes[0], kinds):
        for i, model in enumerate(models):
            s = table[(table.model == model) & (table.noise_kind == kind)]
            line_band(ax, s.noise_level, s, color=model_colour(model), marker=MARKERS[i], ls=DASHES[i % 4],
                      label=model)
        ax.set(xlabel=label("noise_level", noise_kind=kind))
        rate_axis(ax)
        chn = table[(table.model == "chn") & (table.noise_kind == kind)]
        if len(chn) and chn["mean"].max() <= 1.5 / df.n_memories.iloc[0]:  # say what a flat line at 1/K is
            ax.text(0.03, 0.05, f"chn: {chn['mean'].max():.2f} = 1/K at every level", transform=ax.transAxes,
                    fontsize=5.5, color=model_colour("chn"), va="bottom")
    axes[0, 0].set_ylabel("success rate\n(nearest stored image)")
    k, q, seeds = int(df.n_memories.iloc[0]), int(df.n_queries.iloc[0]), df.seed.nunique()
    fig.suptitle(f"Retrieval under corruption, MNIST (5k subset): K = {k} stored images, {q} queries, "
                 f"{seeds} seeds (mean, 95% t-interval)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=len(models), frameon=False)
    protocol = (f"K = {k} stored images, {q} queries (stored images corrupted in [0, 1], then encoded like the "
                f"memories), success = the retrieved state is nearest (Euclidean) to its own image; mean over "
                f"{seeds} seeds, 95% Student-t band clipped to [0, 1]")
    return fig, table.assign(protocol=protocol), protocol


def _mean_trace(traces) -> np.ndarray:
    """Mean of energy traces of unequal length, each held at its last value after it ends."""
    traces = [np.asarray(t, float) for t in traces if t is not None and len(t)]
    n = max(len(t) for t in traces)
    return np.mean([np.pad(t, (0, n - len(t)), mode="edge") for t in traces], axis=0)


def plot_f6(df):
    """Steps to convergence vs load K/N (left: mean over seeds, 95% t-band, models dodged and
    told apart by marker and line style) and the mean energy traces, normalised to run from 1
    at the start to 0 at the end, at the lowest and highest load (right). Protocol: random ±1
    patterns, queries with the sweep's fraction of flipped bits, each model's own stopping rule
    (discrete: a full sweep without a flip; softmax: the update tolerance) and step cap."""
    models = sorted(df.model.unique())
    fig, (a, b) = plt.subplots(1, 2, figsize=size("double"), layout="constrained")
    table = stats(df, ["model", "load"], "steps")
    extra = df.groupby(["model", "load"])[["energy_monotone_rate", "converged_rate"]].mean().reset_index()
    table = table.merge(extra, on=["model", "load"])
    for i, model in enumerate(models):
        s = table[table.model == model]
        line_band(a, s.load, s, color=model_colour(model), marker=MARKERS[i], ls=DASHES[i % 4], logx=True,
                  dodge=0.025 * (i - (len(models) - 1) / 2), label=model, ms=4, mfc="white" if i % 2 else None)
    log_ticks(a, sorted(df.load.unique())[::2] + [df.load.max()])
    a.set(xlabel=label("load"), ylabel="steps to convergence\n(sweeps or updates)", ylim=(0, None))
    a.legend(title="model")
    loads = sorted(df.load.unique())
    shown = [loads[0], loads[-1]]
    for i, model in enumerate(models):
        for j, load in enumerate(shown):
            part = df[(df.model == model) & (df.load == load)]
            e = _mean_trace(part.energy_trace)
            if len(e) < 2:
                continue
            e = (e - e[-1]) / (abs(e[0] - e[-1]) or 1.0)
            b.plot(np.arange(len(e)), e, ls=DASHES[j], marker=MARKERS[i], ms=2.5, color=model_colour(model),
                   lw=2.4 - 0.7 * i, label=f"{model}, K/N = {load:g}")
    b.set(xlabel="step (sweep or update)", ylabel="normalised energy\n(E − E_final)/|E_0 − E_final|")
    b.legend(ncol=1, fontsize=5.5)
    b.text(0.98, 0.5, "mean over all queries, each\nheld at its final energy once\nit has stopped",
           transform=b.transAxes, ha="right", va="center", fontsize=5.5, color="0.3")
    n, rho, seeds = int(df.dim.iloc[0]), float(df.noise_level.iloc[0]), df.seed.nunique()
    fig.suptitle(f"Convergence vs load: random ±1 patterns, N = {n}, queries with {rho:.0%} flipped bits, "
                 f"{seeds} seeds")
    worst = float(df.energy_monotone_rate.min())
    note = (f"mean over {seeds} seeds with 95% t-bands; energy traces averaged over queries and seeds; "
            f"lowest energy_monotone_rate of any cell: {worst:g}")
    return fig, table.assign(protocol=note), note


def plot_f7(df):
    """Retrieval throughput (TFLOP/s, 4·B·K·D per step) vs K per precision, beside the ceiling
    measured in the same cell (the same T steps with the softmax taken out: the retrieval's two
    matmuls at its own shapes and precision; experiments/throughput.py), and their ratio. Both
    are the best of the cell's repeats; mean over seeds with 95% t-bands."""
    precisions = [p for p in ("fp32", "tf32", "bf16") if p in set(df.precision)]
    col = colours(precisions)
    fig, (a, b) = plt.subplots(1, 2, figsize=size("double"), layout="constrained")
    table = stats(df, ["precision", "n_memories"], "tflops")
    ceiling = stats(df, ["precision", "n_memories"], "matmul_tflops")
    frac = stats(df, ["precision", "n_memories"], "ceiling_fraction")
    for i, prec in enumerate(precisions):
        s, c, f = (t[t.precision == prec] for t in (table, ceiling, frac))
        line_band(a, s.n_memories, s, color=col[prec], marker=MARKERS[i], label=f"{prec} retrieval")
        a.plot(c.n_memories, c["mean"], ls=":", color=col[prec], lw=1.4, label=f"{prec} ceiling")
        line_band(b, f.n_memories, f, color=col[prec], marker=MARKERS[i], label=prec)
    ks = sorted(df.n_memories.unique())
    for ax in (a, b):
        log_ticks(ax, ks)
        ax.set(xlabel=label("n_memories"))
    a.set(ylabel=label("tflops"), ylim=(0, None))
    a.legend(fontsize=5, ncol=3, loc="lower left", columnspacing=0.8, handlelength=1.8)
    b.axhline(1.0, color=THEORY_COLOUR, lw=0.8)
    b.set(ylabel="retrieval / ceiling", ylim=(0, 1.1))
    b.legend(title="precision")
    device = df.device.iloc[0] if "device" in df else "?"
    bb, d, t, seeds = int(df.batch.iloc[0]), int(df.dim.iloc[0]), int(df.n_steps.iloc[0]), df.seed.nunique()
    reps = int(df.repeats.iloc[0]) if "repeats" in df else 0
    fig.suptitle(f"Softmax-DAM retrieval throughput on {device}: B = {bb}, D = {d}, T = {t} steps, "
                 f"{seeds} seeds, best of {reps} calls")
    fig.supxlabel("ceiling (dotted): the same T steps without the softmax, x ← (x Ξᵀ) Ξ, i.e. the retrieval's two "
                  "matmuls (B×D by D×K, B×K by K×D) at its precision,\ntimed in turn with the retrieval in the same "
                  "cell (best call of each); bands: 95% t-intervals over seeds", fontsize=5.5, color="0.3")
    wide = table.merge(ceiling, on=["precision", "n_memories"], suffixes=("", "_ceiling"))
    wide = wide.merge(frac, on=["precision", "n_memories"], suffixes=("", "_fraction"))
    worst = float(df.ceiling_fraction.max())
    note = ("ceiling (dotted): the same T steps with the softmax taken out, x <- (x Xi^T) Xi on orthonormalised "
            "memories, i.e. the retrieval's two matmuls (B x D by D x K, B x K by K x D) at its precision, called in "
            f"turn with the retrieval (compiled outside the clock, blocked, best of {reps} each); largest "
            f"retrieval/ceiling of any cell: {worst:.3f}")
    return fig, wide.assign(protocol=note), note


def plot_f8(df):
    """The conditional (image, label, memory) HAM: the image generated for each clamped label by
    the most trained, largest model (top) and test accuracy with the image clamped and the label
    read out (bottom): bars are means over seeds with 95% t-intervals clipped to [0, 1], dots the
    seeds; chance is 0.1."""
    trained = df.sort_values(["train_steps", "n_memories"]).iloc[-1]
    shape = tuple(trained.image_shape)
    images = np.asarray(trained.generated, float)
    fig = plt.figure(figsize=size("double", height=3.4), layout="constrained")
    grid = fig.add_gridspec(2, len(images), height_ratios=(1, 2.6))
    for c, im in enumerate(images):
        ax = fig.add_subplot(grid[0, c])
        ax.imshow(im.reshape(shape)[0], cmap="gray")
        ax.set_axis_off()
        ax.set_title(f"label {c}", fontsize=6.5)
    ax = fig.add_subplot(grid[1, :])
    table = stats(df, ["n_memories", "train_steps"], "accuracy")
    ks, steps = sorted(df.n_memories.unique()), sorted(df.train_steps.unique())
    col, width = colours(steps), 0.8 / len(steps)
    for j, t in enumerate(steps):
        s = table[table.train_steps == t].set_index("n_memories").loc[ks]
        pos = np.arange(len(ks)) + (j - (len(steps) - 1) / 2) * width
        err = np.vstack([s["mean"] - s["lo"], s["hi"] - s["mean"]])
        ax.bar(pos, s["mean"], width=width * 0.95, yerr=err, capsize=2, color=col[t], alpha=0.85,
               label="untrained (stored pairs only)" if t == 0 else f"{t} Adam steps")
        for p, k in zip(pos, ks):
            seeds = df[(df.n_memories == k) & (df.train_steps == t)].accuracy
            ax.plot(np.full(len(seeds), p), seeds, "o", color="black", ms=2, alpha=0.7)
    ax.axhline(0.1, color=THEORY_COLOUR, lw=0.8, ls=":", label="chance (10 classes)")
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set(xlabel="stored (image, label) pairs K", ylabel=label("accuracy"), ylim=(0, 1))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    n_test, seeds = int(df.n_test.iloc[0]), df.seed.nunique()
    fig.suptitle(f"Conditional HAM on MNIST (5k subset): one image per clamped label (top; "
                 f"K = {int(trained.n_memories)}, {int(trained.train_steps)} steps) and accuracy on {n_test} test "
                 f"images,\n{seeds} seeds (bottom)")
    return fig, table, "bars: mean over seeds, 95% t-interval clipped to [0, 1]; dots: seeds"


def rate_function(x: float) -> float:
    """I(x) = ½[(1+x)ln(1+x) + (1−x)ln(1−x)] (Demircigil et al. 2017), with 0·ln 0 = 0."""
    xlogx = lambda y: 0.0 if y == 0 else y * math.log(y)  # noqa: E731
    return 0.5 * (xlogx(1 + x) + xlogx(1 - x))


def exp_capacity_alpha(rho: float) -> float:
    """α = I(1 − 2ρ)/2: K = exp(αN) patterns are retrieved in one sweep from probes with a
    fraction ρ of flipped bits (their bound)."""
    return rate_function(1 - 2 * rho) / 2


def fit_growth(n, k):
    """Least-squares slope g of ln K on N (ln K = a + g·N), its standard error and a."""
    n, y = np.asarray(n, float), np.log(np.asarray(k, float))
    if len(n) > 2:
        (g, a), cov = np.polyfit(n, y, 1, cov=True)
        return float(g), float(math.sqrt(cov[0, 0])), float(a)
    g, a = np.polyfit(n, y, 1)
    return float(g), float("nan"), float(a)


def plot_f9(df):
    """Exponential DAM capacity K_c vs N on a log scale, per probe noise ρ, beside exp(αN) with
    α = I(1−2ρ)/2 (Demircigil et al. 2017). Protocol: random ±1 patterns, F = exp(x), probes =
    stored patterns with exactly round(ρN) flipped bits, one asynchronous sweep (max_sweeps 1;
    the state after it is scored, converged or not), K_c = the largest K at which ≥ 90% of 100
    probes end exactly on their pattern (capacity search: doubling from 2, then bisection), one
    search per seed; the growth rate g is the least-squares slope of ln K_c on N over every
    seed's K_c (stderr from the residuals), reported beside α."""
    df = df.assign(rho=df.noise_level.astype(float))
    fig, ax = plt.subplots(figsize=size("single", height=3.4), layout="constrained")
    rho_colour = colours(sorted(df.rho.unique()))
    rows = []
    for c, (rho, part) in enumerate(df.groupby("rho")):
        alpha = exp_capacity_alpha(rho)
        good = part[part.capacity > 0]
        g, err, a = fit_growth(good.dim, good.capacity)
        ax.scatter(part.dim, part.capacity.clip(lower=0.8), s=12, color=rho_colour[rho], alpha=0.6)
        geo = part.groupby("dim").capacity.apply(lambda x: float(np.exp(np.mean(np.log(np.maximum(x, 1))))))
        ax.plot(geo.index, geo.values, "-", color=rho_colour[rho], label=f"ρ = {rho:g}: measured (growth {g:.3f}/N)")
        n = np.linspace(part.dim.min(), part.dim.max(), 50)
        ax.plot(n, np.exp(alpha * n), "--", color=rho_colour[rho], label=f"ρ = {rho:g}: exp(αN), α = {alpha:.3f}")
        for dim, cell in part.groupby("dim"):
            rows.append({"rho": rho, "N": int(dim), "flipped_bits": int(round(rho * dim)),
                         "K_c_seeds": " ".join(str(int(v)) for v in cell.sort_values("seed").capacity),
                         "K_c_geomean": geo[dim], "exp_alpha_N": math.exp(alpha * dim),
                         "ratio": geo[dim] / math.exp(alpha * dim), "alpha": alpha, "growth_fit": g,
                         "growth_stderr": err, "growth_intercept": a, "n_seeds": len(cell),
                         "success_at_K_c": float(cell.success_rate.mean())})
    ax.set(yscale="log", xlabel=label("dim"), ylabel="capacity K_c (≥ 90% of probes\nexact after one sweep)",
           title="exponential DAM: capacity vs N\n(points: seeds; solid: geometric mean; dashed: exp(αN))")
    ax.legend(fontsize=5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    table = pd.DataFrame(rows)
    fits = table.groupby("rho")[["growth_fit", "growth_stderr", "alpha"]].first()
    text = "; ".join(f"ρ={r:g}: growth {f.growth_fit:.3f} ± {f.growth_stderr:.3f} vs α = {f.alpha:.3f}"
                     for r, f in fits.iterrows())
    protocol = ("random ±1 patterns, F = exp(x); probes: stored patterns with round(rho*N) flipped bits; one "
                "asynchronous sweep (max_sweeps 1, scored converged or not); K_c: largest K with >= 90% of "
                f"{int(df.n_queries.iloc[0])} probes exact (doubling then bisection); {df.seed.nunique()} seed(s); "
                "growth: least squares of ln K_c on N over all seeds; alpha = I(1-2rho)/2")
    return fig, table.assign(protocol=protocol), text + ". " + protocol


def only_value(df, column: str):
    """The one value of `column` in a figure's rows: a setting the figure states in its text
    must not silently vary (else the text would be wrong for some of the drawn cells)."""
    values = df[column].dropna().unique()
    if len(values) != 1:
        raise ValueError(f"the figure states one {column}, but its rows have {sorted(values)}: split the sweep")
    return values[0]


F10_DATASETS = {"random": ("random ±1 patterns", "-", "o"), "random-sphere": ("random on the sphere", "-.", "^"),
                "mnist-5k": ("mnist-5k as loaded", "--", "s")}


def _f10_patterns(df) -> pd.Series:
    """What was stored: the dataset, with random patterns split by encoding (±1 or sphere)."""
    enc = df["encoding"] if "encoding" in df else pd.Series("binary", index=df.index)
    return df.dataset.where(~((df.dataset == "random") & (enc == "sphere")), "random-sphere")


def plot_f10(df):
    """Ramsauer et al. 2020 (arXiv:2008.02217v3) by their definitions: the update is their
    Eq. (3), f(ξ) = X softmax(β Xᵀξ) (dam-softmax, similarity=dot, method=update, float64);
    separation Δ_i = x_iᵀx_i − max_{j≠i} x_iᵀx_j (Eq. (5)); the bound checked is Theorem 5
    (appendix Theorem A9), Eq. (8) (numbered by sequence: Theorem 4 is Eqs. (6)-(7), attention
    Eq. (10)): ‖f(ξ) − x_i‖ ≤ 2 (N−1) exp(−β (Δ_i − 2 max{‖ξ − x_i‖, ‖x_i* − x_i‖} M)) M,
    N = K stored patterns, M = max_i ‖x_i‖, x_i* the fixed point the iteration from ξ reaches.
    Patterns: random ±1 (norm √N), random uniform on the sphere of radius √N, mnist-5k as
    loaded. Protocol: K patterns per seed (fresh per seed), the first min(200, K) probed with
    ξ = x_i + r M u (u a seeded random unit vector, r = query_noise; r = 0 is the stored
    pattern); retrieved in one update = the iteration from ξ converged (no component moves by
    more than 1e-4) within the cap of 100 steps to a fixed point x* nearest to x_i and
    ‖f(ξ) − x*‖ ≤ ε M (ε = 1e-3); steps to that fixed point (the confirming step not counted;
    cap hits counted); mean ± sd over seeds, no interpolation."""
    df = df.assign(beta=df.beta.astype(float), query_noise=df.query_noise.astype(float), patterns=_f10_patterns(df))
    noises = sorted(df.query_noise.unique())
    ks = sorted(df.n_memories.unique())
    colours = dict(zip(ks, sns.color_palette("viridis", len(ks))))
    fig, axes = plt.subplots(2, 2, figsize=(11.5, 8.4), gridspec_kw={"hspace": 0.33, "wspace": 0.25})
    if len(noises) != 2:
        raise ValueError(f"F10 draws two query-noise panels; the rows have query_noise {noises}")
    for column in ("epsilon", "max_steps", "similarity", "method"):
        only_value(df, column)
    panels = [(axes[0, c], r) for c, r in enumerate(noises)]
    for ax, r in panels:
        for (ds, k), part in df[df.query_noise == r].groupby(["patterns", "n_memories"]):
            g = part.groupby("beta").one_step_rate.agg(["mean", "std"]).reset_index()
            label, ls, mk = F10_DATASETS.get(ds, (ds, ":", "^"))
            ax.errorbar(g.beta, g["mean"], yerr=g["std"].fillna(0), fmt=mk + ls, color=colours[k], ms=3.5, capsize=2,
                        label=f"{label}, K={k}")
        ax.set(xscale="log", ylim=(-0.03, 1.03), xlabel="β", ylabel="fraction retrieved in one update",
               title=f"one-update retrieval, query ξ = x_i + {r:g}·M·u" if r else
               "one-update retrieval, query = the stored pattern")
        ax.legend(fontsize=6)
    ax = axes[1, 0]
    zero = df[df.query_noise == noises[0]]
    for (ds, k), part in zero.groupby(["patterns", "n_memories"]):
        g = part.groupby("beta").steps_mean.agg(["mean", "std"]).reset_index()
        label, ls, mk = F10_DATASETS.get(ds, (ds, ":", "^"))
        ax.errorbar(g.beta, g["mean"], yerr=g["std"].fillna(0), fmt=mk + ls, color=colours[k], ms=3.5, capsize=2,
                    label=f"{label}, K={k}")
    cap = int(df.max_steps.max())
    ax.set(xscale="log", yscale="symlog", xlabel="β", ylabel=f"updates to a fixed point (cap {cap})",
           title=f"steps from the stored pattern (query_noise {noises[0]:g}); cap hits in the table")
    ax.legend(fontsize=6)
    ax = axes[1, 1]
    floor, top = -18.0, 3.0
    for c, (ds, part) in enumerate(df.groupby("patterns")):
        scale = [np.log10(float(m)) for m in part.pattern_norm_max]  # both axes in units of M
        err = np.concatenate([np.asarray(v, float) / 10**s for v, s in zip(part.error, scale)])
        logb = np.concatenate([np.asarray(v, float) - s for v, s in zip(part.log10_bound, scale)])
        with np.errstate(divide="ignore"):
            loge = np.maximum(np.log10(err), floor)
        ax.scatter(np.clip(logb, floor, top), loge, s=2, alpha=0.25, color=f"C{c}",
                   label=f"{F10_DATASETS.get(ds, (ds,))[0]} ({len(err)} probes)")
    ax.plot([floor, top], [floor, top], "k-", lw=0.8, label="error = bound")
    ax.axvline(np.log10(2.0), color="gray", lw=0.8, ls=":", label="bound = 2M (any error is below 2M)")
    total, bad = int(df.n_probed.sum()), int(df.bound_violations.sum())
    ax.set(xlabel=f"log10 (Theorem 5 bound, Eq. 8) / M, clipped to [{floor:g}, {top:g}]",
           ylabel=f"log10 ‖f(ξ) − x_i‖ / M  (0 drawn at {floor:g})",
           title=f"measured one-step error vs bound: {bad} of {total} above it")
    ax.legend(fontsize=6, markerscale=4)
    keys = ["patterns", "n_memories", "beta", "query_noise"]
    g = df.groupby(keys)
    table = g.one_step_rate.agg(one_step_mean="mean", one_step_sd="std").join(g.agg(
        one_step_nearest_mean=("one_step_nearest_rate", "mean"),
        fixed_point_nearest_mean=("fixed_point_nearest_rate", "mean"),
        within_bound_min=("within_bound_rate", "min"), bound_violations=("bound_violations", "sum"),
        bound_informative_mean=("bound_informative_rate", "mean"), separated_mean=("separated_rate", "mean"),
        well_separated_mean=("well_separated_rate", "mean"), in_sphere_mean=("in_sphere_rate", "mean"),
        delta_median_mean=("delta_median", "mean"), pattern_norm_max=("pattern_norm_max", "mean"),
        steps_mean=("steps_mean", "mean"), steps_max=("steps_max", "max"), cap_hits=("cap_hits", "sum"),
        probes=("n_probed", "sum"), seeds=("seed", "nunique")))
    table = table.reset_index()
    protocol = (f"dam-softmax dot update (Ramsauer Eq. 3), float64; K patterns per seed ({df.seed.nunique()} seeds), "
                f"first min({int(df.n_queries.max())}, K) probed, query = x_i + r M u; bound: Theorem 5 Eq. (8); "
                "well separated: Lemma A5-A7 condition; one update: converged (max move <= 1e-4) within "
                f"{cap} steps to x* nearest x_i and ||f(xi) - x*|| <= {float(df.epsilon.max()):g} M; steps to that "
                "fixed point, cap hits counted; mean (sd) over seeds, no interpolation")
    note = (f"Theorem 5 bound violations: {bad} of {total} probes; bound below the trivial 2M for "
            f"{float(np.average(df.bound_informative_rate, weights=df.n_probed)):.3f} of them. " + protocol)
    return fig, table.assign(protocol=protocol), note


# Each F4b protocol: (key, title, noise kind, x column, x label, fixed K, fixed mask level).
F4B_PARTS = (
    ("half-mask", "bottom half masked (f = 0.5)\nvs stored images K", "mask_rows", "n_memories", "stored images K",
     None, 0.5),
    ("noise", "Gaussian noise clamp(|x + N(0, σ)|, 0, 1)\nK = 100 stored images", "gaussian-abs", "noise_level",
     "noise σ", 100, None),
    ("mask-fraction", "bottom fraction f of the rows masked\nK = 50 stored images", "mask_rows", "noise_level",
     "masked rows f", 50, None),
)
F4B_CRITERIA = {"threshold_rate": "squared error ≤ {thr}", "own_nearest_rate": "nearest stored image"}


def f4b_parts(df) -> pd.DataFrame:
    """The rows of each F4b protocol, tagged `part` and `x` (a K = 50, f = 0.5 cell is in two parts)."""
    frames = []
    for key, _, kind, x, _, k, level in F4B_PARTS:
        sel = df.noise_kind == kind
        sel &= (df.n_memories == k) if k is not None else (df.noise_level == level)
        frames.append(df[sel].assign(part=key, x=df.loc[sel, x].astype(float)))
    return pd.concat(frames, ignore_index=True)


def plot_f4b(df):
    """The rest of the Universal Hopfield Networks study (Millidge et al. 2022) by their code's
    formulas: three protocols (column groups) x two criteria (columns in each group), one row per
    dataset and similarity, one line per separation; mean over seeds with 95% t-bands clipped to [0, 1].
    Protocol: single-shot retrieval out = Ξᵀ sep(sim(Ξ, q)) / Σ sep, 5 seeds on disjoint image blocks,
    100 queries (the stored images, at most K distinct); queries with the bottom half of the rows
    set to 0, vs K = 2…1000; with clamp(|x + N(0, σ)|, 0, 1) noise, σ = 0.05…1.5 at K = 100; with
    the rows int(28 (1 − f))…27 set to 0 (their mask_continuous_img), f = 0.1…0.9 at K = 50.
    Success: their threshold (squared error ≤ the sweep's `threshold` per 784 pixels, 60 in their
    code, 50 on their plots) and the strict one (the stored image nearest to the output, in the
    model's own similarity: sum-normalised dot, Euclidean or Manhattan, is the queried one);
    softmax(β·s/Σs), β = 1000 as in their code."""
    thr = f"{only_value(df, 'threshold'):g}"  # one threshold: the panels average over nothing else
    seeds = df.seed.nunique()
    rows = f4b_parts(df)
    datasets = [d for d in UHN_DATASETS if d in set(df.dataset)]
    sims = [s for s in ("dot", "euclidean", "manhattan") if s in set(df.similarity)]
    seps = [x for x in UHN_SEPARATIONS if x in set(df.separation)]
    parts = [p for p in F4B_PARTS if p[0] in set(rows.part)]
    sep_colour = colours(seps)
    keys = ["dataset", "part", "similarity", "separation", "x"]
    tables = {m: stats(rows, keys, m) for m in F4B_CRITERIA}
    grid = [(d, s) for d in datasets for s in sims]
    fig = plt.figure(figsize=size("double", height=1.05 * len(grid) + 1.3), layout="constrained")
    subs = fig.subfigures(1, len(parts), wspace=0.02, squeeze=False)[0]
    for p, (key, title, kind, xcol, xlabel, _, _) in enumerate(parts):
        axes = subs[p].subplots(len(grid), len(F4B_CRITERIA), sharex=True, sharey=True, squeeze=False)
        subs[p].suptitle(title, fontsize=7)
        xs = sorted(rows[rows.part == key].x.unique())
        for r, (dataset, sim) in enumerate(grid):
            for c, (metric, crit) in enumerate(F4B_CRITERIA.items()):
                ax = axes[r, c]
                t = tables[metric]
                for i, sep in enumerate(seps):
                    s = t[(t.dataset == dataset) & (t.part == key) & (t.similarity == sim) & (t.separation == sep)]
                    line_band(ax, s.x, s, color=sep_colour[sep], marker=MARKERS[i], ms=1.8, lw=0.8, label=sep)
                rate_axis(ax)
                if xcol == "n_memories":
                    log_ticks(ax, [v for v in (2, 10, 100, 1000) if min(xs) <= v <= max(xs)])
                else:
                    ax.set_xticks([0, 0.5, 1, 1.5] if kind.startswith("gaussian") else [0.1, 0.5, 0.9])
                ax.tick_params(labelsize=5.5, pad=1)
                if r == 0:
                    ax.set_title(crit.format(thr=thr), fontsize=6)
                if r == len(grid) - 1:
                    ax.set_xlabel(xlabel, fontsize=6)
                if p == 0 and c == 0:
                    ax.set_ylabel("fraction retrieved", fontsize=6)
                if p == len(parts) - 1 and c == len(F4B_CRITERIA) - 1:
                    ax.text(1.06, 0.5, f"{UHN_DATASETS[dataset]}\n{sim}", transform=ax.transAxes, rotation=270,
                            va="center", ha="left", fontsize=5.5)
        handles, names = axes[0, 0].get_legend_handles_labels()
    fig.suptitle(f"Universal Hopfield Networks, masked and noisy queries: fraction retrieved by their criterion "
                 f"(squared error ≤ {thr} per 784 pixels)\nand by the nearest stored image in the model's similarity; "
                 "single shot, "
                 f"{seeds} seed{'s' * (seeds > 1)}, mean and 95% t-band over seeds")
    fig.legend(handles, names, loc="outside lower center", ncol=len(seps), title="separation", frameon=False)
    wide = tables["threshold_rate"][keys + ["mean", "lo", "hi", "n"]].merge(
        tables["own_nearest_rate"][keys + ["mean", "lo", "hi"]], on=keys, suffixes=("_threshold", "_nearest"))
    wide = wide.rename(columns={"n": "seeds"})
    protocol = (f"single-shot UHN (Millidge et al. 2022 code's formulas), {seeds} seed(s) on disjoint image "
                "blocks; half-mask: bottom 14 of 28 rows set to 0, x = K; noise: clamp(|x + N(0, sigma)|, 0, 1), "
                "K = 100, x = sigma; mask-fraction: rows int(28 (1 - f))..27 set to 0, K = 50, x = f; "
                f"threshold: squared error <= {thr} per 784 pixels (their code; their plots say 50); nearest: the "
                "stored image nearest to the output in the model's own similarity is the queried one; "
                "softmax(beta*s/sum(s)), beta = 1000; "
                "mean over seeds, 95% t-interval clipped to [0, 1]")
    summary = wide.groupby(["dataset", "part", "similarity", "separation"])[["mean_nearest", "mean_threshold"]].mean()
    sep = "max" if "max" in seps else seps[-1]
    cell = lambda d, part, sim: summary.loc[(d, part, sim, sep)]  # noqa: E731
    best = "; ".join(f"{UHN_DATASETS[d]} {part}: " + ", ".join(
        f"{sim} {cell(d, part, sim).mean_nearest:.2f} ({cell(d, part, sim).mean_threshold:.2f})" for sim in sims)
        for d in datasets for part in [q[0] for q in parts])
    note = f"mean over x of own_nearest_rate (threshold_rate), separation {sep}: {best}. {protocol}"
    return fig, wide.assign(threshold=thr, protocol=protocol), note
F11_SEPARATIONS = {"softmax": "softmax (1-entmax)", "entmax15": "1.5-entmax", "sparsemax": "sparsemax (2-entmax)",
                   "normmax2": "2-normmax", "normmax5": "5-normmax"}
F11_QUERIES = {"mask_rows_mid": "bottom half masked (0 in [-1, 1])", "gaussian": "Gaussian noise, no mask"}


def plot_f11(df):
    """Sparse modern Hopfield retrieval vs K (Santos et al. 2024; their Hopfield-Fenchel-Young
    code, deep-spin/HFYN `Memory_evaluation.py`; Hu et al. 2023): x ← Ξᵀ α-entmax(β Ξ x) with
    softmax, 1.5-entmax and sparsemax, and α-normmax (α = 2, 5), images scaled to [−1, 1], every stored image queried,
    exactly 5 updates (the state after them is scored, converged or not), success = cos(x₅, ξ)
    > 0.9, 5 seeds on disjoint image blocks, one row per β (their rows: β = 1 and 0.1). Lines:
    the median over seeds with the 25–75 percentile band (what their plotting script draws);
    the CSV adds mean ± sd (sd with ddof 1, as their script prints). Mask queries (bottom half
    of the rows set to 0) are their memory-capacity protocol; the Gaussian columns (σ = 2.5 in
    [−1, 1] units, no mask) and Fashion-MNIST are not in their paper."""
    df = df.assign(sigma_signed=np.where(df.noise_kind == "gaussian", 2 * df.noise_level.astype(float), 0.0))
    steps, tol, min_cos, seeds = (only_value(df, "max_steps"), only_value(df, "tol"), only_value(df, "min_cosine"),
                                  df.seed.nunique())
    cols = [(d, q) for q in F11_QUERIES for d in sorted(df.dataset.unique()) if q in set(df.noise_kind)]
    betas = sorted(df.beta.unique(), reverse=True)
    fig, axes = plt.subplots(len(betas), len(cols), figsize=(3.3 * len(cols), 2.9 * len(betas)), sharex=True,
                             sharey=True, squeeze=False)
    rows = []
    for r, beta in enumerate(betas):
        for c, (dataset, kind) in enumerate(cols):
            ax = axes[r, c]
            part = df[(df.beta == beta) & (df.dataset == dataset) & (df.noise_kind == kind)]
            for i, (sep, label) in enumerate(F11_SEPARATIONS.items()):
                cur = part[part.separation == sep]
                if cur.empty:
                    continue
                by_k = cur.groupby("n_memories").success_rate
                stats = pd.DataFrame({"median": by_k.median(), "q25": by_k.quantile(0.25), "q75": by_k.quantile(0.75),
                                      "mean": by_k.mean(), "sd": by_k.std(ddof=1), "n_seeds": by_k.count()})
                ax.plot(stats.index, stats["median"], "o-", ms=3, color=f"C{i}", label=label)
                ax.fill_between(stats.index, stats.q25, stats.q75, color=f"C{i}", alpha=0.2, linewidth=0)
                for k, st in stats.iterrows():
                    rows.append({"dataset": dataset, "queries": kind, "sigma_signed": float(cur.sigma_signed.iloc[0]),
                                 "mask_fraction": float(cur.noise_level.iloc[0]) if kind == "mask_rows_mid" else 0.0,
                                 "beta": beta, "separation": sep, "K": int(k), **st.to_dict(),
                                 "n_seeds": int(st.n_seeds)})
            in_paper = dataset.startswith("mnist") and kind == "mask_rows_mid"
            ax.set_title(f"{dataset}, β = {beta:g}\n{F11_QUERIES[kind]}" + ("" if in_paper else " (not in the paper)"),
                         fontsize=7.5)
            ax.set(xscale="log", ylim=(0, 1.05))
            ax.xaxis.set_major_locator(ticker.LogLocator(base=2))
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            if r == len(betas) - 1:
                ax.set_xlabel("stored images K")
            if c == 0:
                ax.set_ylabel(f"success rate\n(cos > {min_cos:g} after {steps} updates)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"F11: sparse modern Hopfield retrieval vs K (median over {seeds} seeds, 25-75% band); mnist-5k mask "
                 "columns follow Santos et al.'s protocol, the others are ambench variants", fontsize=9)
    fig.tight_layout()
    table = pd.DataFrame(rows)
    protocol = ("x <- Xi^T entmax_alpha(beta Xi x), dot scores; images 2x-1 in [-1,1]; all K stored images queried; "
                f"exactly {int(steps)} updates (tol {tol:g}: only an exact fixed point stops "
                f"earlier; scored converged or not); success: cos(state, stored image) > {min_cos:g}; "
                f"{df.seed.nunique()} seeds (disjoint image blocks); mask: bottom half of rows set to 0 in [-1,1]; "
                "gaussian: clamp(x + N(0, sigma_signed^2), -1, 1), no mask; median, quartiles (linear), mean, sd "
                "(ddof 1) over seeds per K; no interpolation")
    return fig, table.assign(protocol=protocol), protocol


FIGURES = {f.name: f for f in [
    Figure("F1", "f1-chn-capacity", "CHN capacity vs N", plot_f1),
    Figure("F2", "f2-attractors", "Krotov-Hopfield Appendix B", plot_f2),
    Figure("F3", "f3-khalf", "K_1/2 vs N, n = 3", plot_f3),
    Figure("F4", "f4-uhn", "Universal Hopfield Networks capacity", plot_f4),
    Figure("F4b", "f4b-uhn-masks-noise", "Universal Hopfield Networks masks and noise", plot_f4b),
    Figure("F5", "f5-noise", "success vs corruption", plot_f5),
    Figure("F6", "f6-convergence", "convergence vs load", plot_f6),
    Figure("F7", "f7-throughput", "throughput vs K", plot_f7),
    Figure("F8", "f8-conditional", "conditional HAM", plot_f8),
    Figure("F9", "f9-exp-capacity", "exponential DAM capacity vs N", plot_f9),
    Figure("F10", "f10-modern-hopfield", "modern Hopfield one-update retrieval", plot_f10),
    Figure("F11", "f11-sparse", "sparse modern Hopfield retrieval vs K", plot_f11),
]}


def sweep_path(fig: Figure) -> Path:
    from ..sweep._cells import ROOT

    return Path(fig.sweep_file) if fig.sweep_file is not None else ROOT / "sweeps" / f"{fig.sweep}.yaml"


PLUGIN_GROUP = "ambench.figures"


def registered() -> dict[str, Figure]:
    """The built-in figures and those other installed packages add: an entry point in the group
    `ambench.figures` names a `Figure` (a lab's figure is drawn like F1..F11)."""
    from importlib.metadata import entry_points

    from ..params import ConfigError

    out = dict(FIGURES)
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            fig = ep.load()
        except Exception as err:  # noqa: BLE001 - name the plugin, whatever it raised
            raise ConfigError(f"figure plugin {ep.name!r} ({ep.value}) failed to load: {type(err).__name__}: {err}; "
                              "fix or uninstall that package") from None
        if not isinstance(fig, Figure) or fig.name != ep.name:
            raise ConfigError(f"figure plugin {ep.name!r} ({ep.value}) must name an ambench.report.figures.Figure "
                              f"called {ep.name!r}")
        if fig.name in out:
            raise ConfigError(f"figure plugin {ep.name!r} ({ep.value}) reuses the name of a registered figure")
        out[fig.name] = fig
    return out


def results_for(fig: Figure, results: Path) -> tuple[pd.DataFrame, Path]:
    """The full sweep's results when every one of its cells is stored, else the smoke ones."""
    from ..sweep import cell_key
    from ..sweep._cells import outdated_reason, parameters_differ
    from ..sweep._spec import load_sweep

    sweep_file = sweep_path(fig)
    partial = []
    for folder, smoke in ((results / fig.sweep, False), (results / "smoke" / fig.sweep, True)):
        if not (folder / "cells").is_dir():
            continue
        wanted = {cell_key(c): c for c in load_sweep(sweep_file, smoke=smoke).cells}
        df = load_results(folder)
        df = df[df.cell_key.isin(wanted)]
        if len(df) < len(wanted):
            partial.append(f"{folder} has {len(df)}/{len(wanted)} cells")
            continue
        stale = [why for r in df.to_dict("records")
                 if (why := outdated_reason(r) or parameters_differ(r, wanted[r["cell_key"]]))]
        if stale:  # drawn from other code or other settings than the sweep's: never without a word
            partial.append(f"{folder}: {len(stale)}/{len(wanted)} cells were computed by other code or settings "
                           f"({stale[0]}); re-issue the sweep with --rerun-outdated")
            console.print(f"[yellow]skipped[/yellow] {partial[-1]}")
            continue
        return df, folder
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
        console.print(f"[bold]{name}[/bold] {fig_spec.title} (from {folder}){': ' + note if note else ''}")
        shown = table.drop(columns=["protocol"], errors="ignore")  # the protocol is in the note above
        console.print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"), markup=False, highlight=False)
    return paths


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
