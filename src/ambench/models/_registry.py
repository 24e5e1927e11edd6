"""Models by name, with their parameters and defaults: what `ambench models` lists and what a
cell's `model` key builds. Each builder takes the stored patterns and the cell's parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp

from ..energy import SIMILARITIES
from ._continuous import METHODS, ContinuousDAM
from ._discrete import INTERACTIONS, ORDERS, DiscreteDAM, HebbianCHN
from ._hams import ConditionalHAM, ContinuousCHN, ConvHAM
from ._universal import SEPARATIONS, UHN_SIMILARITIES, UniversalHopfield, uhn_similarity


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # CHN, DAM or HAM
    description: str
    binary: bool  # needs ±1 patterns
    params: dict[str, Any] = field(default_factory=dict)
    build: Callable[..., Any] = None
    similarity_param: str | None = None  # the parameter holding the model's own similarity
    similarity_fn: Callable[..., Any] | None = None  # (patterns, state, kind) -> similarities, if not dot/l2
    maskable: bool = False  # accepts zero-padded memories with a mask (K buckets, exact results)
    choices: dict[str, tuple] = field(default_factory=dict)  # allowed values of string parameters


def _chn(p, patterns, labels, image_shape, key, mask=None):
    return HebbianCHN(patterns, update=p["update"], order=p["order"], max_sweeps=p["max_sweeps"], mask=mask)


def _chn_cont(p, patterns, labels, image_shape, key):
    return ContinuousCHN(patterns, beta=p["beta"], dt=p["dt"], max_steps=p["max_steps"])


def _dam(p, patterns, labels, image_shape, key, mask=None):
    return DiscreteDAM(patterns, kind=p["interaction"], n=p["n"], beta=p["beta"], order=p["order"],
                       max_sweeps=p["max_sweeps"], mask=mask)


def _softmax(p, patterns, labels, image_shape, key, mask=None):
    return ContinuousDAM(patterns, beta=jnp.asarray(p["beta"], patterns.dtype), similarity=p["similarity"],
                         method=p["method"], max_steps=p["max_steps"], dt=p["dt"], mask=mask)


def _uhn(p, patterns, labels, image_shape, key, mask=None):
    return UniversalHopfield(patterns, beta=jnp.asarray(p["beta"], patterns.dtype), similarity=p["similarity"],
                             separation=p["separation"], mask=mask)


def _conv(p, patterns, labels, image_shape, key):
    return ConvHAM(patterns, image_shape=image_shape or (1, 1, patterns.shape[1]), key=key, beta=p["beta"],
                   features=p["features"], kernel_size=p["kernel_size"], max_steps=p["max_steps"])


def _conditional(p, patterns, labels, image_shape, key):
    n_classes = int(jnp.max(labels)) + 1 if labels is not None else 1
    labels = labels if labels is not None else jnp.zeros(patterns.shape[0], jnp.int32)
    return ConditionalHAM.from_pairs(patterns, labels, n_classes=max(n_classes, p["n_classes"]), beta=p["beta"],
                                     max_steps=p["max_steps"])


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec("chn", "CHN", "Hebbian Hopfield network, sign dynamics", True,
                  {"update": "async", "order": "random", "max_sweeps": 20}, _chn, maskable=True,
                  choices={"update": ("async", "sync"), "order": ORDERS}),
        ModelSpec("chn-continuous", "CHN", "two-layer continuous Hopfield network (tanh visible, quadratic memory)",
                  True, {"beta": 4.0, "dt": 0.2, "max_steps": 200}, _chn_cont),
        ModelSpec("dam", "DAM", "discrete dense associative memory, asynchronous Krotov-Hopfield updates", True,
                  {"interaction": "power", "n": 3, "beta": 1.0, "order": "random", "max_sweeps": 20}, _dam,
                  maskable=True, choices={"interaction": INTERACTIONS, "order": ORDERS}),
        ModelSpec("dam-softmax", "DAM", "continuous softmax DAM (modern Hopfield), x <- Xi^T softmax(beta sim)",
                  False, {"beta": 1.0, "similarity": "l2", "method": "update", "max_steps": 20, "dt": 0.5},
                  _softmax, similarity_param="similarity", maskable=True,
                  choices={"similarity": SIMILARITIES, "method": METHODS}),
        ModelSpec("uhn", "DAM", "Universal Hopfield Network: single-shot Xi^T sep(sim(Xi, q)) (Millidge et al. 2022)",
                  False, {"beta": 1.0, "similarity": "euclidean", "separation": "softmax"}, _uhn,
                  similarity_param="similarity", similarity_fn=uhn_similarity, maskable=True,
                  choices={"similarity": UHN_SIMILARITIES, "separation": SEPARATIONS}),
        ModelSpec("ham-conv", "HAM", "image -> conv features -> softmax memory, image clamped", False,
                  {"beta": 8.0, "features": 8, "kernel_size": 5, "max_steps": 100}, _conv),
        ModelSpec("ham-conditional", "HAM", "(image, label, memory) network; label free during retrieval",
                  False, {"beta": 8.0, "max_steps": 50, "n_classes": 10}, _conditional),
    ]
}


def build_model(name: str, params: dict, patterns, *, labels=None, image_shape=None, key=None, mask=None):
    spec = MODELS[name]
    key = jax.random.PRNGKey(0) if key is None else key
    extra = {"mask": jnp.asarray(mask)} if mask is not None else {}
    return spec.build(params, jnp.asarray(patterns), None if labels is None else jnp.asarray(labels), image_shape,
                      key, **extra)
