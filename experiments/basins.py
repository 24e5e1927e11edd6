"""Basins of attraction: per stored pattern, the largest corruption level at which it is still
retrieved, found by bisection for every probed pattern at once (vectorised).

Each probed pattern keeps one noise draw (one key) for all levels, so for `flip` the bits
flipped at a level are a subset of those flipped at any higher level and success is close to
monotone in the level, as bisection assumes. A pattern not retrieved uncorrupted has radius 0;
one retrieved at `max_level` has radius `max_level` (reported as `full_rate`).
"""

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ambench import Metric, count, rate, series, register_experiment
from ambench import data, metrics
from ambench.models import retrieve
from ambench.params import Field
from ambench.protocol import CriterionParams, load_memories, model_for, retrieve_key, scorer_for


class Params(CriterionParams):
    n_memories: int = Field(20, ge=1, le=10_000_000, description="K, the number of stored patterns")
    n_queries: int = Field(100, ge=1, le=1_000_000, description="stored patterns probed (at most K)")
    noise_kind: Literal[tuple(k for k in data.CORRUPTIONS if k != "none")] = Field(
        "flip", description="corruption whose level is bisected (`ambench datasets`)")
    max_level: float = Field(0.5, gt=0, le=100, description="upper end of the bisection")
    n_bisect: int = Field(8, ge=1, le=40, description="bisection steps: the radius to max_level / 2^n_bisect")


def check(cell):
    """max_level is a level of noise_kind: in its range (the error names max_level, the value given)."""
    data.check_level(cell["noise_kind"], cell["max_level"], name="max_level")


@eqx.filter_jit
def _retrieved(model, scorer, source, target_idx, levels, keys, key, *, kind, low, high, image_shape, encoding,
               criterion):
    q = jax.vmap(lambda x, lv, k: data.corrupt(x, kind, lv, key=k, low=low, high=high, image_shape=image_shape))(
        source[target_idx], levels, keys)
    q = q if encoding is None else data.encode(q, encoding)
    out = retrieve(model, q, key=key)
    valid = jnp.ones(q.shape[0], bool)
    return scorer(out.state, out.steps, out.converged, out.energies, target_idx, valid)[metrics.CRITERIA[criterion]]


def run(cell, progress=lambda message: None):
    k = cell["n_memories"]
    mem = load_memories(cell, k)
    model = model_for(cell, mem)
    patterns = jnp.asarray(mem.patterns)
    scorer = scorer_for(cell, patterns, jnp.ones(k, bool), binary=mem.binary)
    key = jax.random.PRNGKey(cell["seed"])
    n = min(cell["n_queries"], k)
    target_idx = jax.random.permutation(jax.random.fold_in(key, 1), k)[:n]
    keys = jax.random.split(jax.random.fold_in(key, 2), n)  # one noise draw per pattern, for every level
    source, low, high = (patterns, mem.low, mem.high) if mem.raw is None else (jnp.asarray(mem.raw), 0.0, 1.0)
    static = dict(kind=cell["noise_kind"], low=float(low), high=float(high), image_shape=mem.image_shape,
                  encoding=None if mem.raw is None else mem.encoding, criterion=cell["criterion"])

    def ok(levels):
        return np.asarray(_retrieved(model, scorer, source, target_idx, jnp.asarray(levels, jnp.float32), keys,
                                     retrieve_key(cell), **static))

    top = float(cell["max_level"])
    at_zero, at_top = ok(np.zeros(n)), ok(np.full(n, top))
    lo, hi = np.zeros(n), np.full(n, top)
    for step in range(cell["n_bisect"]):
        progress(f"basins: bisection step {step + 1}/{cell['n_bisect']}")
        mid = 0.5 * (lo + hi)
        good = ok(mid)
        lo, hi = np.where(good, mid, lo), np.where(good, hi, mid)
    radius = np.where(at_top, top, np.where(at_zero, lo, 0.0))
    return {"basin_mean": float(radius.mean()), "basin_q10": float(np.quantile(radius, 0.1)),
            "basin_median": float(np.median(radius)), "basin_q90": float(np.quantile(radius, 0.9)),
            "zero_rate": float(np.mean(~at_zero)), "full_rate": float(np.mean(at_top)),
            "patterns_probed": int(n), "radii": [round(float(r), 6) for r in radius]}


register_experiment(
    "basins",
    params=Params,
    doc="per-pattern basin radius: the largest corruption level still retrieved (bisection), mean and quantiles",
    run=run,
    main_metric="basin_mean",
    metrics=(*(Metric(f"basin_{q}", f"basin radius, {q}", "float", (0.0, None)) for q in ("mean", "q10", "median", "q90")),
             rate("zero_rate", "patterns retrieved uncorrupted"), rate("full_rate", "patterns retrieved at max_level"),
             count("patterns_probed", "patterns probed"), series("radii", "basin radius per probed pattern")),
    x_axis="n_memories",
    check=check,
    shown_metrics=("basin_q10", "basin_median", "basin_q90", "zero_rate", "full_rate"),
)
