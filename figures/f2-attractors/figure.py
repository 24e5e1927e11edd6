"""F2: where random starts end in a dense associative memory (Krotov and Hopfield 2016,
Appendix B)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

import ambench
from ambench.report import PALETTE, size


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


ambench.register_figure("F2", title="Krotov-Hopfield Appendix B", plot=plot_f2)
