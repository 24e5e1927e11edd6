"""A lab's figure: mean overlap vs K for its clipped DAM beside ambench's softmax DAM, drawn by
`ambench figures --only lab-overlap` from the results of the sweep file shipped beside it.

`plot(df)` gets the stored rows of that sweep and returns (figure, table behind it, note);
`ambench.report.model_colour` gives each model its colour in every figure (any number of models).
"""

from pathlib import Path

import matplotlib.pyplot as plt

import ambench
from ambench.report import SINGLE, label, model_colour


def plot(df):
    fig, ax = plt.subplots(figsize=SINGLE)
    table = df.groupby(["model", "n_memories"]).mean_overlap.mean().reset_index()
    for model, part in table.groupby("model"):
        ax.plot(part.n_memories, part.mean_overlap, marker="o", label=model, color=model_colour(model))
    ax.set(xlabel=label("n_memories"), ylabel="mean overlap m", ylim=(-0.05, 1.05))
    ax.legend()
    return fig, table.assign(protocol="random ±1 patterns, 10% flipped bits, mean over seeds"), ""


ambench.register_figure("lab-overlap", sweep="lab-overlap", title="a lab's overlap figure", plot=plot,
                        sweep_file=Path(__file__).with_name("lab-overlap.yaml"))
