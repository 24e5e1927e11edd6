"""Models by name: what `ambench models` lists and what a cell's `model` builds.

Each model file declares its own `Params` and calls `ambench.register_model(...)` at its top
level; every module of this package is imported on first use, so a new model is one new file
(another package's models: its modules named in the `ambench.models` entry-point group).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Literal

import jax
import jax.numpy as jnp

from .._source import caller_module, module_version
from ..params import Component, Params, Registry


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Component):
    """A model family member: how to build it from stored patterns and its parameters.

    `build(params, patterns, *, labels, image_shape, key, mask)` returns an AbstractMemory;
    `maskable` models accept zero-padded memories with a mask (K buckets, exact results).
    """

    family: str = "DAM"  # CHN, DAM or HAM
    binary: bool = False  # stores ±1 patterns
    build: Callable[..., Any]
    maskable: bool = False
    check: Callable[[Any], None] | None = None  # (cell) -> None, raises ValueError naming the fix


def _discover() -> None:
    """Import every module of this package (each registers its models). By name, not by an
    import statement: a model's code version covers what it uses, not its siblings."""
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{__package__}.{info.name}")


MODELS: Registry[ModelSpec] = Registry("model", discover=_discover)


def build_model(name: str, params, patterns, *, labels=None, image_shape=None, key=None, mask=None):
    spec = MODELS[name]
    key = jax.random.PRNGKey(0) if key is None else key
    return spec.build(params, jnp.asarray(patterns), labels=None if labels is None else jnp.asarray(labels),
                      image_shape=image_shape, key=key, mask=None if mask is None else jnp.asarray(mask))


def register_model(name: str, *, params: type[Params], doc: str, build: Callable[..., Any],
                   family: Literal["CHN", "DAM", "HAM"] = "DAM", binary: bool = False, maskable: bool = False,
                   check: Callable[[Any], None] | None = None) -> ModelSpec:
    """Register a model: `ambench models` lists it and a cell's `model: NAME` builds it.

    Args:
        name: the name in sweep files and on the command line.
        params: its `Params` class (types, defaults, ranges, choices: the only validation).
        doc: one line saying what it is.
        build: `build(params, patterns, *, labels, image_shape, key, mask) -> AbstractMemory`.
        family: CHN, DAM or HAM (how listings group it).
        binary: it stores ±1 patterns (data sources then default to a binary encoding).
        maskable: it accepts zero-padded memories with a mask (several K in one compiled call).
        check: `check(cell)` raises ValueError naming the fix for a cell it cannot run.

    Example:
        ```python
        class ClippedParams(ambench.Params):
            beta: float = ambench.Field(4.0, gt=0, description="inverse temperature")

        def build(p, patterns, *, labels, image_shape, key, mask):
            return ClippedDAM(patterns, beta=p.beta, mask=mask)

        ambench.register_model("clipped-dam", params=ClippedParams, doc="softmax DAM, clipped read-out",
                               build=build, maskable=True)
        ```
    """
    version = module_version(caller_module())
    return MODELS.register(ModelSpec("model", name, params, doc, version, family=family, binary=binary,
                                     build=build, maskable=maskable, check=check))
