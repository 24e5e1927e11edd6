"""Continuous dense associative memory (modern Hopfield network), built on the energy framework.

The model is a one-layer HAM: an identity visible layer plus a memory synapse, so its energy is
E(x) = ½‖x‖² − (1/β)·lse(β·Ξx) (dot) or −(1/β)·lse(−β/2·‖ξ − x‖²) (l2). Two ways down:
- `method="update"`: the fast path x ← Ξᵀ softmax(β·sim(Ξ, x)) (Ramsauer et al. 2020), which
  is exactly the Euler step with dt = 1 of the general descent (tested equal), and a
  concave-convex step, so E never increases;
- `method="flow"`: the general `energy.descend` with step `dt` (the gradient flow).
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ..energy import HAM, Identity, MemorySynapse, NeuronLayer, descend, fixed_point, similarity
from ..params import Field, Params, choices
from ._registry import register_model
from ._base import AbstractMemory, Retrieval, check_declared, check_patterns

Method = Literal["update", "flow"]
Similarity = Literal["l2", "dot"]  # the order SoftmaxDAMParams lists them (l2 is its default)
METHODS = choices(Method)


def softmax_update(memories: Float[Array, "K D"], x: Float[Array, " D"], *, beta, kind: str,
                   mask=None) -> Float[Array, " D"]:
    """One retrieval step: Ξᵀ softmax(β·sim(Ξ, x)). Two matrix products, 4·K·D flops.
    Rows where `mask` is False are padding and get zero weight."""
    sims = similarity(memories, x, kind)
    if mask is not None:
        sims = jnp.where(mask, sims, -jnp.inf)
    return jax.nn.softmax(beta * sims) @ memories


class ContinuousDAM(AbstractMemory):
    """Softmax dense associative memory with dot or L2 similarity and inverse temperature β."""

    memories: Float[Array, "K D"]
    beta: Float[Array, ""] | float = 1.0
    similarity: str = eqx.field(static=True, default="l2")
    method: str = eqx.field(static=True, default="update")
    max_steps: int = eqx.field(static=True, default=20)
    dt: float = eqx.field(static=True, default=0.5)
    tol: float = eqx.field(static=True, default=1e-4)
    mask: Bool[Array, " K"] | None = None  # padding rows (False) take no part: K buckets stay exact

    @property
    def own_similarity(self) -> str:
        return self.similarity

    def __check_init__(self):
        check_patterns(self.memories, owner="ContinuousDAM")
        check_declared("ContinuousDAM", SoftmaxDAMParams, {"similarity": self.similarity, "method": self.method,
                                                            "beta": self.beta, "max_steps": self.max_steps, "dt": self.dt})

    @property
    def patterns(self):
        return self.memories

    def as_ham(self) -> HAM:
        d = self.memories.shape[1]
        return HAM(
            layers={"visible": NeuronLayer(Identity(), (d,))},
            synapses={"memory": MemorySynapse(self.memories, self.beta, self.similarity, self.mask)},
            connections={"memory": ("visible",)},
        )

    def energy(self, x: Float[Array, " D"]) -> Float[Array, ""]:
        return self.as_ham().state_energy({"visible": x})

    def retrieve_one(self, query, *, key=None):
        if self.method == "flow":
            out = descend(self.as_ham(), {"visible": query}, dt=self.dt, max_steps=self.max_steps, tol=self.tol)
            return Retrieval(out.states["visible"], out.steps, out.converged, out.energies)

        update = lambda t, x: softmax_update(self.memories, x, beta=self.beta, kind=self.similarity,  # noqa: E731
                                             mask=self.mask)
        return Retrieval(*fixed_point(update, self.energy, query, max_steps=self.max_steps, tol=self.tol))


PRECISIONS = ("fp32", "tf32", "bf16")


def _matmul(a, b, precision: str):
    """a @ b in the named precision; bf16 takes bf16 operands and accumulates in fp32."""
    if precision == "bf16":
        return jnp.matmul(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16), preferred_element_type=jnp.float32)
    p = jax.lax.Precision.HIGHEST if precision == "fp32" else jax.lax.Precision.DEFAULT
    return jnp.matmul(a, b, precision=p)


def softmax_retrieval(
    memories: Float[Array, "K D"],
    queries: Float[Array, "B D"],
    *,
    beta: float,
    steps: int,
    similarity: str = "dot",
    precision: str = "fp32",
    chunk: int = 0,
) -> Float[Array, "B D"]:
    """`steps` batched softmax updates with no early stop: the throughput kernel.

    `chunk > 0` streams the memories in blocks with an online softmax (running max and sum), so
    memory grows with B·D + K·D + B·chunk instead of B·K. The softmax is always fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    k, d = memories.shape
    bias = -0.5 * jnp.sum(memories.astype(jnp.float32) ** 2, axis=1) if similarity == "l2" else jnp.zeros(k)
    if chunk and k % chunk:
        raise ValueError(f"chunk={chunk} must divide the number of memories K={k}")
    mem = memories.astype(jnp.bfloat16) if precision == "bf16" else memories

    def full_step(x, _):
        logits = beta * (_matmul(x, mem.T, precision) + bias)
        return _matmul(jax.nn.softmax(logits, axis=-1), mem, precision).astype(x.dtype), None

    def chunked_step(x, _):
        blocks = mem.reshape(k // chunk, chunk, d)
        biases = bias.reshape(k // chunk, chunk)

        def block(carry, blk):
            m, s, acc = carry
            xi, bb = blk
            logits = beta * (_matmul(x, xi.T, precision) + bb)
            m_new = jnp.maximum(m, jnp.max(logits, axis=-1))
            scale = jnp.exp(m - m_new)
            e = jnp.exp(logits - m_new[:, None])
            return (m_new, s * scale + e.sum(-1), acc * scale[:, None] + _matmul(e, xi, precision)), None

        init = (jnp.full(x.shape[0], -jnp.inf), jnp.zeros(x.shape[0]), jnp.zeros(x.shape, jnp.float32))
        (m, s, acc), _ = jax.lax.scan(block, init, (blocks, biases))
        return (acc / s[:, None]).astype(x.dtype), None

    x, _ = jax.lax.scan(chunked_step if chunk else full_step, queries, None, length=steps)
    return x


# --- registry entry ------------------------------------------------------------------------------
class SoftmaxDAMParams(Params):
    beta: float = Field(1.0, gt=0, le=1e4, description="inverse temperature of the softmax; retrieval needs beta * separation >> ln K (Ramsauer et al. 2020, Thm 5): 1 retrieves mnist-5k (K = 100, sigma = 0.3: 100%), <= 0.1 averages the memories (1%)")
    similarity: Similarity = Field("l2", description="similarity inside the softmax")
    method: Method = Field("update", description="x <- Xi^T softmax (dt = 1) or Euler flow with dt")
    max_steps: int = Field(20, ge=1, le=100_000, description="cap on steps")
    dt: float = Field(0.5, gt=0, le=1, only_with={"method": "flow"}, description="Euler step of method=flow")


def _build_softmax(p: SoftmaxDAMParams, patterns, *, labels, image_shape, key, mask):
    return ContinuousDAM(patterns, beta=jnp.asarray(p.beta, patterns.dtype), similarity=p.similarity,
                         method=p.method, max_steps=p.max_steps, dt=p.dt, mask=mask)


register_model("dam-softmax", params=SoftmaxDAMParams,
               doc="continuous softmax DAM (modern Hopfield), x <- Xi^T softmax(beta sim)",
               family="DAM", build=_build_softmax, maskable=True)
