"""K_½ by the protocol of Krotov & Hopfield 2016 (their Fig. 5): random starts, not stored patterns.

For one K (`n_memories`) and N (`dim`): `n_sets` independent sets of K random ±1 memories, each
drawn fresh from a seed derived from (cell seed, K, N, set index), so the memories at one K are
never a prefix of those at another; for each set, `n_starts` random ±1 starting states (their own
derived seed). Every start runs asynchronous updates (the model's rule, a fresh random visiting
order per sweep) until a sweep flips nothing or the model's `max_sweeps` cap (>= 100 required).
A start is a success when its final state equals one of that set's stored memories exactly
(max_μ ξ_μ·s = N). Also reported: the fraction that ends exactly on the negative of a memory,
the fraction that hit the sweep cap (`cap_hit_rate`), and the per-set success rates (a list,
for bootstraps). K_½ itself is the K where `success_rate` crosses ½: the F3 figure interpolates
it between grid points (`ambench.report.figures.interpolate_crossing`).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ambench import Metric, count, rate, series, register_experiment
from ambench.data import random_patterns
from ambench.models import retrieve
from ambench.params import Field, Params as _Params
from ambench.protocol import Memories, model_for

MIN_SWEEPS = 100


class Params(_Params):
    n_memories: int = Field(100, ge=1, le=10_000_000, description="K, the number of stored patterns per set")
    n_sets: int = Field(10, ge=1, le=100_000, description="independent pattern sets (fresh memories each)")
    n_starts: int = Field(100, ge=1, le=1_000_000, description="random ±1 starting states per set")


def check(cell):
    if not cell.model.component.binary or cell.data.name != "random":
        raise ValueError("khalf needs a ±1 model (dam, chn) on dataset random")
    if cell.get("encoding") != "binary":
        raise ValueError("khalf needs ±1 patterns: encoding=binary (or auto)")
    if cell.get("max_sweeps", 0) < MIN_SWEEPS:
        raise ValueError(f"khalf runs starts to a fixed point: set max_sweeps >= {MIN_SWEEPS} "
                         f"(got {cell.get('max_sweeps')})")


def set_seeds(seed: int, k: int, dim: int, index: int) -> tuple[int, int, int]:
    """Seeds of set `index`'s memories, its starts and its update orders: from (seed, K, N, index)."""
    state = np.random.SeedSequence([seed, k, dim, index]).generate_state(3)
    return int(state[0]), int(state[1]), int(state[2])


_retrieve = eqx.filter_jit(retrieve)


@eqx.filter_jit
def _outcomes(state, patterns):
    ov = state @ patterns.T  # (starts, K): exact integers in float32
    d = patterns.shape[1]
    best = jnp.max(jnp.abs(ov), axis=1)
    return jnp.max(ov, axis=1) == d, jnp.min(ov, axis=1) == -d, best / d


def run(cell, progress=lambda message: None):
    k, d = cell["n_memories"], cell["dim"]
    on_memory, on_negative, cap_hit, steps, abs_overlap, per_set = [], [], [], [], [], []
    for i in range(cell["n_sets"]):
        progress(f"khalf: set {i + 1}/{cell['n_sets']} (K={k}, N={d})")
        mem_seed, start_seed, order_seed = set_seeds(cell["seed"], k, d, i)
        pats = random_patterns(k, d, seed=mem_seed)
        model = model_for(cell, Memories(pats, None, "binary", None, None, -1.0, 1.0, True))
        starts = jnp.asarray(random_patterns(cell["n_starts"], d, seed=start_seed))
        out = _retrieve(model, starts, key=jax.random.PRNGKey(order_seed))
        hit, neg, ov = jax.device_get(_outcomes(out.state, jnp.asarray(pats)))
        on_memory.append(hit)
        on_negative.append(neg)
        abs_overlap.append(ov)
        cap_hit.append(~np.asarray(out.converged))
        steps.append(np.asarray(out.steps))
        per_set.append(float(np.mean(hit)))
    cat = lambda xs: np.concatenate([np.asarray(x, np.float64) for x in xs])  # noqa: E731
    return {
        "success_rate": float(np.mean(cat(on_memory))),
        "negative_rate": float(np.mean(cat(on_negative))),
        "cap_hit_rate": float(np.mean(cat(cap_hit))),
        "steps": float(np.mean(cat(steps))),
        "steps_max": int(np.max(cat(steps))),
        "mean_abs_overlap": float(np.mean(cat(abs_overlap))),
        "total_starts": int(cell["n_sets"] * cell["n_starts"]),
        "set_success_rates": [round(x, 6) for x in per_set],
    }


register_experiment(
    "khalf",
    params=Params,
    doc="fraction of random ±1 starts that end exactly on a stored memory (Krotov-Hopfield K_1/2 protocol)",
    run=run,
    main_metric="success_rate",
    metrics=(rate("success_rate", "starts ending on a memory"), rate("negative_rate", "starts ending on a negative"),
             rate("cap_hit_rate", "starts stopped by the sweep cap"), Metric("steps", "mean sweeps", "float", (0.0, None)),
             count("steps_max", "most sweeps"), Metric("mean_abs_overlap", "mean |m| with the closest memory", "float", (0.0, 1.0)),
             count("total_starts", "random starts"), series("set_success_rates", "success rate per pattern set")),
    x_axis="n_memories",
    check=check,
    shown_metrics=("negative_rate", "cap_hit_rate", "steps", "steps_max", "mean_abs_overlap"),
)
