"""Models by name: what `ambench models` lists and what a cell's `model` builds.

Each model file declares its own `Params` and calls `ambench.register_model(...)` at its top
level; every module of this package is imported on first use, so a new model is one new file
(another package's models: its modules named in the `ambench.models` entry-point group).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp

from ..params import Component, Registry


@dataclass(frozen=True)
class ModelSpec(Component):
    """A model family member: how to build it from stored patterns and its parameters.

    `build(params, patterns, *, labels, image_shape, key, mask)` returns an AbstractMemory;
    `maskable` models accept zero-padded memories with a mask (K buckets, exact results).
    """

    family: str = "DAM"  # CHN, DAM or HAM
    binary: bool = False  # stores ±1 patterns
    build: Callable[..., Any] | None = None
    maskable: bool = False
    check: Callable[[Any], None] | None = None  # (cell) -> None, raises ValueError naming the fix


def _discover() -> None:
    from .. import models

    for info in pkgutil.iter_modules(models.__path__):
        importlib.import_module(f"{models.__name__}.{info.name}")


MODELS: Registry[ModelSpec] = Registry("model", discover=_discover)


def build_model(name: str, params, patterns, *, labels=None, image_shape=None, key=None, mask=None):
    spec = MODELS[name]
    key = jax.random.PRNGKey(0) if key is None else key
    return spec.build(params, jnp.asarray(patterns), labels=None if labels is None else jnp.asarray(labels),
                      image_shape=image_shape, key=key, mask=None if mask is None else jnp.asarray(mask))
