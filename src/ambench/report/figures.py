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
    fig, (ax, cx) = plt.subplots(1, 2, figsize=(11.5, 4.2), gridspec_kw={"wspace": 0.28})
    table = search.groupby(["criterion", "dim"]).capacity.agg(["mean", "std", "count"]).reset_index()
    table = table.rename(columns={"mean": "bisect_mean", "std": "bisect_sd", "count": "bisect_seeds"})
    table["ratio_mean"] = table["bisect_mean"] / table["dim"]
    table["theory"] = [0.138 * n if c == "bits" else n / (2 * math.log(n)) for c, n in zip(table.criterion, table.dim)]
    for col in ("curve_K_c", "curve_ci_low", "curve_ci_high", "curve_seeds", "curve_boot_unbracketed"):
        table[col] = np.nan
    dims = sorted(df.dim.unique())
    colours = dict(zip(dims, sns.color_palette("viridis", len(dims))))
    for c, crit in enumerate(("bits", "exact")):
        part = table[table.criterion == crit]
        ax.errorbar(part.dim, part.bisect_mean, yerr=part.bisect_sd, fmt="o-", color=f"C{c}", capsize=3, ms=4,
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
            cx.plot(k / dim, mean, "o-" if crit == "bits" else "s--", color=colours[dim], ms=3,
                    label=f"N={dim}, {crit}")
        part = table[table.criterion == crit]
        err = np.vstack([part.curve_K_c - part.curve_ci_low, part.curve_ci_high - part.curve_K_c])
        ax.errorbar(part.dim * 1.03, part.curve_K_c, yerr=err, fmt="D", color=f"C{c}", mfc="white", capsize=3, ms=4,
                    label=f"{crit}: 0.9 crossing of the mean curve (95% bootstrap)")
    n = np.linspace(df.dim.min(), df.dim.max(), 100)
    for (label, k), ls in zip(_theory_chn(n).items(), ("--", ":", "-.")):
        ax.plot(n, k, ls, color="gray", label=label)
    seeds, cap = search.seed.nunique(), int(df.max_sweeps.max())
    ax.set(xlabel="N, neurons", ylabel="capacity K_c (success ≥ 0.9)",
           title=f"Hebbian CHN capacity ({seeds} seeds, cap {cap} sweeps)")
    ax.legend(fontsize=6)
    cx.axhline(0.9, color="gray", lw=0.8)
    cx.set(xlabel="load K/N", ylabel="fraction of stored patterns retrieved (mean over seeds)",
           title="success vs load (solid: ≤ 1.5% wrong bits; dashed: exact)")
    cx.legend(fontsize=6, ncol=2)
    protocol = ("queries: the stored patterns (up to 100), asynchronous updates to a fixed point, cap "
                f"{cap} sweeps; bits: <= 1.5% wrong bits, exact: none; K_c: success >= 0.9; bisection per seed "
                f"({seeds} seeds) and the 0.9 crossing of the mean curve over {curves.seed.nunique()} seeds "
                "(interpolated in log K between bracketing grid points, 95% bootstrap over seeds, 2,000 replicates)")
    return fig, table.assign(protocol=protocol), protocol


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


def plot_f3(df):
    """K_1/2 by the Krotov-Hopfield protocol (experiments/khalf.py): the success curves (left),
    K_1/2 vs N on log-log axes with bootstrap intervals, the fitted line per interaction, and the
    N² and N²/ln N laws, each scaled to the power points by least squares in log K (right).
    Protocol: the sweep's seeds, sets and starts (1,000 starts per K in the full sweep), success =
    the final state equals a stored memory exactly, asynchronous updates to a fixed point with a
    100-sweep cap (cap_hit_rate in the table), K_1/2 interpolated linearly in log K between the
    two grid points bracketing 0.5, a 95% bootstrap interval resampling the starts (binomial per
    K, 2,000 replicates), the exponent a least-squares fit of log K_1/2 on log N (stderr from
    the residuals; a bootstrap interval of the slope beside it)."""
    table = khalf_table(df)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11.5, 4.2), gridspec_kw={"wspace": 0.32})
    dims = sorted(df.dim.unique())
    colours = dict(zip(dims, sns.color_palette("viridis", len(dims))))
    for (inter, dim), part in df.groupby(["interaction", "dim"]):
        part = part.sort_values("n_memories")
        a.plot(part.n_memories, part.success_rate, "o-" if inter == "power" else "s--", color=colours[dim],
               label=f"N={dim}, {inter}", ms=3)
    a.axhline(0.5, color="gray", lw=0.8)
    a.set(xscale="log", xlabel="K, stored memories", ylabel="fraction of random starts ending on a memory",
          title="success vs K (1,000 starts per K)" if df.total_starts.iloc[0] == 1000 else
          f"success vs K ({int(df.total_starts.iloc[0])} starts per K)")
    a.legend(fontsize=6, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    notes = []
    for c, (inter, part) in enumerate(table.groupby("interaction")):
        part = part.sort_values("N")
        err = np.vstack([part.K_half - part.ci_low, part.ci_high - part.K_half])
        b.errorbar(part.N, part.K_half, yerr=err, fmt="o" if inter == "power" else "s", color=f"C{c}", capsize=3,
                   label=f"{inter}: K_1/2 (95% bootstrap)")
        if "exponent" in part and np.isfinite(part.exponent.iloc[0]):
            n = np.linspace(part.N.min(), part.N.max(), 50)
            b.plot(n, np.exp(part.intercept.iloc[0]) * n ** part.exponent.iloc[0], "-", color=f"C{c}", lw=1,
                   label=f"{inter} fit: N^{part.exponent.iloc[0]:.2f}")
            notes.append(f"{inter}: exponent {part.exponent.iloc[0]:.2f} ± {part.exponent_stderr.iloc[0]:.2f} "
                         f"(bootstrap {part.exponent_boot_low.iloc[0]:.2f}–{part.exponent_boot_high.iloc[0]:.2f})")
    ref = table[(table.interaction == "power") & np.isfinite(table.K_half)]
    n = np.linspace(table.N.min(), table.N.max(), 50)
    for law, ls, label in ((lambda x: x**2, "--", "∝ N² (asymptotic)"),
                           (lambda x: x**2 / np.log(x), ":", "∝ N²/ln N (finite size)")):
        scale = np.exp(np.mean(np.log(ref.K_half.values) - np.log(law(ref.N.values.astype(float)))))
        b.plot(n, scale * law(n), ls, color="gray", label=label + ", scaled to power")
    b.set(xscale="log", yscale="log", xlabel="N, neurons", ylabel="K_1/2 (half of the random starts end on a memory)",
          title="DAM n = 3: K_1/2 vs N")
    b.set_xticks(dims, [str(int(d)) for d in dims])
    b.xaxis.set_minor_formatter(ticker.NullFormatter())
    b.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    b.yaxis.set_major_formatter(ticker.ScalarFormatter())
    b.yaxis.set_minor_formatter(ticker.NullFormatter())
    a.xaxis.set_major_formatter(ticker.ScalarFormatter())
    b.legend(fontsize=6, loc="lower right")
    law = np.polyfit(np.log(n), np.log(n**2 / np.log(n)), 1)[0]
    text = "; ".join(notes) + f"; the N²/ln N law alone has slope {law:.2f} over this range"
    b.text(0.02, 0.98, text.replace("; ", "\n"), transform=b.transAxes, va="top", fontsize=6.5)
    sets, per_set = int(df.n_sets.iloc[0]), int(df.n_starts.iloc[0])
    protocol = KHALF_PROTOCOL.format(starts=sets * per_set, sets=sets, per_set=per_set, cap=int(df.max_sweeps.max()))
    return fig, table.assign(protocol=protocol), text + ". " + protocol


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
    fig, ax = plt.subplots(figsize=(6, 4.4))
    rows = []
    for c, (rho, part) in enumerate(df.groupby("rho")):
        alpha = exp_capacity_alpha(rho)
        good = part[part.capacity > 0]
        g, err, a = fit_growth(good.dim, good.capacity)
        ax.scatter(part.dim, part.capacity.clip(lower=0.8), s=12, color=f"C{c}", alpha=0.6)
        geo = part.groupby("dim").capacity.apply(lambda x: float(np.exp(np.mean(np.log(np.maximum(x, 1))))))
        ax.plot(geo.index, geo.values, "-", color=f"C{c}", label=f"ρ = {rho:g}: measured (fitted growth {g:.3f} per unit of N)")
        n = np.linspace(part.dim.min(), part.dim.max(), 50)
        ax.plot(n, np.exp(alpha * n), "--", color=f"C{c}", label=f"ρ = {rho:g}: exp(αN), α = {alpha:.3f}")
        for dim, cell in part.groupby("dim"):
            rows.append({"rho": rho, "N": int(dim), "flipped_bits": int(round(rho * dim)),
                         "K_c_seeds": " ".join(str(int(v)) for v in cell.sort_values("seed").capacity),
                         "K_c_geomean": geo[dim], "exp_alpha_N": math.exp(alpha * dim),
                         "ratio": geo[dim] / math.exp(alpha * dim), "alpha": alpha, "growth_fit": g,
                         "growth_stderr": err, "growth_intercept": a, "n_seeds": len(cell),
                         "success_at_K_c": float(cell.success_rate.mean())})
    ax.set(yscale="log", xlabel="N, neurons", ylabel="capacity K_c (≥ 90% of probes exact after one sweep)",
           title="exponential DAM: capacity vs N (points: seeds; line: geometric mean)")
    ax.legend(fontsize=6.5)
    table = pd.DataFrame(rows)
    fits = table.groupby("rho")[["growth_fit", "growth_stderr", "alpha"]].first()
    text = "; ".join(f"ρ={r:g}: growth {f.growth_fit:.3f} ± {f.growth_stderr:.3f} vs α = {f.alpha:.3f}"
                     for r, f in fits.iterrows())
    protocol = ("random ±1 patterns, F = exp(x); probes: stored patterns with round(rho*N) flipped bits; one "
                "asynchronous sweep (max_sweeps 1, scored converged or not); K_c: largest K with >= 90% of "
                f"{int(df.n_queries.iloc[0])} probes exact (doubling then bisection); {df.seed.nunique()} seed(s); "
                "growth: least squares of ln K_c on N over all seeds; alpha = I(1-2rho)/2")
    return fig, table.assign(protocol=protocol), text + ". " + protocol


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
                ax.set_ylabel("success rate\n(cos > 0.9 after 5 updates)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("F11: sparse modern Hopfield retrieval vs K (median over 5 seeds, 25-75% band); mnist-5k mask "
                 "columns follow Santos et al.'s protocol, the others are ambench variants", fontsize=9)
    fig.tight_layout()
    table = pd.DataFrame(rows)
    protocol = ("x <- Xi^T entmax_alpha(beta Xi x), dot scores; images 2x-1 in [-1,1]; all K stored images queried; "
                f"exactly {int(df.max_steps.iloc[0])} updates (tol {df.tol.iloc[0]:g}: only an exact fixed point stops "
                f"earlier; scored converged or not); success: cos(state, stored image) > {df.min_cosine.iloc[0]:g}; "
                f"{df.seed.nunique()} seeds (disjoint image blocks); mask: bottom half of rows set to 0 in [-1,1]; "
                "gaussian: clamp(x + N(0, sigma_signed^2), -1, 1), no mask; median, quartiles (linear), mean, sd "
                "(ddof 1) over seeds per K; no interpolation")
    return fig, table.assign(protocol=protocol), protocol


FIGURES = {f.name: f for f in [
    Figure("F1", "f1-chn-capacity", "CHN capacity vs N", plot_f1),
    Figure("F2", "f2-attractors", "Krotov-Hopfield Appendix B", plot_f2),
    Figure("F3", "f3-khalf", "K_1/2 vs N, n = 3", plot_f3),
    Figure("F4", "f4-uhn", "Universal Hopfield Networks capacity", plot_f4),
    Figure("F5", "f5-noise", "success vs corruption", plot_f5),
    Figure("F6", "f6-convergence", "convergence vs load", plot_f6),
    Figure("F7", "f7-throughput", "throughput vs K", plot_f7),
    Figure("F8", "f8-conditional", "conditional HAM", plot_f8),
    Figure("F9", "f9-exp-capacity", "exponential DAM capacity vs N", plot_f9),
    Figure("F11", "f11-sparse", "sparse modern Hopfield retrieval vs K", plot_f11),
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


def figure_names(only: str | None) -> list[str]:
    names = list(FIGURES) if only is None else [n.strip() for n in only.split(",")]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure {unknown[0]!r}; registered: {', '.join(FIGURES)}")
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
