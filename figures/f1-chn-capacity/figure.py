"""F1: the classical Hopfield network's capacity vs N (Hopfield 1982; Amit, Gutfreund and
Sompolinsky 1985), both retrieval criteria, beside the three theory lines."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

import ambench
from ambench.report import (THEORY_COLOUR, bootstrap_mean_crossing, chn_theory, colours, interpolate_crossing, label,
                            line_band, rate_axis, size, stats)

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
    for crit in ("bits", "exact"):
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
            band = stats(cur, ["n_memories"], F1_CURVES[crit])
            line_band(cx, band.n_memories / dim, band, color=dim_colour[dim], marker="o" if crit == "bits" else "s",
                      ls="-" if crit == "bits" else "--", ms=3, label=f"N={dim}, {crit}")
        part = table[table.criterion == crit]
        err = np.vstack([part.curve_K_c - part.curve_ci_low, part.curve_ci_high - part.curve_K_c])
        ax.errorbar(part.dim * 1.03, part.curve_K_c, yerr=err, fmt="D", color=crit_colour[crit], mfc="white",
                    capsize=3, ms=4, label=f"{crit}: 0.9 crossing of the mean curve (95% bootstrap)")
    n = np.linspace(df.dim.min(), df.dim.max(), 100)
    for (name, k), ls in zip(chn_theory(n).items(), ("--", ":", "-.")):
        ax.plot(n, k, ls, color=THEORY_COLOUR, label=name)
    seeds, cap = search.seed.nunique(), int(df.max_sweeps.max())
    ax.set(xlabel=label("dim"), ylabel="capacity K_c (success ≥ 0.9)",
           title=f"Hebbian CHN capacity ({seeds} seeds, cap {cap} sweeps)")
    ax.legend(fontsize=5)
    cx.axhline(0.9, color=THEORY_COLOUR, lw=0.8)
    cx.annotate("0.9: the K_c criterion", xy=(1.0, 0.9), xycoords=("axes fraction", "data"), xytext=(-2, 2),
                textcoords="offset points", ha="right", va="bottom", fontsize=5.5, color=THEORY_COLOUR)
    cx.set(xlabel=label("load"), ylabel="fraction of stored patterns\nretrieved (mean over seeds, 95% t-band)",
           title="success vs load (solid: ≤ 1.5% wrong bits; dashed: exact)")
    rate_axis(cx)
    cx.legend(fontsize=5, ncol=2)
    protocol = ("queries: the stored patterns (up to 100), asynchronous updates to a fixed point, cap "
                f"{cap} sweeps; bits: <= 1.5% wrong bits, exact: none; K_c: success >= 0.9; bisection per seed "
                f"({seeds} seeds) and the 0.9 crossing of the mean curve over {curves.seed.nunique()} seeds "
                "(interpolated in log K between bracketing grid points, 95% bootstrap over seeds, 2,000 replicates)")
    return fig, table.assign(protocol=protocol), protocol


ambench.register_figure("F1", title="CHN capacity vs N", plot=plot_f1)
