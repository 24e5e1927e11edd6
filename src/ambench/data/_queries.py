"""Queries: stored patterns drawn in a seeded order and corrupted, as one compiled program."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._corrupt import corrupt
from ._sources import encode


def draw_queries(source: np.ndarray, *, seed: int, kind: str, level: float, low: float, high: float, n: int,
                 rows: int, image_shape=None, encoding: str | None = None
                 ) -> tuple[Float[Array, "rows D"], Int[Array, " rows"]]:
    """The first `n` patterns of a seeded order of `source`, corrupted by `kind` at `level`
    (values kept in [low, high]) and then encoded when `encoding` is given (images are
    corrupted in [0, 1] so that a level means the same for every model); repeated up to `rows`
    rows (a fixed batch shape; the repeats are not scored). Returns queries and target indices."""
    return _draw(source, np.uint32(seed), np.float32(level), np.float32(low), np.float32(high), n=n, rows=rows,
                 kind=kind, image_shape=image_shape, encoding=encoding)


@functools.partial(jax.jit, static_argnames=("n", "rows", "kind", "image_shape", "encoding"))
def _draw(source, seed, level, low, high, *, n, rows, kind, image_shape, encoding):
    """One compiled program per K (any seed or level): a cell's queries cost one dispatch."""
    key = jax.random.PRNGKey(seed)
    target_idx = jax.random.permutation(jax.random.fold_in(key, 1), source.shape[0])[:n]
    keys = jax.random.split(jax.random.fold_in(key, 2), n)
    q = jax.vmap(lambda v, k: corrupt(v, kind, level, key=k, low=low, high=high, image_shape=image_shape))(
        source[target_idx], keys)
    q = q if encoding is None else encode(q, encoding)
    repeat = jnp.arange(rows) % n
    return q[repeat], target_idx[repeat]
