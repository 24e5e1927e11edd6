"""Sparse modern Hopfield networks (Hu et al. 2023; Santos et al. 2024): the softmax of the
modern Hopfield update replaced by a sparse α-entmax, so retrieval can land exactly on one
pattern (or a small mixture) instead of a dense average.

Energy (the Fenchel–Young form): E(x) = ½‖x‖² − (1/β)·Ψ*_α(β·Ξx), with Ψ*_α the convex
conjugate of the Tsallis α-entropy regulariser Ω_α(p) = (Σ p_i^α − 1)/(α(α − 1)) (α → 1 is
the Shannon entropy: Ψ* = logsumexp, the softmax DAM). By Danskin's theorem ∇Ψ*_α = α-entmax,
so the update x ← Ξᵀ entmax_α(β·Ξx) is the concave-convex step: E never increases.
`separation`: softmax (α = 1), entmax15 (α = 1.5), sparsemax (α = 2), and the α-normmax of
Santos et al. (normmax2, normmax5): Ω(p) = ‖p‖_α − 1, the negative norm entropy, also convex, so
the same update descends the same form of energy.
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ..energy import fixed_point
from ..params import Field, Params
from ._registry import register_model
from ._base import AbstractMemory, Retrieval, check_declared, check_patterns

ALPHAS = {"softmax": 1.0, "entmax15": 1.5, "sparsemax": 2.0}
NORMMAX = {"normmax2": 2.0, "normmax5": 5.0}  # α of the norm entropy
BISECTIONS = 40  # float32: the threshold to ~2^-40 of its bracket, far below one ulp of p


def entmax(z: Float[Array, " K"], alpha: float, mask: Bool[Array, " K"] | None = None) -> Float[Array, " K"]:
    """α-entmax(z) = argmax_p ⟨p, z⟩ − Ω_α(p) over the simplex: p_i = [(α−1)z_i − τ]_+^{1/(α−1)}
    with τ found by bisection so that Σp = 1 (α = 1: softmax). Masked entries get 0."""
    mask = jnp.ones(z.shape, bool) if mask is None else mask
    if alpha == 1.0:
        return jax.nn.softmax(jnp.where(mask, z, -jnp.inf))
    zs = jnp.where(mask, (alpha - 1.0) * z, -jnp.inf)
    top = jnp.max(zs)
    power = 1.0 / (alpha - 1.0)

    def mass(tau):
        return jnp.sum(jnp.where(mask, jnp.maximum(zs - tau, 0.0), 0.0) ** power)

    def bisect(_, bracket):  # mass(top - 1) >= 1 >= mass(top): τ lies in [top - 1, top]
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        return jnp.where(mass(mid) >= 1.0, mid, lo), jnp.where(mass(mid) >= 1.0, hi, mid)

    lo, hi = jax.lax.fori_loop(0, BISECTIONS, bisect, (top - 1.0, top))
    p = jnp.where(mask, jnp.maximum(zs - 0.5 * (lo + hi), 0.0), 0.0) ** power
    return p / jnp.sum(p)


def entmax_conjugate(z: Float[Array, " K"], alpha: float, mask: Bool[Array, " K"] | None = None) -> Float[Array, ""]:
    """Ψ*_α(z) = ⟨p*, z⟩ − Ω_α(p*) with p* = α-entmax(z) (logsumexp for α = 1)."""
    if alpha == 1.0:
        return jax.nn.logsumexp(z, b=None if mask is None else mask.astype(z.dtype))
    p = jax.lax.stop_gradient(entmax(z, alpha, mask))  # Danskin: the gradient is p*, with no term via p*
    zm = jnp.where(mask, z, 0.0) if mask is not None else z
    return p @ zm - (jnp.sum(p**alpha) - 1.0) / (alpha * (alpha - 1.0))


def normmax(z: Float[Array, " K"], alpha: float, mask: Bool[Array, " K"] | None = None) -> Float[Array, " K"]:
    """α-normmax(z) = argmax_p ⟨p, z⟩ − ‖p‖_α over the simplex (α > 1). Stationarity gives
    (p_i/‖p‖_α)^{α−1} = [z_i − τ]_+, so p ∝ [z − τ]_+^{1/(α−1)} with τ the root of
    Σ [z_i − τ]_+^{α/(α−1)} = 1 (bisection in [max z − 1, max z]). Masked entries get 0."""
    mask = jnp.ones(z.shape, bool) if mask is None else mask
    zs = jnp.where(mask, z, -jnp.inf)
    top = jnp.max(zs)
    power = alpha / (alpha - 1.0)

    def mass(tau):
        return jnp.sum(jnp.where(mask, jnp.maximum(zs - tau, 0.0), 0.0) ** power)

    def bisect(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        return jnp.where(mass(mid) >= 1.0, mid, lo), jnp.where(mass(mid) >= 1.0, hi, mid)

    lo, hi = jax.lax.fori_loop(0, BISECTIONS, bisect, (top - 1.0, top))
    p = jnp.where(mask, jnp.maximum(zs - 0.5 * (lo + hi), 0.0), 0.0) ** (1.0 / (alpha - 1.0))
    return p / jnp.sum(p)


def normmax_conjugate(z: Float[Array, " K"], alpha: float, mask: Bool[Array, " K"] | None = None) -> Float[Array, ""]:
    """Ψ*(z) = ⟨p*, z⟩ − ‖p*‖_α + 1 with p* = α-normmax(z); its gradient is p* (Danskin)."""
    p = jax.lax.stop_gradient(normmax(z, alpha, mask))
    zm = jnp.where(mask, z, 0.0) if mask is not None else z
    return p @ zm - jnp.sum(p**alpha) ** (1.0 / alpha) + 1.0


def separate(z, separation: str, mask=None):
    """The separation's distribution p(z) (the gradient of `conjugate`)."""
    if separation in NORMMAX:
        return normmax(z, NORMMAX[separation], mask)
    return entmax(z, ALPHAS[separation], mask)


