"""Throughput of the batched softmax-DAM retrieval step: queries·steps/s and achieved TFLOP/s,
with the fraction of the matrix-multiply rate measured on the same device in the same run."""

from typing import Literal

import jax
import jax.numpy as jnp

from ambench.models import softmax_retrieval
from ambench.models._continuous import _matmul
from ambench.params import Field, Params as _Params
from ambench.timing import matmul_rate, time_jitted

DESCRIPTION = "queries*steps/s, TFLOP/s and fraction of the measured matmul ceiling (model dam-softmax)"
MAIN_METRIC = "tflops"
X_AXIS = "n_memories"


class Params(_Params):
    n_memories: int = Field(4096, ge=1, le=1 << 24, description="K, the number of stored patterns")
    batch: int = Field(256, ge=1, le=1 << 20, description="B, queries retrieved at once")
    n_steps: int = Field(20, ge=1, le=10_000, description="T, softmax updates per retrieval (no early stop)")
    precision: Literal["fp32", "tf32", "bf16"] = Field(
        "fp32", description="fp32 (highest), tf32 (default matmul precision) or bf16 (fp32 softmax)")
    chunk: int = Field(0, ge=0, le=1 << 24, description="> 0: online softmax over blocks of this many memories")
    repeats: int = Field(3, ge=1, le=1000, description="timed repetitions (the best is kept)")
    reference: bool = Field(True, description="also time a hand-written jax.numpy loop of the same steps")


def check(cell):
    if cell["model"] != "dam-softmax" or cell["dataset"] != "random":
        raise ValueError("throughput measures model dam-softmax on dataset random (set dim for D)")


def run(cell, progress=lambda message: None):
    k, b, d, t = cell["n_memories"], cell["batch"], cell["dim"], cell["n_steps"]
    key = jax.random.PRNGKey(cell["seed"])
    mem = jax.random.normal(key, (k, d)) / d**0.5
    queries = mem[:b] if b <= k else jax.random.normal(jax.random.fold_in(key, 1), (b, d)) / d**0.5
    fn = jax.jit(lambda m, q: softmax_retrieval(m, q, beta=cell["beta"], steps=t, similarity=cell["similarity"],
                                                precision=cell["precision"], chunk=cell["chunk"]))
    progress("throughput: compiling and timing")
    seconds = time_jitted(fn, mem, queries, repeats=cell["repeats"])
    flops = 4.0 * b * k * d * t
    ceiling = matmul_rate(b, d, k, precision=cell["precision"], repeats=cell["repeats"])
    out = {
        "queries_steps_per_s": b * t / seconds,
        "ms_per_step": 1e3 * seconds / t,
        "tflops": flops / seconds / 1e12,
        "matmul_tflops": ceiling / 1e12,
        "ceiling_fraction": flops / seconds / ceiling,
    }
    if cell["reference"]:
        prec, beta = cell["precision"], cell["beta"]

        @jax.jit
        def plain(m, q):  # the same steps as a hand-written loop, never chunked
            def step(_, x):
                p = jax.nn.softmax(beta * _matmul(x, m.T, prec).astype(jnp.float32), axis=-1)
                return _matmul(p, m, prec).astype(x.dtype)
            return jax.lax.fori_loop(0, t, step, q)

        ref = time_jitted(plain, mem, queries, repeats=cell["repeats"])
        out |= {"reference_tflops": flops / ref / 1e12, "ratio_to_reference": ref / seconds}
    return out
