"""F6: convergence vs load, the suite's own figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

import ambench
from ambench.report import DASHES, MARKERS, label, line_band, log_ticks, model_colour, size, stats


def _mean_trace(traces) -> np.ndarray:
    """Mean of the cells' energy traces (unequal lengths), by the rule the cells' own traces
    follow: `metrics.mean_energy_trace` holds each at its last value after it ends."""
    from ambench.metrics import mean_energy_trace

    traces = [np.asarray(t, float) for t in traces if t is not None and len(t)]
    n = max(len(t) for t in traces)
    return np.asarray(mean_energy_trace(np.stack([np.pad(t, (0, n - len(t)), constant_values=np.nan) for t in traces])))


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


ambench.register_figure("F6", title="convergence vs load", plot=plot_f6)
