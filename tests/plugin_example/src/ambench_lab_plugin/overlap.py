"""A lab's experiment: the mean overlap of the retrieved state with its target.

`run(cell, progress)` returns the cell's metrics; the shared retrieval protocol
(`ambench.protocol.measure_retrieval`) stores K patterns, corrupts queries and scores them.
The parameters extend the protocol's (`RetrievalParams`: queries, noise, success criterion).
"""

import ambench
from ambench.protocol import RetrievalParams, measure_retrieval


class Params(RetrievalParams):
    n_memories: int = ambench.Field(8, ge=1, description="K, the number of stored patterns")


def run(cell, progress=lambda message: None):
    out = measure_retrieval(cell)
    return {"mean_overlap": out.get("overlap", out["nearest_rate"]), "success_rate": out["success_rate"]}


ambench.register_experiment(
    "lab_overlap", params=Params, doc="mean overlap with the target after retrieval (a plugin experiment)", run=run,
    main_metric="mean_overlap", x_axis="n_memories",
    metrics=[ambench.Metric("mean_overlap", "mean overlap m with the target", "float", (-1.0, 1.0)),
             ambench.rate("success_rate", "success rate")])
