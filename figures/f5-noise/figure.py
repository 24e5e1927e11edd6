"""F5: retrieval under corruption, the suite's own figure."""

from __future__ import annotations

import matplotlib.pyplot as plt

import ambench
from ambench.report import DASHES, MARKERS, label, line_band, model_colour, rate_axis, size, stats

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


ambench.register_figure("F5", title="success vs corruption", plot=plot_f5)
