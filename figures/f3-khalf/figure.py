"""F3: K_1/2 vs N for the dense associative memory with n = 3, beside Krotov and Hopfield
2016's perfect-recovery law."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np

import ambench
from ambench.report import (DASHES, MARKERS, THEORY_COLOUR, colours, khalf_table,
                            krotov_hopfield_capacity, label, rate_axis, size)

KHALF_PROTOCOL = ("success: the final state equals a stored memory exactly; {starts} random ±1 starts per K "
                  "({sets} fresh pattern sets x {per_set} starts); asynchronous updates to a fixed point, cap "
                  "{cap} sweeps; K_1/2 interpolated in log K between the grid points bracketing 0.5; 95% "
                  "bootstrap interval over starts (2,000 replicates); fit: least squares of log K_1/2 on log N")


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
                   label=f"{inter}: $K_{{1/2}}$ (95% bootstrap)")
        if "exponent" in part and np.isfinite(part.exponent.iloc[0]):
            n = np.linspace(part.N.min(), part.N.max(), 50)
            b.plot(n, np.exp(part.intercept.iloc[0]) * n ** part.exponent.iloc[0], DASHES[i], color=inter_colour[inter],
                   lw=1, label=f"{inter} fit: ∝ $N^{{{part.exponent.iloc[0]:.2f}\\pm{part.exponent_stderr.iloc[0]:.2f}}}$")
            notes.append(f"{inter}: exponent {part.exponent.iloc[0]:.2f} ± {part.exponent_stderr.iloc[0]:.2f} "
                         f"(bootstrap {part.exponent_boot_low.iloc[0]:.2f}–{part.exponent_boot_high.iloc[0]:.2f})")
    n = np.linspace(table.N.min(), table.N.max(), 50)
    kh = krotov_hopfield_capacity(n, order)
    kh_slope = np.polyfit(np.log(n), np.log(kh), 1)[0]
    b.plot(n, kh, ":", color=THEORY_COLOUR, lw=1.3,
           label=f"Krotov–Hopfield $N^{{{order - 1}}}\\,/\\,(2\\cdot{2 * order - 3}!!\\,\\ln N)$\n(perfect recovery, not fitted;\n"
                 f"slope {kh_slope:.2f} over this range)")
    table["krotov_hopfield"] = krotov_hopfield_capacity(table.N.values, order)
    table["K_half_over_krotov_hopfield"] = table.K_half / table.krotov_hopfield
    b.set(xscale="log", yscale="log", xlabel=label("dim"), ylabel="$K_{1/2}$ (half of the random\nstarts end on a memory)",
          title=f"dense AM n = {order}: $K_{{1/2}}$ vs N")
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


ambench.register_figure("F3", title="K_1/2 vs N, n = 3", plot=plot_f3)
