"""Retrieval under corruption: success rate at a noise kind and level, K fixed."""

from ambench import RETRIEVAL_METRICS, register_experiment
from ambench.params import Field
from ambench.protocol import RetrievalParams, measure_group, measure_retrieval


class Params(RetrievalParams):
    n_memories: int = Field(100, ge=1, le=10_000_000, description="K, the number of stored patterns")
    noise_kind: RetrievalParams.model_fields["noise_kind"].annotation = Field(
        "gaussian", description="corruption of the queries (`ambench datasets`)")
    noise_level: float = Field(0.3, ge=0, le=100, description="fraction corrupted, or sigma for gaussian kinds")


def run(cell, progress=lambda message: None):
    return measure_retrieval(cell)


def run_many(cells, progress=lambda message: None):
    """All cells at once: same-shaped cells run as one vmapped program (results equal `run`)."""
    return measure_group(cells, progress)


register_experiment(
    "noise",
    params=Params,
    doc="success rate vs corruption level (flip, gaussian, masks, salt-and-pepper) at fixed K",
    run=run,
    main_metric="success_rate",
    metrics=RETRIEVAL_METRICS,
    x_axis="noise_level",
    run_many=run_many,
    shown_metrics=("nearest_rate", "wrong_bits", "threshold_rate", "steps", "converged_rate",
        "energy_monotone_rate", "diverged_rate"),
)
