"""A lab's experiment: the mean overlap of the retrieved state with its target."""

from ambench.params import Field
from ambench.protocol import RetrievalParams, measure_retrieval

DESCRIPTION = "mean overlap with the target after retrieval (a plugin experiment)"
MAIN_METRIC = "mean_overlap"
X_AXIS = "n_memories"


class Params(RetrievalParams):
    n_memories: int = Field(8, ge=1, description="K")


def run(cell, progress=lambda message: None):
    out = measure_retrieval(cell)
    return {"mean_overlap": out.get("overlap", out["nearest_rate"]), "success_rate": out["success_rate"]}
