"""F4: Universal Hopfield Networks capacity under noise (Millidge et al. 2022), by their
code's formulas."""

from __future__ import annotations

import matplotlib.pyplot as plt

import ambench
from ambench.report import MARKERS, UHN_DATASETS, UHN_SEPARATIONS, colours, line_band, rate_axis, size, stats

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
    keys = ["dataset", "noise_kind", "similarity", "separation", "n_memories"]
    table_s = stats(df, keys, "threshold_rate")
    strict = stats(df, keys, "own_nearest_rate") if "own_nearest_rate" in df else None
    fig, axes = plt.subplots(len(queries), len(sims), figsize=size("double", height=1.75 * len(queries) + 0.9),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    for r, (dataset, kind) in enumerate(queries):
        for c, sim in enumerate(sims):
            ax = axes[r, c]
            for i, sep in enumerate(seps):
                s = table_s[(table_s.dataset == dataset) & (table_s.noise_kind == kind) & (table_s.similarity == sim)
                            & (table_s.separation == sep)]
                line_band(ax, s.n_memories, s, color=sep_colour[sep], marker=MARKERS[i], ms=2.2, lw=0.9, label=sep)
                if strict is not None:
                    t = strict[(strict.dataset == dataset) & (strict.noise_kind == kind) & (strict.similarity == sim)
                               & (strict.separation == sep)]
                    ax.plot(t.n_memories, t["mean"], ls=(0, (2, 1.5)), lw=0.7, color=sep_colour[sep], alpha=0.9)
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
    fig.suptitle(f"Universal Hopfield Networks: fraction retrieved vs stored images K, Gaussian noise σ = {sigma}, "
                 f"{df.seed.nunique()} seeds\nsolid with band: squared error ≤ {thr} per 784 pixels (their code's; "
                 "their plots say 50)\ndashed: strict, the nearest stored image in the model's own similarity is the "
                 "right one", fontsize=8)
    verdicts = [f"{UHN_DATASETS[d]}, {UHN_NOISE[k]}: " + _ordering(df[(df.dataset == d) & (df.noise_kind == k)])
                for d, k in queries]
    strip = 0.011 * (len(verdicts) + 1.5)  # a band at the bottom for the verdicts, one line each
    fig.get_layout_engine().set(rect=(0, strip + 0.045, 1, 1 - strip - 0.045))  # and one above it for the legend
    fig.legend(handles, names, loc="lower center", bbox_to_anchor=(0.5, strip), ncol=len(seps), title="separation",
               frameon=False)
    fig.text(0.5, 0.004, "Their ordering (Euclidean and Manhattan above dot), mean over K and separations:\n"
             + "\n".join(verdicts), fontsize=5.5, color="0.25", ha="center", va="bottom")
    shown = [m for m in ("threshold_rate", "own_nearest_rate", "nearest_rate") if m in df]
    table = df.groupby(["dataset", "noise_kind", "similarity", "separation"])[shown].mean().reset_index()
    protocol = (f"threshold_rate: squared error <= {thr} per 784 pixels (their code; their plots are labelled 50); "
                "own_nearest_rate (dashed): the nearest stored image in the model's own similarity is the right one; "
                "nearest_rate: the same in Euclidean distance; mean over N and seeds; "
                f"softmax(beta*s/sum(s)), beta = 1000; sigma = {sigma}; single shot; bands: 95% t over seeds, "
                "clipped to [0, 1]")
    table = table.assign(threshold=thr, protocol=protocol)
    return fig, table, ("mean over N of the success rates; higher = more capacity. gaussian-abs = "
                        "clamp(|x + N(0, σ)|, 0, 1) as in their code; gaussian = clamp(x + N(0, σ), 0, 1). "
                        + protocol)


def _ordering(rows) -> str:
    """Whether Millidge et al.'s ordering (Euclidean and Manhattan above dot) holds in `rows`, per
    criterion, on the mean over K and separations."""
    out = []
    for metric, name in (("threshold_rate", "threshold"), ("own_nearest_rate", "strict")):
        if metric not in rows:
            continue
        m = rows.groupby("similarity")[metric].mean()
        if "dot" not in m:
            continue
        verdict = ", ".join(f"{s[:3]} {m[s]:.2f} {'>' if m[s] > m['dot'] else '≤'} dot {m['dot']:.2f}"
                            for s in ("euclidean", "manhattan") if s in m)
        out.append(f"{name}: {verdict}")
    return "; ".join(out)


ambench.register_figure("F4", title="Universal Hopfield Networks capacity", plot=plot_f4)
