"""What counts as a correct retrieval, and the other per-query measurements.

All functions take a batch: `states` (B, D), `targets` (B, D), `patterns` (K, D), and return
one value per query; experiments average them.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

UHN_THRESHOLD = 50.0  # Millidge et al. 2022, squared error for 784 pixels
UHN_DIM = 784


def wrong_fraction(states: Float[Array, "B D"], targets: Float[Array, "B D"]) -> Float[Array, " B"]:
    """Fraction of components whose sign differs from the target (±1 data)."""
    return jnp.mean(jnp.sign(states) != jnp.sign(targets), axis=-1)


def overlap(states, targets) -> Float[Array, " B"]:
    """m = (1/D)·s·ξ in [−1, 1] for ±1 data; |m| = 1 is the pattern or its negative."""
    return jnp.mean(jnp.sign(states) * targets, axis=-1)


def exact_recall(states, targets) -> Bool[Array, " B"]:
    return wrong_fraction(states, targets) == 0


def nearest_index(states, patterns, *, similarity: str = "l2", mask=None) -> Int[Array, " B"]:
    """Index of the stored pattern most similar to each state (the strict criterion); rows where
    `mask` is False are padding and never chosen."""
    if similarity == "dot":
        sims = states @ patterns.T
    elif similarity == "manhattan":
        sims = -jnp.sum(jnp.abs(states[:, None] - patterns[None]), -1)
    else:  # −‖x − ξ‖² up to a per-state constant
        sims = 2 * states @ patterns.T - jnp.sum(patterns**2, -1)
    if mask is not None:
        sims = jnp.where(mask, sims, -jnp.inf)
    return jnp.argmax(sims, axis=-1)


def threshold_correct(states, targets, *, threshold: float = UHN_THRESHOLD) -> Bool[Array, " B"]:
    """Universal Hopfield Networks criterion: Σ(x − out)² ≤ threshold·D/784 (lenient on MNIST)."""
    d = states.shape[-1]
    return jnp.sum((states - targets) ** 2, axis=-1) <= threshold * d / UHN_DIM


def energy_monotone(energies: Float[Array, "B T"], *, rtol: float = 1e-4) -> Bool[Array, " B"]:
    """No step raised the energy (NaN padding ignored).

    The tolerance is relative to the largest |E| along the trace: near a fixed point E is a
    small difference of large float32 terms (e.g. ½‖x‖² and an lse of ~D), whose round-off
    would otherwise read as an increase.
    """
    e0, e1 = energies[:, :-1], energies[:, 1:]
    scale = 1 + jnp.nanmax(jnp.abs(energies), axis=-1, keepdims=True)
    ok = jnp.isnan(e1) | jnp.isnan(e0) | (e1 - e0 <= rtol * scale)
    return jnp.all(ok, axis=-1)


def diverged(states) -> Bool[Array, " B"]:
    """NaN or inf anywhere in the final state: recorded as a failed retrieval, never a crash."""
    return ~jnp.all(jnp.isfinite(states), axis=-1)