def conjugate(z, separation: str, mask=None):
    if separation in NORMMAX:
        return normmax_conjugate(z, NORMMAX[separation], mask)
    return entmax_conjugate(z, ALPHAS[separation], mask)


class SparseHopfield(AbstractMemory):
    """Modern Hopfield retrieval with α-entmax separation, dot-product similarity."""

    memories: Float[Array, "K D"]
    beta: Float[Array, ""] | float = 1.0
    separation: str = eqx.field(static=True, default="sparsemax")
    max_steps: int = eqx.field(static=True, default=20)
    tol: float = eqx.field(static=True, default=1e-4)
    mask: Bool[Array, " K"] | None = None

    @property
    def own_similarity(self) -> str:
        return "dot"

    def __check_init__(self):
        check_patterns(self.memories, owner="SparseHopfield")
        check_declared("SparseHopfield", SparseHopfieldParams, {"separation": self.separation, "beta": self.beta,
                                                                 "max_steps": self.max_steps, "tol": self.tol})

    @property
    def patterns(self):
        return self.memories

    @property
    def alpha(self) -> float:
        return NORMMAX.get(self.separation) or ALPHAS[self.separation]

    def energy(self, x: Float[Array, " D"]) -> Float[Array, ""]:
        return 0.5 * x @ x - conjugate(self.beta * (self.memories @ x), self.separation, self.mask) / self.beta

    def update(self, x: Float[Array, " D"]) -> Float[Array, " D"]:
        return separate(self.beta * (self.memories @ x), self.separation, self.mask) @ self.memories

    def retrieve_one(self, query, *, key=None):
        return Retrieval(*fixed_point(lambda t, x: self.update(x), self.energy, query, max_steps=self.max_steps,
                                      tol=self.tol))


class SparseHopfieldParams(Params):
    beta: float = Field(1.0, gt=0, le=1e4, description="inverse temperature of the separation")
    separation: Literal["sparsemax", "entmax15", "softmax", "normmax2", "normmax5"] = Field(
        "sparsemax", description="alpha-entmax: sparsemax (2), entmax15 (1.5), softmax (1); or alpha-normmax (2, 5)")
    max_steps: int = Field(20, ge=1, le=100_000, description="cap on update steps")
    tol: float = Field(1e-4, ge=0, le=1, description=(
        "stop once no component moves more than this; 0: only an exact fixed point stops before max_steps"))


def _build(p: SparseHopfieldParams, patterns, *, labels, image_shape, key, mask):
    return SparseHopfield(patterns, beta=jnp.asarray(p.beta, patterns.dtype), separation=p.separation,
                          max_steps=p.max_steps, tol=p.tol, mask=mask)


register_model("sparse-hopfield", params=SparseHopfieldParams,
               doc="sparse modern Hopfield: x <- Xi^T entmax_alpha(beta Xi x) (Hu et al. 2023; Santos et al. 2024)",
               family="DAM", build=_build, maskable=True)
