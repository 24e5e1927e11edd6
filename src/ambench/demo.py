"""The main job (`make demo`): CHN vs DAM vs HAM on random patterns and the embedded MNIST
subset — capacity and noise robustness — stored, printed and drawn, in a few minutes on 2 cores."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

console = Console()

# (experiment, models, dataset, seeds, grid) — small on purpose: a quickstart, not the paper.
# Five seeds on random patterns (a Student-t interval over 2 seeds is 12.7 sd wide: unreadable),
# three on MNIST; the figures draw every model, coinciding ones offset and named in the legend.
PLAN = [
    ("capacity", ["chn", "dam", "dam-softmax"], "random", [0, 1, 2, 3, 4],
     {"dim": [100], "n_memories": [5, 10, 15, 20, 40, 80, 160]}),
    ("noise", ["chn", "dam", "dam-softmax"], "random", [0, 1, 2, 3, 4],
     {"dim": [100], "n_memories": [10], "noise_kind": ["flip"], "noise_level": [0.05, 0.1, 0.2, 0.3, 0.4]}),
    ("noise", ["chn", "dam-softmax", "ham-conv"], "mnist-5k", [0, 1, 2],
     {"n_memories": [100], "n_queries": [50], "noise_kind": ["gaussian"], "noise_level": [0.1, 0.3, 0.5, 0.8]}),
]


def demo(out: Path) -> None:
    from .console import print_rows
    from .report import experiment_figure, load_results
    from .sweep import run_grid

    for experiment, models, dataset, seeds, grid in PLAN:
        rows, stored = run_grid(experiment, models, [dataset], seeds, grid, out)
        varying = [k for k, v in grid.items() if len(v) > 1]
        print_rows(rows, varying, f"{experiment} on {dataset}", stored=stored)
    df = load_results(out)
    for experiment in ("capacity", "noise"):
        path = experiment_figure(df, experiment, out / "figures" / f"demo-{experiment}")
        if path:
            console.print(f"figure: {path}")
    console.print(f"results: {out} (re-running skips stored cells; `ambench report {out}` aggregates them)")
