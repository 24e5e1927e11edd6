"""Convergence: steps to the stopping tolerance and whether the energy fell monotonically, vs load."""

from ambench.protocol import measure_retrieval

DESCRIPTION = "steps to convergence, converged fraction and energy monotonicity vs load K/N"
PARAMS = {
    "n_memories": 10,
    "n_queries": 100,
    "noise_kind": "flip",
    "noise_level": 0.1,
    "criterion": "auto",
    "max_wrong": 0.015,
    "threshold": 50.0,
}


def run(cell, progress=lambda message: None):
    out = measure_retrieval(cell)
    return out | {"load": cell["n_memories"] / out["pattern_dim"]}
