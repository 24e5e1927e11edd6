"""Convergence: steps to the stopping tolerance and whether the energy fell monotonically, vs load."""

from ambench import RETRIEVAL_METRICS, Metric, series, register_experiment
from ambench.params import Field
from ambench.protocol import RetrievalParams, measure_group, measure_retrieval


class Params(RetrievalParams):
    noise_kind: RetrievalParams.model_fields["noise_kind"].annotation = Field(
        "flip", description="corruption of the queries (`ambench datasets`)")
    noise_level: float = Field(0.1, ge=0, le=100, description="fraction corrupted, or sigma for gaussian kinds")


def _finish(cell, out):
    # the mean energy trace over queries is kept as a list column (F6 draws it)
    return out | {"load": cell["n_memories"] / out["pattern_dim"], "energy_trace": out["_energy_trace"]}


def run(cell, progress=lambda message: None):
    return _finish(cell, measure_retrieval(cell))


def run_many(cells, progress=lambda message: None):
    """All cells at once: same-shaped cells run as one vmapped program (results equal `run`)."""
    return [_finish(c, out) for c, out in zip(cells, measure_group(cells, progress))]


register_experiment(
    "convergence",
    params=Params,
    doc="steps to convergence, converged fraction and energy monotonicity vs load K/N",
    run=run,
    main_metric="steps",
    metrics=(*RETRIEVAL_METRICS, Metric("load", "load K / N", "float", (0.0, None)),
             series("energy_trace", "mean energy per update step")),
    x_axis="n_memories",
    run_many=run_many,
    shown_metrics=("load", "nearest_rate", "wrong_bits", "threshold_rate", "steps", "converged_rate",
        "energy_monotone_rate", "diverged_rate"),
)
