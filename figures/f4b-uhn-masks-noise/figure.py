"""F4b: Universal Hopfield Networks (Millidge et al. 2022) with masked and noisy queries, by
their code's formulas."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

import ambench
from ambench.report import (MARKERS, UHN_DATASETS, UHN_SEPARATIONS, colours, line_band, log_ticks, only_value,
                            rate_axis, size, stats)

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


ambench.register_figure("F4b", title="Universal Hopfield Networks masks and noise", plot=plot_f4b)
