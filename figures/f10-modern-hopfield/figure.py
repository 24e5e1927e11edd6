"""F10: modern Hopfield one-update retrieval (Ramsauer et al. 2020)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import ambench
from ambench.report import only_value

F10_DATASETS = {"random": ("random ±1 patterns", "-", "o"), "random-sphere": ("random on the sphere", "-.", "^"),
                "mnist-5k": ("mnist-5k as loaded", "--", "s")}
F10_DODGE = {"random": 10 ** -0.04, "random-sphere": 10 ** 0.04}  # ×β: coinciding series drawn side by side
BETA_LABEL = "inverse temperature β"


def _coinciding(df, metric: str) -> list[str]:
    """'K=…' for each K whose random ±1 and sphere curves agree within 0.01 at every β."""
    out = []
    for k, part in df.groupby("n_memories"):
        wide = part.groupby(["beta", "patterns"])[metric].mean().unstack()
        if {"random", "random-sphere"} <= set(wide.columns) and np.allclose(wide["random"], wide["random-sphere"],
                                                                              atol=0.01):
            out.append(f"K={k}")
    return out


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
            ax.errorbar(g.beta * F10_DODGE.get(ds, 1.0), g["mean"], yerr=g["std"].fillna(0), fmt=mk + ls,
                        color=colours[k], ms=3.5, capsize=2, mfc="white" if ds == "random-sphere" else None,
                        label=f"{label}, K={k}")
        same = _coinciding(df[df.query_noise == r], "one_step_rate")
        ax.set(xscale="log", ylim=(-0.03, 1.03), xlabel=BETA_LABEL, ylabel="fraction retrieved in one update",
               title=(f"one-update retrieval, query ξ = x_i + {r:g}·M·u" if r else
                      "one-update retrieval, query = the stored pattern")
               + (f"\n±1 and sphere coincide at {', '.join(same)} (drawn shifted ±10% in β)" if same else ""))
    ax = axes[1, 0]
    zero = df[df.query_noise == noises[0]]
    for (ds, k), part in zero.groupby(["patterns", "n_memories"]):
        g = part.groupby("beta").steps_mean.agg(["mean", "std"]).reset_index()
        label, ls, mk = F10_DATASETS.get(ds, (ds, ":", "^"))
        ax.errorbar(g.beta * F10_DODGE.get(ds, 1.0), g["mean"], yerr=g["std"].fillna(0), fmt=mk + ls,
                    color=colours[k], ms=3.5, capsize=2, mfc="white" if ds == "random-sphere" else None,
                    label=f"{label}, K={k}")
    cap = int(df.max_steps.max())
    ax.set(xscale="log", yscale="symlog", xlabel=BETA_LABEL, ylabel=f"updates to a fixed point (cap {cap})",
           title=f"steps from the stored pattern (query_noise {noises[0]:g}); cap hits in the table\n"
                 "±1 and sphere drawn shifted ±10% in β (hollow: sphere)")
    handles, names = ax.get_legend_handles_labels()  # one legend for the three line panels: inside any
    fig.legend(handles, names, loc="lower center", ncol=3, fontsize=7, frameon=False)  # it hides a curve
    fig.subplots_adjust(bottom=0.13)
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


ambench.register_figure("F10", title="modern Hopfield one-update retrieval", plot=plot_f10)
