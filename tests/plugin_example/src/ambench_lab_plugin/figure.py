"""A lab's figure: mean overlap vs K for its clipped DAM beside ambench's softmax DAM, drawn by
`ambench figures --only lab-overlap` from the results of the sweep file shipped beside it."""

from pathlib import Path

import matplotlib.pyplot as plt

from ambench.report.figures import Figure


def plot(df):
    fig, ax = plt.subplots(figsize=(3.4, 2.6))
    table = df.groupby(["model", "n_memories"]).mean_overlap.mean().reset_index()
    for model, part in table.groupby("model"):
        ax.plot(part.n_memories, part.mean_overlap, marker="o", label=model)
    ax.set(xlabel="stored patterns K", ylabel="mean overlap m", ylim=(-0.05, 1.05))
    ax.legend()
    return fig, table.assign(protocol="random ±1 patterns, 10% flipped bits, mean over seeds"), ""


FIGURE = Figure("lab-overlap", "lab-overlap", "a lab's overlap figure", plot,
                sweep_file=Path(__file__).with_name("lab-overlap.yaml"))
