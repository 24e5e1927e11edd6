"""The suite's own figures: retrieval under corruption (F5), convergence (F6), throughput (F7)
and the conditional HAM (F8)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ._style import (DASHES, MARKERS, THEORY_COLOUR, colours, label, line_band, log_ticks, model_colour, rate_axis,
                     size, stats)

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


def _mean_trace(traces) -> np.ndarray:
    """Mean of the cells' energy traces (unequal lengths), by the rule the cells' own traces
    follow: `metrics.mean_energy_trace` holds each at its last value after it ends."""
    from ..metrics import mean_energy_trace

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


def plot_f7(df):
    """Retrieval throughput (TFLOP/s, 4·B·K·D per step) vs K per precision, beside the ceiling
    measured in the same cell (the same T steps with the softmax taken out: the retrieval's two
    matmuls at its own shapes and precision; experiments/throughput.py), and their ratio. Both
    are the best of the cell's repeats; mean over seeds with 95% t-bands."""
    device = str(df.device.iloc[0]) if "device" in df else "?"
    on_cpu = device.lower().startswith("cpu")
    dropped = ""
    if on_cpu and "tf32" in set(df.precision):  # no tensor cores: tf32 runs the fp32 program, a duplicate series
        df, dropped = df[df.precision != "tf32"], "; tf32 not drawn: on a CPU it runs the fp32 program"
    precisions = [p for p in ("fp32", "tf32", "bf16") if p in set(df.precision)]
    col = colours(precisions)
    fig, (a, b) = plt.subplots(1, 2, figsize=size("double"), layout="constrained")
    table = stats(df, ["precision", "n_memories"], "tflops")
    ceiling = stats(df, ["precision", "n_memories"], "matmul_tflops")
    frac = stats(df, ["precision", "n_memories"], "ceiling_fraction")
    for i, prec in enumerate(precisions):
        s, c, f = (t[t.precision == prec] for t in (table, ceiling, frac))
        line_band(a, s.n_memories, s, color=col[prec], marker=MARKERS[i], label=f"{prec} retrieval")
        a.plot(c.n_memories, c["mean"], ls=":", color=col[prec], lw=1.4, label=f"{prec} ceiling")
        line_band(b, f.n_memories, f, color=col[prec], marker=MARKERS[i], label=prec)
    ks = sorted(df.n_memories.unique())
    for ax in (a, b):
        log_ticks(ax, ks)
        ax.set(xlabel=label("n_memories"))
    a.set(ylabel=label("tflops"), ylim=(0, None))
    a.legend(fontsize=5, ncol=3, loc="lower left", columnspacing=0.8, handlelength=1.8)
    b.axhline(1.0, color=THEORY_COLOUR, lw=0.8)
    top = float(np.nanmax(np.r_[frac["hi"].to_numpy(float), frac["mean"].to_numpy(float), 1.0]))
    b.set(ylabel="retrieval / ceiling", ylim=(0, 1.05 * top))  # every point and interval shown
    b.legend(title="precision")
    device = ("CPU" if on_cpu else device.split(":")[-1]) if device != "?" else "an unrecorded device"
    bb, d, t, seeds = int(df.batch.iloc[0]), int(df.dim.iloc[0]), int(df.n_steps.iloc[0]), df.seed.nunique()
    reps = int(df.repeats.iloc[0]) if "repeats" in df else 0
    fig.suptitle(f"Softmax-DAM retrieval throughput on {device}: B = {bb}, D = {d}, T = {t} steps, "
                 f"{seeds} seeds, best of {reps} calls")
    fig.supxlabel("ceiling (dotted): the same T steps without the softmax, x ← (x Ξᵀ) Ξ, i.e. the retrieval's two "
                  "matmuls (B×D by D×K, B×K by K×D) at its precision,\ntimed in turn with the retrieval in the same "
                  f"cell (best call of each); bands: 95% t-intervals over seeds{dropped}", fontsize=5.5, color="0.3")
    wide = table.merge(ceiling, on=["precision", "n_memories"], suffixes=("", "_ceiling"))
    wide = wide.merge(frac, on=["precision", "n_memories"], suffixes=("", "_fraction"))
    worst = float(df.ceiling_fraction.max())
    note = ("ceiling (dotted): the same T steps with the softmax taken out, x <- (x Xi^T) Xi on orthonormalised "
            "memories, i.e. the retrieval's two matmuls (B x D by D x K, B x K by K x D) at its precision, called in "
            f"turn with the retrieval (compiled outside the clock, blocked, best of {reps} each); largest "
            f"retrieval/ceiling of any cell: {worst:.3f}{dropped}")
    return fig, wide.assign(protocol=note), note


def plot_f8(df):
    """The conditional (image, label, memory) HAM: the image generated for each clamped label by
    the most trained, largest model (top) and test accuracy with the image clamped and the label
    read out (bottom): bars are means over seeds with 95% t-intervals clipped to [0, 1], dots the
    seeds; chance is 0.1."""
    trained = df.sort_values(["train_steps", "n_memories"]).iloc[-1]
    shape = tuple(trained.image_shape)
    images = np.asarray(trained.generated, float)
    fig = plt.figure(figsize=size("double", height=3.4), layout="constrained")
    grid = fig.add_gridspec(2, len(images), height_ratios=(1, 2.6))
    for c, im in enumerate(images):
        ax = fig.add_subplot(grid[0, c])
        ax.imshow(im.reshape(shape)[0], cmap="gray")
        ax.set_axis_off()
        ax.set_title(f"label {c}", fontsize=6.5)
    ax = fig.add_subplot(grid[1, :])
    table = stats(df, ["n_memories", "train_steps"], "accuracy")
    ks, steps = sorted(df.n_memories.unique()), sorted(df.train_steps.unique())
    col, width = colours(steps), 0.8 / len(steps)
    for j, t in enumerate(steps):
        s = table[table.train_steps == t].set_index("n_memories").loc[ks]
        pos = np.arange(len(ks)) + (j - (len(steps) - 1) / 2) * width
        err = np.vstack([s["mean"] - s["lo"], s["hi"] - s["mean"]])
        ax.bar(pos, s["mean"], width=width * 0.95, yerr=err, capsize=2, color=col[t], alpha=0.85,
               label="untrained (stored pairs only)" if t == 0 else f"{t} Adam steps")
        for p, k in zip(pos, ks):
            seeds = df[(df.n_memories == k) & (df.train_steps == t)].accuracy
            ax.plot(np.full(len(seeds), p), seeds, "o", color="black", ms=2, alpha=0.7)
    ax.axhline(0.1, color=THEORY_COLOUR, lw=0.8, ls=":", label="chance (10 classes)")
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set(xlabel="stored (image, label) pairs K", ylabel=label("accuracy"), ylim=(0, 1))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    n_test, seeds = int(df.n_test.iloc[0]), df.seed.nunique()
    which = (f"generated by the trained model: K = {int(trained.n_memories)}, after {int(trained.train_steps)} Adam "
             f"steps, seed {int(trained.seed)}" if int(trained.train_steps) > 0 else
             f"generated by the untrained model (stored pairs only), K = {int(trained.n_memories)}")
    fig.suptitle(f"Conditional HAM on MNIST (5k subset). Top: one image per clamped label, {which}.\n"
                 f"Bottom: accuracy with the image clamped, {n_test} test images, {seeds} seeds")
    return fig, table, "bars: mean over seeds, 95% t-interval clipped to [0, 1]; dots: seeds"
