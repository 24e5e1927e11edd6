"""Throughput of the batched softmax-DAM retrieval step: queries·steps/s and achieved TFLOP/s,
with the fraction of a matmul ceiling measured at the retrieval's own shapes in the same run.

The ceiling is the same T steps with the softmax taken out, x ← (x Ξᵀ) Ξ: the two products of
a step at exactly the retrieval's shapes, layouts, precision and chunking (B×D by D×K, then
B×K by K×D) and nothing else. Its memories are orthonormalised (ΞᵀΞ or ΞΞᵀ the identity), so
the loop is a projection: the state stays finite with no extra operation, and a dense product
costs the same whatever the values. The retrieval does these products plus a softmax over B×K,
so its rate / ceiling is at most 1 up to timing noise. Both are compiled and run once outside
the clock, then called in turn (retrieval, ceiling, retrieval, ...) so that both see the same
machine load, each call blocked on its result; the best call of each is kept.
"""

import time
from typing import Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ambench import Metric, register_experiment
from ambench.models import softmax_retrieval
from ambench.models._continuous import _matmul
from ambench.params import Field, Params as _Params


class Params(_Params):
    n_memories: int = Field(4096, ge=1, le=1 << 24, description="K, the number of stored patterns")
    batch: int = Field(256, ge=1, le=1 << 20, description="B, queries retrieved at once")
    n_steps: int = Field(20, ge=1, le=10_000, description="T, softmax updates per retrieval (no early stop)")
    precision: Literal["fp32", "tf32", "bf16"] = Field(
        "fp32", description="fp32 (highest), tf32 (default matmul precision) or bf16 (fp32 softmax)")
    chunk: int = Field(0, ge=0, le=1 << 24, description="> 0: online softmax over blocks of this many memories")
    repeats: int = Field(3, ge=1, le=1000, description="timed repetitions (the best is kept)")
    reference: bool = Field(True, description="also time a hand-written jax.numpy loop of the same steps")


def step_flops(*, batch: int, n_memories: int, dim: int) -> float:
    """Floating-point operations of one retrieval step: two products of 2·B·K·D each."""
    return 4.0 * batch * n_memories * dim


def best_seconds(*calls, repeats: int) -> list[float]:
    """Fastest of `repeats` calls of each (jitted fn, args) pair, the pairs called in turn so
    that all see the same machine load; each call blocked on its result, the first call of each
    (compilation, warm-up) outside the clock."""
    for fn, args in calls:
        jax.block_until_ready(fn(*args))
    best = [float("inf")] * len(calls)
    for _ in range(repeats):
        for i, (fn, args) in enumerate(calls):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def orthonormal_memories(key, n_memories: int, dim: int) -> Float[Array, "K D"]:
    """A random K×D matrix with orthonormal columns (K ≥ D) or rows (K < D): ΞᵀΞ is a
    projection, so x ← (x Ξᵀ) Ξ neither grows nor shrinks after the first step."""
    if n_memories >= dim:
        return jnp.linalg.qr(jax.random.normal(key, (n_memories, dim)))[0]
    return jnp.linalg.qr(jax.random.normal(key, (dim, n_memories)))[0].T


