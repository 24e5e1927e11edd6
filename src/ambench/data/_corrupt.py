"""Corruptions of queries: deterministic given a key, values kept inside the data range."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

CORRUPTIONS = {
    "none": "the stored pattern itself",
    "flip": "flip the sign of exactly round(level·D) components (±1 data)",
    "gaussian": "add N(0, level²) noise, clip to the data range",
    "gaussian-abs": "clamp(|x + N(0, level²)|, low, high): the Universal Hopfield Networks corruption",
    "mask_rows": "set the bottom `level` fraction of image rows to the background value",
    "mask_rows_mid": "set the bottom `level` fraction of image rows to the middle of the range (0 in [-1, 1])",
    "mask_pixels": "set a random `level` fraction of pixels to the background value",
    "mask_patches": "set a random round(level·n) of the n 4x4 patches to the background value (masked-patch completion)",
    "salt_pepper": "set a random `level` fraction of pixels to low or high at random",
}


PATCH = 4  # side of the patches `mask_patches` hides (the energy-transformer's default patch)


def corrupt(
    x: Float[Array, " D"],
    kind: str,
    level: float | Float[Array, ""],
    *,
    key: PRNGKeyArray,
    low: float | int | Float[Array, ""] = 0.0,
    high: float | int | Float[Array, ""] = 1.0,
    image_shape: tuple[int, ...] | None = None,
) -> Float[Array, " D"]:
    """Corrupt one pattern. `low` is the background value masks write (0 for [0,1], −1 for ±1)."""
    d = x.shape[-1]
    if kind == "none":
        return x
    if kind == "flip":
        n_flip = jnp.round(level * d).astype(jnp.int32)
        ranks = jnp.argsort(jax.random.uniform(key, (d,)))
        return jnp.where(ranks < n_flip, -x, x)
    if kind == "gaussian":
        return jnp.clip(x + level * jax.random.normal(key, (d,), x.dtype), low, high)
    if kind == "gaussian-abs":
        return jnp.clip(jnp.abs(x + level * jax.random.normal(key, (d,), x.dtype)), low, high)
    if kind in ("mask_rows", "mask_rows_mid"):
        c, h, w = image_shape if image_shape is not None else (1, 1, d)
        rows = jnp.arange(h)[:, None] * jnp.ones((1, w))
        hidden = rows >= jnp.floor(h * (1 - level))  # Millidge et al.'s code: img[int(H * (1 - f)):H] = 0
        if image_shape is None:  # flat patterns: mask the last fraction of components
            hidden = jnp.arange(d)[None] >= d - jnp.round(level * d)
        fill = low if kind == "mask_rows" else 0.5 * (low + high)
        return jnp.where(jnp.broadcast_to(hidden, (c, h, w)).reshape(-1), fill, x)
    if kind == "mask_patches":
        c, h, w = image_shape if image_shape is not None else (1, 1, d)
        ph, pw = -(-h // PATCH), -(-w // PATCH)  # a last, smaller patch where the side is not a multiple
        ranks = jnp.argsort(jax.random.uniform(key, (ph * pw,)))
        hidden_patch = (ranks < jnp.round(level * ph * pw)).reshape(ph, pw)
        hidden = hidden_patch[jnp.arange(h)[:, None] // PATCH, jnp.arange(w)[None] // PATCH]
        return jnp.where(jnp.broadcast_to(hidden, (c, h, w)).reshape(-1), low, x)
    if kind == "mask_pixels":
        return jnp.where(jax.random.uniform(key, (d,)) < level, low, x)
    if kind == "salt_pepper":
        k1, k2 = jax.random.split(key)
        hit = jax.random.uniform(k1, (d,)) < level
        return jnp.where(hit, jnp.where(jax.random.bernoulli(k2, 0.5, (d,)), high, low), x)
    raise ValueError(f"noise_kind must be one of {', '.join(CORRUPTIONS)}; got {kind!r}")


def check_level(kind: str, level: float, *, name: str = "noise_level") -> None:
    """Noise levels are fractions in [0, 1] except Gaussian σ (any value >= 0). `name` is the
    parameter the level was given as (an error names it)."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"noise_kind must be one of {', '.join(CORRUPTIONS)}; got {kind!r}")
    if kind.startswith("gaussian"):
        if not level >= 0:
            raise ValueError(f"{name} for {kind} is a standard deviation >= 0; got {level}")
    elif not 0 <= level <= 1:
        raise ValueError(f"{name} for {kind} is a fraction in [0, 1]; got {level}")
