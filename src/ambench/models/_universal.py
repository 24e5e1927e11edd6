"""Universal Hopfield Networks (Millidge et al. 2022): single-shot retrieval
out = Ξᵀ · sep(sim(Ξ, q)) / Σ sep(sim(Ξ, q)). Not an energy descent: one step, no dynamics.

Similarities as in their code: `dot` is the sum-normalised dot product (each vector divided by
its sum), `euclidean` 1/Σ(q − ξ)², `manhattan` 1/Σ|q − ξ|. Separations: identity, square,
cube, x¹⁰ (`poly10`), softmax(β · s/Σs) (their `general_update_rule` divides the scores by
their sum before the softmax, so β acts on scores that sum to one), max (one-hot on the best match).
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ..params import Field, Params, choices
from ._registry import register_model
from ._base import AbstractMemory, Retrieval, check_choice, check_patterns

UHNSimilarity = Literal["dot", "euclidean", "manhattan"]
Separation = Literal["identity", "square", "cube", "poly10", "softmax", "max"]
UHN_SIMILARITIES = choices(UHNSimilarity)
SEPARATIONS = choices(Separation)


def uhn_similarity(memories, q, kind: str):
    if kind == "dot":
        m = memories / (jnp.sum(memories, axis=1, keepdims=True) + 1e-8)
        return m @ (q / (jnp.sum(q) + 1e-8))
    if kind == "euclidean":
        return 1.0 / (jnp.sum((memories - q) ** 2, axis=1) + 1e-8)
    return 1.0 / (jnp.sum(jnp.abs(memories - q), axis=1) + 1e-8)


def separate(s, kind: str, beta, mask=None):
    """Normalised separation weights w over the K stored items (Σ w = 1 over unmasked rows).

    softmax: w_μ = exp(β·s_μ/S) / Σ_ν exp(β·s_ν/S) with S = Σ_ν s_ν, both sums over the
    unmasked rows only (masked rows get w = 0 and do not enter S): the authors'
    `general_update_rule`, which divides the similarity scores by their sum before softmax(β·)
    (with β = 1000 in their figures). The powers are normalised by their sum (so dividing s by S
    first would change nothing); they are taken of s / max s, the same weights without the
    float32 overflow of s¹⁰ at a near-exact match (s up to 1e8). max is one-hot on the best unmasked match.
    """
    if mask is None:
        mask = jnp.ones(s.shape, bool)
    if kind == "softmax":
        total = jnp.sum(jnp.where(mask, s, 0.0))
        return jax.nn.softmax(jnp.where(mask, beta * s / total, -jnp.inf))
    if kind == "max":
        return jax.nn.one_hot(jnp.argmax(jnp.where(mask, s, -jnp.inf)), s.shape[0], dtype=s.dtype)
    power = {"identity": 1, "square": 2, "cube": 3, "poly10": 10}[kind]
    s = jnp.where(mask, s, 0.0)
    top = jnp.max(jnp.abs(s))
    w = (s / jnp.where(top > 0, top, 1.0)) ** power
    return w / (jnp.sum(w) + 1e-30)


class UniversalHopfield(AbstractMemory):
    memories: Float[Array, "K D"]
    beta: Float[Array, ""] | float = 1.0
    similarity: str = eqx.field(static=True, default="euclidean")
    separation: str = eqx.field(static=True, default="softmax")
    mask: Bool[Array, " K"] | None = None  # padding rows (False) take no part

    @property
    def own_similarity(self) -> str:  # their dot product is the sum-normalised one
        return {"dot": "normalised-dot", "euclidean": "l2", "manhattan": "manhattan"}[self.similarity]

    def __check_init__(self):
        check_patterns(self.memories, owner="UniversalHopfield")
        check_choice("UniversalHopfield", "similarity", self.similarity, UHN_SIMILARITIES)
        check_choice("UniversalHopfield", "separation", self.separation, SEPARATIONS)

    @property
    def patterns(self):
        return self.memories

    def retrieve_one(self, query, *, key=None):
        weights = separate(uhn_similarity(self.memories, query, self.similarity), self.separation, self.beta,
                           self.mask)
        out = weights @ self.memories
        # no energy function: an all-NaN trace, which the scorer reads as "no energy" (neither
        # diverged nor monotone: energy_monotone_rate is null for uhn cells)
        return Retrieval(out, jnp.array(1), jnp.array(True), jnp.full((2,), jnp.nan, query.dtype))


# --- registry entry ------------------------------------------------------------------------------
class UHNParams(Params):
    beta: float = Field(1000.0, gt=0, le=1e6, only_with={"separation": "softmax"},
                        description="inverse temperature of the softmax on scores divided by their sum; 1000 as in "
                                    "Millidge et al. 2022's code (at 1 the weights are near uniform: 1% nearest, "
                                    "Fashion-MNIST, K = 100, sigma = 0.3)")
    similarity: UHNSimilarity = Field("euclidean", description="sim(Xi, q) as in their code")
    separation: Separation = Field(
        "softmax", description="sep(.) applied to the similarities")


def _build_uhn(p: UHNParams, patterns, *, labels, image_shape, key, mask):
    return UniversalHopfield(patterns, beta=jnp.asarray(p.beta, patterns.dtype), similarity=p.similarity,
                             separation=p.separation, mask=mask)


register_model("uhn", params=UHNParams,
               doc="Universal Hopfield Network: single-shot Xi^T sep(sim(Xi, q)) (Millidge et al. 2022)",
               family="DAM", build=_build_uhn, maskable=True)
