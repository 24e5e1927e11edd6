"""Retrieval under corruption: success rate at a noise kind and level, K fixed."""

from ambench.protocol import measure_group, measure_retrieval

DESCRIPTION = "success rate vs corruption level (flip, gaussian, masks, salt-and-pepper) at fixed K"
PARAMS = {
    "n_memories": 100,
    "n_queries": 100,
    "noise_kind": "gaussian",
    "noise_level": 0.3,
    "criterion": "auto",
    "max_wrong": 0.015,
    "threshold": 50.0,
}


def run(cell, progress=lambda message: None):
    return measure_retrieval(cell)


def run_many(cells, progress=lambda message: None):
    """All cells at once: same-shaped cells run as one vmapped program (results equal `run`)."""
    return measure_group(cells, progress)
