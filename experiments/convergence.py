"""Convergence: steps to the stopping tolerance and whether the energy fell monotonically, vs load."""

from ambench.protocol import measure_group, measure_retrieval

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


def _finish(cell, out):
    # the mean energy trace over queries is kept as a list column (F6 draws it)
    return out | {"load": cell["n_memories"] / out["pattern_dim"], "energy_trace": out["_energy_trace"]}


def run(cell, progress=lambda message: None):
    return _finish(cell, measure_retrieval(cell))


def run_many(cells, progress=lambda message: None):
    """All cells at once: same-shaped cells run as one vmapped program (results equal `run`)."""
    return [_finish(c, out) for c, out in zip(cells, measure_group(cells, progress))]
