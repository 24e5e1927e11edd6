"""F12: completing masked images across the families."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import ambench
from ambench.report import dataset_label, line_band, model_colour, rate_axis, stats

F12_MODELS = {"energy-transformer": "Energy Transformer (trained)", "ham-conv": "conv HAM",
              "dam-softmax": "softmax DAM (L2, β = 1)", "uhn": "UHN (Euclidean, softmax β = 1000), single shot"}
F12_KINDS = {"mask_patches": ("random 4×4 patches masked", "-", "o"), "mask_rows": ("bottom rows masked", "--", "s")}
F12_METRICS = {"nearest_rate": "nearest-image rate\n(own source nearest among K)",
               "mse": "completion error\n(mean squared error per pixel)"}
F12_TITLES = {"nearest_rate": "nearest-image rate", "mse": "completion error (MSE)"}
STEPS_LEVEL = 0.5
DODGE = {"energy-transformer": 0.0, "ham-conv": 0.006, "dam-softmax": -0.006, "uhn": 0.012}  # equal lines stay visible


def plot_f12(df):
    """Rows: datasets. Columns: nearest-image rate and completion error vs the masked fraction
    (both corruptions), then both vs the number of dynamics steps at half the patches masked
    (uhn is single shot: a flat line). Mean over seeds with a 95% t-band."""
    if df.empty:
        raise ValueError("F12 has no rows; run `ambench sweep sweeps/f12-completion.yaml`")
    df = df.assign(noise_level=df.noise_level.astype(float))
    datasets = [d for d in ("mnist-5k", "fashion_mnist-idx") if d in set(df.dataset)]
    fig, axes = plt.subplots(len(datasets), 4, figsize=(11.5, 2.9 * len(datasets) + 0.6), squeeze=False)
    rows = []
    default_steps = {"energy-transformer": 12, "ham-conv": 100, "dam-softmax": 20}
    for r, dataset in enumerate(datasets):
        part = df[df.dataset == dataset]
        steps_col = part["max_steps"] if "max_steps" in part else pd.Series(np.nan, index=part.index)
        default = part.model.map(default_steps)
        at_default = steps_col.isna() | (steps_col == default)
        for c, metric in enumerate(F12_METRICS):
            ax = axes[r, c]
            for model, name in F12_MODELS.items():
                for kind, (kind_label, ls, marker) in F12_KINDS.items():
                    cur = part[(part.model == model) & (part.noise_kind == kind) & at_default]
                    if cur.empty or metric not in cur:
                        continue
                    s = stats(cur, ["noise_level"], metric)
                    line_band(ax, s.noise_level, s, color=model_colour(model), ls=ls, marker=marker, dodge=DODGE[model],
                              label=f"{name}, {kind_label}" if r == 0 and c == 0 else None)
                    rows += [{"dataset": dataset, "model": model, "queries": kind, "x": "masked fraction",
                              "metric": metric, **row} for row in s.to_dict("records")]
            ax.set(xlabel="masked fraction (of patches or of rows)", ylabel=F12_METRICS[metric],
                   title=f"{dataset_label(dataset)}\n{F12_TITLES[metric]} vs masked fraction")
            if metric == "nearest_rate":
                rate_axis(ax)
            else:
                ax.set_ylim(bottom=0)
        at_half = part[(part.noise_kind == "mask_patches") & np.isclose(part.noise_level, STEPS_LEVEL)]
        for c, metric in enumerate(F12_METRICS, start=2):
            ax = axes[r, c]
            for model in F12_MODELS:
                cur = at_half[at_half.model == model]
                if cur.empty or metric not in cur:
                    continue
                if model == "uhn":
                    s = stats(cur, ["model"], metric)
                    ax.axhline(s["mean"].iloc[0], color=model_colour(model), ls=":", lw=1)
                    rows += [{"dataset": dataset, "model": model, "queries": "mask_patches", "x": "steps (single shot)",
                              "metric": metric, **s.to_dict("records")[0]}]
                    continue
                s = stats(cur.dropna(subset=["max_steps"]), ["max_steps"], metric)
                line_band(ax, s.max_steps, s, color=model_colour(model), logx=True, dodge=DODGE[model])
                rows += [{"dataset": dataset, "model": model, "queries": "mask_patches", "x": "steps",
                          "metric": metric, **row} for row in s.to_dict("records")]
            ax.set_xscale("log")
            ax.set(xlabel="dynamics steps (log)", ylabel=F12_METRICS[metric],
                   title=f"{dataset_label(dataset)}: {F12_TITLES[metric]} vs steps\n({STEPS_LEVEL:g} of patches masked; "
                         "dotted: UHN)")
            if metric == "nearest_rate":
                rate_axis(ax)
            else:
                ax.set_ylim(bottom=0)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=6.5, frameon=False)
    seeds = df.seed.nunique()
    fig.suptitle(f"F12: completing masked images across the families (mean over {seeds} seed(s), 95% t-band)",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 0.97))
    protocol = ("per seed: K stored images (block `seed` of a fixed permutation); queries = those images with a random "
                "fraction of their 4x4 patches (mask_patches) or the bottom rows (mask_rows) set to 0; "
                "energy-transformer trained once per dataset on masked-patch completion (weights cached by content "
                "hash), stores nothing, keeps the known patches; nearest-image rate: the completion is nearest in "
                "Euclidean distance to its own source among the K; error: mean squared error per pixel over the whole "
                "image; steps panels at half the patches masked, each model's other settings at its defaults")
    return fig, pd.DataFrame(rows).assign(protocol=protocol), protocol


ambench.register_figure("F12", title="completing masked images across the families", plot=plot_f12)
