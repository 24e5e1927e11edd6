"""Where random starts end (Krotov & Hopfield 2016, Appendix B): overlap with the closest memory.

Random ±1 states run to a fixed point; for each, the overlap m = ξ·s/N with the memory of largest
|overlap| is recorded (signed: with F even, −ξ is an attractor as well as ξ). The full list is
stored for histograms, with the fractions that end exactly on a memory or on its negative.
"""

import jax
import jax.numpy as jnp

from ambench import Metric, rate, series, register_experiment
from ambench.models import retrieve
from ambench.params import Field, Params as _Params
from ambench.protocol import load_memories, model_for


class Params(_Params):
    n_memories: int = Field(2000, ge=1, le=10_000_000, description="K, the number of stored patterns")
    n_starts: int = Field(1000, ge=1, le=1_000_000, description="random ±1 starting states")


def run(cell, progress=lambda message: None):
    mem = load_memories(cell, cell["n_memories"])
    if not mem.binary:
        raise ValueError("attractors needs ±1 patterns: use a binary model (chn, dam) or encoding=binary")
    model = model_for(cell, mem)
    key = jax.random.PRNGKey(cell["seed"])
    d = mem.patterns.shape[1]
    starts = jnp.where(jax.random.bernoulli(jax.random.fold_in(key, 5), 0.5, (cell["n_starts"], d)), 1.0, -1.0)
    out = retrieve(model, starts, key=jax.random.fold_in(key, 6))
    ov = out.state @ jnp.asarray(mem.patterns).T / d  # (starts, K)
    closest = jnp.take_along_axis(ov, jnp.argmax(jnp.abs(ov), axis=1)[:, None], axis=1)[:, 0]
    return {
        "on_memory_rate": float(jnp.mean(closest == 1.0)),
        "on_negative_rate": float(jnp.mean(closest == -1.0)),
        "on_memory_or_negative_rate": float(jnp.mean(jnp.abs(closest) == 1.0)),
        "mean_abs_overlap": float(jnp.mean(jnp.abs(closest))),
        "converged_rate": float(jnp.mean(out.converged)),
        "steps": float(jnp.mean(out.steps)),
        "overlaps": [round(float(x), 4) for x in closest],
    }


register_experiment(
    "attractors",
    params=Params,
    doc="overlap with the closest memory after convergence from random starts (histogram data)",
    run=run,
    main_metric="on_memory_or_negative_rate",
    metrics=(rate("on_memory_rate", "starts ending on a memory"), rate("on_negative_rate", "starts ending on a negative"),
             rate("on_memory_or_negative_rate", "starts ending on a memory or its negative"),
             Metric("mean_abs_overlap", "mean |m| with the closest memory", "float", (0.0, 1.0)),
             rate("converged_rate", "starts at a fixed point"), Metric("steps", "mean update steps", "float", (0.0, None)),
             series("overlaps", "signed overlap with the closest memory, per start")),
    x_axis="n",
)
