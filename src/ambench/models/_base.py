"""One interface for every associative memory: retrieve a query, get states, steps, energies."""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray


class Retrieval(eqx.Module):
    """The outcome of one retrieval (or a batch of them, with a leading batch axis).

    `energies[t]` is the energy after t steps, NaN after `steps` (the trace is fixed-length so
    that retrievals batch); `state` lives in the space of the stored patterns.
    """

    state: Float[Array, "... D"]
    steps: Int[Array, "..."]
    converged: Bool[Array, "..."]
    energies: Float[Array, "... T"]


class AbstractMemory(eqx.Module):
    """An associative memory holding K patterns of dimension D."""

    @property
    @abc.abstractmethod
    def patterns(self) -> Float[Array, "K D"]:
        """The stored patterns, in the space queries and retrieved states live in."""

    @abc.abstractmethod
    def retrieve_one(self, query: Float[Array, " D"], *, key: PRNGKeyArray) -> Retrieval:
        """Run the model's dynamics from one query."""

    @property
    def own_similarity(self) -> str:
        """The similarity the model itself compares a state with its memories by, as
        `metrics.nearest_index` names it (the strict criterion in the model's own terms):
        l2 unless the model says otherwise."""
        return "l2"


@eqx.filter_jit
def retrieve(model: AbstractMemory, queries: Float[Array, "B D"], *, key: PRNGKeyArray) -> Retrieval:
    """Retrieve a batch of queries (one compiled program per model structure and shape). A
    model with a `retrieve_batch` method (the same numbers as `retrieve_one` row by row) runs it."""
    if hasattr(model, "retrieve_batch"):
        return model.retrieve_batch(queries, key=key)
    keys = jax.random.split(key, queries.shape[0])
    return jax.vmap(lambda q, k: model.retrieve_one(q, key=k))(queries, keys)


def check_patterns(patterns, *, owner: str, binary: bool = False, mask=None) -> Float[Array, "K D"]:
    """Validate stored patterns: a 2-D floating array (K, D), ±1-valued when `binary` (rows that
    `mask` marks as padding must be zero instead)."""
    if not hasattr(patterns, "shape") or getattr(patterns, "ndim", 0) != 2:
        raise ValueError(f"{owner}: patterns must be a 2-D array (K, D), got shape {getattr(patterns, 'shape', None)}")
    if not jnp.issubdtype(patterns.dtype, jnp.floating):
        raise TypeError(f"{owner}: patterns must be floating point (e.g. float32), got dtype {patterns.dtype}")
    if patterns.shape[0] < 1 or patterns.shape[1] < 1:
        raise ValueError(f"{owner}: need at least one pattern of at least one unit, got shape {patterns.shape}")
    if binary and not isinstance(patterns, jax.core.Tracer) and not isinstance(mask, jax.core.Tracer):
        expected = 1.0 if mask is None else np.asarray(mask, np.float32)[:, None]
        if not np.all(np.abs(np.asarray(patterns)) == expected):
            raise ValueError(f"{owner}: patterns must be ±1 (binarise with encoding=binary) and padding rows zero")
    return patterns


def check_choice(owner: str, name: str, value, choices: tuple) -> None:
    """One line naming the allowed values when a string option is not one of them."""
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {choices}, got {value!r}")
