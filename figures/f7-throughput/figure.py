"""F7: throughput vs K, the suite's own figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

import ambench
from ambench.report import MARKERS, THEORY_COLOUR, colours, label, line_band, log_ticks, size, stats


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


ambench.register_figure("F7", title="throughput vs K", plot=plot_f7)
