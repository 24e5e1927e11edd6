"""One interface for every associative memory: retrieve a query, get states, steps, energies."""

from __future__ import annotations

import abc
import numbers
import typing

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

    def for_queries(self, queries: Float[Array, "B D"]) -> AbstractMemory:
        """The model ready to retrieve this batch: itself, or a copy carrying what depends only on
        its memories and these queries, computed once for the cells that share them (retrieval
        gives the same numbers either way)."""
        return self


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


def _bounds(field) -> tuple[float | int | None, float | int | None, bool, bool]:
    """(low, high) of a declared Field, with whether each is strict (gt/lt) or not (ge/le)."""
    low = high = None
    low_strict = high_strict = False
    for m in field.metadata:
        if getattr(m, "gt", None) is not None:
            low, low_strict = m.gt, True
        if getattr(m, "ge", None) is not None:
            low, low_strict = m.ge, False
        if getattr(m, "lt", None) is not None:
            high, high_strict = m.lt, True
        if getattr(m, "le", None) is not None:
            high, high_strict = m.le, False
    return low, high, low_strict, high_strict


def check_declared(owner: str, params, values: dict, *, names: dict | None = None) -> None:
    """Each of the model's `values` ({attribute: value}) checked against its declaration in the
    `Params` class `params`, the one place ranges and choices are written: a choice among its
    Literal's values, an integer where the field is int, a number within the Field's bounds.
    `names` maps an attribute to its parameter where they differ (DiscreteDAM.kind ->
    interaction). An array (a traced or batched value) is checked where it is made. Raises one
    line naming the attribute, e.g. `DiscreteDAM: n must be in [2, 30], got 0`."""
    for attr, value in values.items():
        field = params.model_fields[(names or {}).get(attr, attr)]
        choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is typing.Literal else ()
        if choices:
            check_choice(owner, attr, value, choices)
            continue
        if isinstance(value, (jax.Array, np.ndarray)):
            continue
        if field.annotation is int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            raise ValueError(f"{owner}: {attr} must be an integer, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy scalars too
            raise ValueError(f"{owner}: {attr} must be a number, got {value!r}")
        low, high, low_strict, high_strict = _bounds(field)
        # value is a numbers.Real (checked above), which pyright cannot compare with a float
        below = low is not None and (value <= low if low_strict else value < low)  # pyright: ignore[reportOperatorIssue]
        above = high is not None and (value >= high if high_strict else value > high)  # pyright: ignore[reportOperatorIssue]
        if below or above:
            if low is not None and high is not None:
                span = f"in {'(' if low_strict else '['}{low:g}, {high:g}{')' if high_strict else ']'}"
            elif low is not None:
                span = f"{'>' if low_strict else '>='} {low:g}"
            else:
                span = f"{'<' if high_strict else '<='} {high:g}"
            raise ValueError(f"{owner}: {attr} must be {span}, got {value!r}")


def check_choice(owner: str, name: str, value, choices: tuple) -> None:
    """One line naming the allowed values when a string option is not one of them."""
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {choices}, got {value!r}")