def matmul_steps(memories: Float[Array, "K D"], queries: Float[Array, "B D"], *, steps: int,
                 precision: str = "fp32", chunk: int = 0) -> Float[Array, "B D"]:
    """The ceiling's kernel: `steps` times x ← (x Ξᵀ) Ξ, the retrieval's two products without
    its softmax (blocks of `chunk` memories summed when chunk > 0, as the online softmax
    streams them). Each step depends on the last, so none can be hoisted or skipped. Give it
    `orthonormal_memories` to keep the state finite over many steps."""
    k, d = memories.shape
    mem = memories.astype(jnp.bfloat16) if precision == "bf16" else memories

    def step(_, x):
        if not chunk:
            return _matmul(_matmul(x, mem.T, precision), mem, precision).astype(x.dtype)

        def block(acc, xi):
            return acc + _matmul(_matmul(x, xi.T, precision), xi, precision), None

        return jax.lax.scan(block, jnp.zeros(x.shape, jnp.float32), mem.reshape(k // chunk, chunk, d))[0].astype(x.dtype)

    return jax.lax.fori_loop(0, steps, step, queries)


def check(cell):
    if cell["model"] != "dam-softmax" or cell["dataset"] != "random":
        raise ValueError("throughput measures model dam-softmax on dataset random (set dim for D)")
    model = cell.model.params
    if model.method != "update" or model.max_steps != type(model).model_fields["max_steps"].default:
        raise ValueError("throughput times n_steps fixed-point updates with no early stop: drop the model's method "
                         "and max_steps and give --set n_steps=T")
    if cell["encoding"] != "binary":  # `auto` resolves to binary for random patterns
        raise ValueError("throughput draws its own Gaussian memories (scaled by 1/sqrt(D)): drop encoding")
    if cell["chunk"] and cell["n_memories"] % cell["chunk"]:
        raise ValueError(f"chunk={cell['chunk']} must divide n_memories={cell['n_memories']}: pick a divisor of K")


def run(cell, progress=lambda message: None):
    k, b, d, t = cell["n_memories"], cell["batch"], cell["dim"], cell["n_steps"]
    prec, chunk, repeats = cell["precision"], cell["chunk"], cell["repeats"]
    key = jax.random.PRNGKey(cell["seed"])
    mem = jax.random.normal(key, (k, d)) / d**0.5
    queries = mem[:b] if b <= k else jax.random.normal(jax.random.fold_in(key, 1), (b, d)) / d**0.5
    fn = jax.jit(lambda m, q: softmax_retrieval(m, q, beta=cell["beta"], steps=t, similarity=cell["similarity"],
                                                precision=prec, chunk=chunk))
    progress("throughput: compiling and timing")
    ceiling_fn = jax.jit(lambda m, q: matmul_steps(m, q, steps=t, precision=prec, chunk=chunk))
    basis = orthonormal_memories(jax.random.fold_in(key, 2), k, d)
    calls = [(fn, (mem, queries)), (ceiling_fn, (basis, queries))]
    if cell["reference"]:
        calls.append((_reference(beta=cell["beta"], steps=t, precision=prec, similarity=cell["similarity"]),
                      (mem, queries)))
    seconds, ceiling_s, *ref = best_seconds(*calls, repeats=repeats)
    flops = step_flops(batch=b, n_memories=k, dim=d) * t
    out = {
        "queries_steps_per_s": b * t / seconds,
        "ms_per_step": 1e3 * seconds / t,
        "tflops": flops / seconds / 1e12,
        "matmul_tflops": flops / ceiling_s / 1e12,
        "ceiling_ms_per_step": 1e3 * ceiling_s / t,
        "ceiling_fraction": ceiling_s / seconds,
    }
    if ref:
        out |= {"reference_tflops": flops / ref[0] / 1e12, "ratio_to_reference": ref[0] / seconds}
    return out


def _reference(*, beta: float, steps: int, precision: str, similarity: str):
    """The same steps as a hand-written jax.numpy loop, never chunked (l2: the logits carry
    −½‖ξ‖², the part of −½‖x − ξ‖² that depends on the memory)."""

    @jax.jit
    def plain(m, q):
        bias = -0.5 * jnp.sum(m.astype(jnp.float32) ** 2, axis=1) if similarity == "l2" else 0.0

        def step(_, x):
            p = jax.nn.softmax(beta * (_matmul(x, m.T, precision).astype(jnp.float32) + bias), axis=-1)
            return _matmul(p, m, precision).astype(x.dtype)
        return jax.lax.fori_loop(0, steps, step, q)

    return plain


register_experiment(
    "throughput",
    params=Params,
    doc="queries*steps/s, TFLOP/s and fraction of the measured matmul ceiling (model dam-softmax)",
    run=run,
    main_metric="tflops",
    metrics=tuple(Metric(n, label, "float", (0.0, None)) for n, label in (
        ("queries_steps_per_s", "query-steps per second"), ("ms_per_step", "ms per update step"),
        ("tflops", "TFLOP/s"), ("matmul_tflops", "the matmul ceiling's TFLOP/s"),
        ("ceiling_ms_per_step", "the ceiling's ms per step"), ("ceiling_fraction", "fraction of the ceiling"),
        ("reference_tflops", "the reference's TFLOP/s"), ("ratio_to_reference", "speed-up over the reference"))),
    x_axis="n_memories",
    check=check,
)
