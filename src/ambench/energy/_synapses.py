"""Hypersynapses: differentiable scalar energies of the activations of one or more layers.

A synapse is any module whose `__call__` takes the activations of the layers it connects (in
the order the hypergraph lists them) and returns a scalar. Nothing else is required of it.
"""

from __future__ import annotations

import abc
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

Similarity = Literal["dot", "l2"]
SIMILARITIES = ("dot", "l2")


class AbstractSynapse(eqx.Module):
    @abc.abstractmethod
    def __call__(self, *xhats: Float[Array, "..."]) -> Float[Array, ""]:
        raise NotImplementedError


class DenseSynapse(AbstractSynapse):
    """E = −x̂₁ᵀ W x̂₂ for two layers, E = −½ x̂ᵀ W x̂ for one (W symmetric); layers flattened."""

    weight: Float[Array, "out in"]

    def __call__(self, *xhats):
        if len(xhats) == 1:
            v = xhats[0].reshape(-1)
            return -0.5 * v @ (self.weight @ v)
        if len(xhats) == 2:
            return -xhats[0].reshape(-1) @ (self.weight @ xhats[1].reshape(-1))
        raise ValueError(f"DenseSynapse connects one or two layers, got {len(xhats)}")


class BiasSynapse(AbstractSynapse):
    """E = −⟨b, x̂⟩: a per-unit threshold."""

    bias: Float[Array, "..."]

    def __call__(self, xhat):
        return -jnp.sum(self.bias * xhat)


class ConvSynapse(AbstractSynapse):
    """E = −⟨x̂_out, conv(x̂_in, W)⟩ with x̂_in (C, H, W) and x̂_out (F, H', W')."""

    kernel: Float[Array, "features channels kh kw"]
    stride: int = eqx.field(static=True, default=1)
    padding: str = eqx.field(static=True, default="VALID")

    def conv(self, xhat_in: Float[Array, "c h w"]) -> Float[Array, "f h2 w2"]:
        out = jax.lax.conv_general_dilated(
            xhat_in[None], self.kernel, (self.stride, self.stride), self.padding
        )
        return out[0]

    def output_shape(self, in_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        return jax.eval_shape(self.conv, jax.ShapeDtypeStruct(in_shape, jnp.float32)).shape

    def __call__(self, xhat_in, xhat_out):
        return -jnp.sum(xhat_out * self.conv(xhat_in))


def similarity(
    memories: Float[Array, "K D"], xhat: Float[Array, " D"], kind: Similarity
) -> Float[Array, " K"]:
    """sim(ξ_μ, x̂) for every memory: the dot product, or −½‖ξ_μ − x̂‖²."""
    if kind == "dot":
        return memories @ xhat
    if kind == "l2":
        return memories @ xhat - 0.5 * jnp.sum(memories**2, axis=1) - 0.5 * (xhat @ xhat)
    raise ValueError(f"similarity must be one of {SIMILARITIES}, got {kind!r}")


class MemorySynapse(AbstractSynapse):
    """The dense-associative-memory energy −(1/β)·logsumexp(β·sim(Ξ, x̂)) on one layer.

    For `l2` the −½‖x̂‖² inside −½‖ξ − x̂‖² is handed back to the layer (+½‖x̂‖² here): with an
    identity layer, whose own energy is ½‖x̂‖², the total is then exactly the L2 DAM energy
    −(1/β)·lse(−β/2·‖ξ − x‖²), and one Euler step with dt = 1 is the softmax update
    x ← Ξᵀ softmax(β·sim(Ξ, x)) for either similarity.
    """

    memories: Float[Array, "K D"]
    beta: Float[Array, ""] | float
    kind: Similarity = eqx.field(static=True, default="dot")
    mask: Bool[Array, " K"] | None = None  # False rows are padding: they take no part

    def __check_init__(self):
        if self.kind not in SIMILARITIES:
            raise ValueError(f"MemorySynapse: similarity must be one of {SIMILARITIES}, got {self.kind!r}")
        if isinstance(self.beta, (int, float)) and not self.beta > 0:
            raise ValueError(f"MemorySynapse: beta must be > 0, got {self.beta!r}")

    def __call__(self, xhat):
        v = xhat.reshape(-1)
        sims = similarity(self.memories, v, self.kind)
        if self.mask is not None:
            sims = jnp.where(self.mask, sims, -jnp.inf)
        e = -jax.nn.logsumexp(self.beta * sims) / self.beta
        if self.kind == "l2":
            e = e - 0.5 * (v @ v)
        return e


class InteractionSynapse(AbstractSynapse):
    """E = −Σ_μ F(ξ_μ·x̂), the dense associative memory's energy (Krotov & Hopfield 2016;
    Demircigil et al. 2017): F(x) = xⁿ (`power`; n = 2 is the Hebbian CHN up to a constant),
    max(x, 0)ⁿ (`rectified`), or exp(βx) (`exp`, written −(1/β)·log Σ exp(β·ξ·x̂), a monotone
    transform that cannot overflow and orders states the same). Rows where `mask` is False are
    padding and take no part."""

    memories: Float[Array, "K D"]
    kind: str = eqx.field(static=True, default="power")
    n: int = eqx.field(static=True, default=3)
    beta: float = eqx.field(static=True, default=1.0)
    mask: Bool[Array, " K"] | None = None

    def __call__(self, xhat):
        return overlap_energy(self.memories @ xhat.reshape(-1), kind=self.kind, n=self.n, beta=self.beta,
                              mask=self.mask)


def overlap_energy(m: Float[Array, " K"], *, kind: str, n: int, beta: float,
                   mask: Bool[Array, " K"] | None = None) -> Float[Array, ""]:
    """−Σ_μ F(m_μ) of the overlaps m_μ = ξ_μ·x̂ (the InteractionSynapse's energy, given m)."""
    if kind == "exp":
        return -jax.nn.logsumexp(beta * m, b=None if mask is None else mask.astype(m.dtype)) / beta
    w = 1.0 if mask is None else mask.astype(m.dtype)
    if kind == "power":
        return -jnp.sum(w * m**n)
    if kind == "rectified":
        return -jnp.sum(w * jax.nn.relu(m) ** n)
    raise ValueError(f"InteractionSynapse: kind must be power, rectified or exp, got {kind!r}")
