"""Storage capacity: success rate at K stored patterns, or the capacity K_c by bisection.

With `search=true` the largest K whose success rate reaches `success_threshold` is found by
doubling then bisecting over integers (success is taken as monotone in K); `n_memories` is the
starting guess.
"""

from ambench import RETRIEVAL_METRICS, count, Metric, register_experiment
from ambench import _one_sweep
from ambench.params import Field
from ambench.protocol import RetrievalParams, measure_group, measure_retrieval


class Params(RetrievalParams):
    search: bool = Field(False, description="find K_c by doubling then bisection (n_memories: first guess)")
    success_threshold: float = Field(0.9, gt=0, le=1, only_with={"search": True},
                                     description="search: K_c is the largest K at this success")
    k_max: int = Field(5000, ge=1, le=10_000_000, only_with={"search": True}, description="search: largest K tried")


def run(cell, progress=lambda message: None):
    if not cell["search"]:
        return measure_retrieval(cell)
    measured: dict[int, dict] = {}  # the search's own measurements: the one at K_c is not made twice

    def measure(k):
        if k not in measured:
            measured[k] = measure_retrieval(cell, k)
        return measured[k]

    decide = _one_sweep.search_verdict if _one_sweep.applies(cell) else lambda cell, k: None

    def ok(k):  # an exponential DAM's one sweep is decided without running it (same answer; else measured)
        verdict = decide(cell, k)
        return measure(k)["success_rate"] >= cell["success_threshold"] if verdict is None else verdict

    lo, hi, k = 0, None, max(1, cell["n_memories"])
    while hi is None:  # double until failure (or k_max)
        progress(f"capacity: trying K={k}")
        if ok(k):
            lo = k
            if k >= cell["k_max"]:
                break
            k = min(2 * k, cell["k_max"])
        else:
            hi = k
    while hi is not None and hi - lo > 1:
        mid = (lo + hi) // 2
        progress(f"capacity: bisecting K in ({lo}, {hi})")
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    result = measure(max(lo, 1))
    return result | {"capacity": lo, "capacity_ratio": lo / result["pattern_dim"]}


def report_axes(rows):
    """Capacity searches are read as K_c against N; plain cells as success against K."""
    if "search" in rows and rows["search"].astype(bool).any():
        return "capacity", "dim"
    return EXPERIMENT.main_metric, EXPERIMENT.x_axis


def theory(rows):
    """The CHN laws beside capacity searches: 0.138 N (retrieval with few wrong bits), N/(2 ln N)
    and N/(4 ln N) (exact recall of most / all memories), for the N drawn."""
    import numpy as np

    if "search" not in rows or not rows["search"].astype(bool).any() or "dim" not in rows:
        return {}
    n = np.sort(rows["dim"].unique()).astype(float)
    return {"0.138 N": (n, 0.138 * n), "N / (2 ln N)": (n, n / (2 * np.log(n))), "N / (4 ln N)": (n, n / (4 * np.log(n)))}


def groupable(cell):
    """A capacity search is a sequence of measurements: it runs (and is stored) on its own."""
    return not cell["search"]


def run_many(cells, progress=lambda message: None):
    """Cells without a capacity search, at once: same-shaped cells run as one vmapped program."""
    return measure_group(cells, progress)


EXPERIMENT = register_experiment(
    "capacity",
    params=Params,
    doc="success rate vs number of stored patterns K; capacity K_c by bisection (search=true)",
    run=run,
    main_metric="success_rate",
    metrics=(*RETRIEVAL_METRICS, count("capacity", "capacity K_c (search)"),
             Metric("capacity_ratio", "K_c / N", "float", (0.0, None))),
    x_axis="n_memories",
    run_many=run_many,
    groupable=groupable,
    theory=theory,
    report_axes=report_axes,
    shown_metrics=("capacity", "capacity_ratio", "nearest_rate", "wrong_bits", "threshold_rate", "steps", "converged_rate",
        "energy_monotone_rate", "diverged_rate"),
)
