"""Hierarchical associative memories: models with hidden layers, all plain `energy.HAM`s.

- `ContinuousCHN`: the seeds' continuous Hopfield network, a visible layer (tanh for ±1 data,
  sigmoid for [0, 1] data) and a quadratic memory layer joined by a dense synapse Ξᵀ/√D.
  Integrating out the quadratic layer gives back the Hebbian energy −½ x̂ᵀ(ΞᵀΞ/D)x̂.
- `ConvHAM`: image → convolutional feature layer → softmax memory layer. The image is clamped to
  the query (conditioning), features and memory settle, and the read-out is the stored image
  the memory layer points at (Ξᵀ ĥ): retrieval by similarity in a convolutional feature space.
- `ConditionalHAM`: (image, label, memory) layers; with the label clamped it generates an image
  of that class, with the image clamped it classifies (the seeds' conditional network).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..energy import (
    HAM,
    BiasSynapse,
    ConvSynapse,
    DenseSynapse,
    Identity,
    NeuronLayer,
    Sigmoid,
    Softmax,
    Tanh,
    descend,
)
from ..params import Field, Params
from ._registry import register_model
from ._base import AbstractMemory, Retrieval, check_choice, check_declared, check_patterns


class ContinuousCHN(AbstractMemory):
    """Two-layer continuous Hopfield network; the retrieved state is sign(x̂) (tanh) or x̂."""

    memories: Float[Array, "K D"]
    beta: float = eqx.field(static=True, default=4.0)
    visible: str = eqx.field(static=True, default="tanh")
    dt: float = eqx.field(static=True, default=0.2)
    max_steps: int = eqx.field(static=True, default=200)
    tol: float = eqx.field(static=True, default=1e-3)

    def __check_init__(self):
        check_patterns(self.memories, owner="ContinuousCHN")
        check_choice("ContinuousCHN", "visible", self.visible, ("tanh", "sigmoid"))  # a model option, no parameter
        check_declared("ContinuousCHN", ContinuousCHNParams, {"max_steps": self.max_steps, "dt": self.dt, "beta": self.beta})

    @property
    def patterns(self):
        return self.memories

    def as_ham(self) -> HAM:
        k, d = self.memories.shape
        lag = Tanh(beta=self.beta) if self.visible == "tanh" else Sigmoid(beta=self.beta)
        return HAM(
            layers={"visible": NeuronLayer(lag, d), "memory": NeuronLayer(Identity(), k)},
            synapses={"hebbian": DenseSynapse(self.memories.T / jnp.sqrt(d))},
            connections={"hebbian": ("visible", "memory")},
        )

    def retrieve_one(self, query, *, key=None):
        ham = self.as_ham()
        out = descend(ham, {"visible": query, "memory": jnp.zeros(self.memories.shape[0], query.dtype)},
                      dt=self.dt, max_steps=self.max_steps, tol=self.tol)
        xhat = ham.layers["visible"].activation(out.states["visible"])
        state = jnp.sign(xhat) if self.visible == "tanh" else xhat
        return Retrieval(state, out.steps, out.converged, out.energies)


class ConvHAM(AbstractMemory):
    """Image → conv features → memory, three layers; the image is clamped to the query."""

    memories: Float[Array, "K D"]
    ham: HAM
    image_shape: tuple[int, int, int] = eqx.field(static=True)
    dt: float = eqx.field(static=True, default=0.5)
    max_steps: int = eqx.field(static=True, default=100)
    tol: float = eqx.field(static=True, default=1e-4)

    def __init__(self, memories, *, image_shape, key: PRNGKeyArray, beta: float = 8.0, features: int = 8,
                 kernel_size: int = 5, stride: int = 2, dt: float = 0.5, max_steps: int = 100, tol: float = 1e-4):
        check_patterns(memories, owner="ConvHAM")
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or int(jnp.prod(jnp.array(image_shape))) != memories.shape[1]:
            raise ValueError(f"ConvHAM: image_shape (C, H, W) must multiply to D={memories.shape[1]}, got {image_shape}")
        check_declared("ConvHAM", ConvHAMParams, {"features": features, "kernel_size": kernel_size,
                                                  "max_steps": max_steps, "dt": dt, "beta": beta})
        c = image_shape[0]
        kernel = jax.random.normal(key, (features, c, kernel_size, kernel_size), memories.dtype)
        conv = ConvSynapse(kernel / jnp.sqrt(c * kernel_size**2), stride=stride, padding="SAME")
        phi = jax.vmap(lambda m: conv.conv(m.reshape(image_shape)).reshape(-1))(memories)
        phi = phi / (jnp.linalg.norm(phi, axis=1, keepdims=True) + 1e-8)
        fshape = conv.output_shape(image_shape)
        self.memories = memories
        self.image_shape = image_shape
        self.dt, self.max_steps, self.tol = dt, max_steps, tol
        self.ham = HAM(
            layers={
                "image": NeuronLayer(Identity(), image_shape),
                "features": NeuronLayer(Identity(), fshape),
                "memory": NeuronLayer(Softmax(beta=beta), memories.shape[0]),
            },
            synapses={"conv": conv, "recall": DenseSynapse(phi.T)},
            connections={"conv": ("image", "features"), "recall": ("features", "memory")},
        )

    @property
    def patterns(self):
        return self.memories

    def retrieve_one(self, query, *, key=None):
        xs = self.ham.init_states(query.dtype)
        xs["image"] = query.reshape(self.image_shape)
        out = descend(self.ham, xs, dt=self.dt, max_steps=self.max_steps, tol=self.tol, clamp={"image": True})
        weights = self.ham.layers["memory"].activation(out.states["memory"])
        return Retrieval(weights @ self.memories, out.steps, out.converged, out.energies)


class ConditionalHAM(AbstractMemory):
    """(image, label, memory) network. Memories are (image, label) pairs; the weights are
    trainable (`train_classifier`). `retrieve_one` lets the label float and returns the image."""

    image_weights: Float[Array, "D K"]
    label_weights: Float[Array, "C K"]
    beta: float = eqx.field(static=True, default=8.0)
    dt: float = eqx.field(static=True, default=0.2)  # 0.5 raised E on 3 of 10 half-masked mnist-5k queries
    max_steps: int = eqx.field(static=True, default=100)
    tol: float = eqx.field(static=True, default=1e-4)

    @classmethod
    def from_pairs(cls, images: Float[Array, "K D"], labels: Int[Array, " K"], *, n_classes: int,
                   label_strength: float = 1.0, **options) -> "ConditionalHAM":
        """Memories from (image, label) pairs; `label_strength` weighs the label-memory synapse."""
        check_patterns(images, owner="ConditionalHAM")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"ConditionalHAM: need one label per image, got {labels.shape} for {images.shape[0]} images")
        onehot = jax.nn.one_hot(labels, n_classes, dtype=images.dtype)
        return cls(images.T, label_strength * onehot.T, **options)

    def __check_init__(self):
        check_declared("ConditionalHAM", ConditionalHAMParams, {"max_steps": self.max_steps, "dt": self.dt,
                                                                 "beta": self.beta})

    @property
    def patterns(self):
        return self.image_weights.T

    def as_ham(self) -> HAM:
        (d, k), c = self.image_weights.shape, self.label_weights.shape[0]
        return HAM(
            layers={
                "image": NeuronLayer(Identity(), d),
                "label": NeuronLayer(Softmax(), c),
                "memory": NeuronLayer(Softmax(beta=self.beta), k),
            },
            synapses={
                "image_memory": DenseSynapse(self.image_weights),
                "label_memory": DenseSynapse(self.label_weights),
                # −½‖w_μ‖²: memory units compare images by (negative squared) distance
                "memory_bias": BiasSynapse(-0.5 * jnp.sum(self.image_weights**2, axis=0)),
            },
            connections={
                "image_memory": ("image", "memory"),
                "label_memory": ("label", "memory"),
                "memory_bias": ("memory",),
            },
        )

    def _run(self, xs, clamp, differentiable=False, trace=True):
        return descend(self.as_ham(), xs, dt=self.dt, max_steps=self.max_steps, tol=self.tol,
                       clamp=clamp, differentiable=differentiable, trace=trace)

    def retrieve_one(self, query, *, key=None):
        xs = self.as_ham().init_states(query.dtype)
        xs["image"] = query
        out = self._run(xs, clamp=None)
        return Retrieval(out.states["image"], out.steps, out.converged, out.energies)

    def classify(self, image: Float[Array, " D"], *, differentiable: bool = False) -> Float[Array, " C"]:
        """Class probabilities ŷ after the dynamics settle with the image clamped."""
        xs = self.as_ham().init_states(image.dtype)
        xs["image"] = image
        out = self._run(xs, clamp={"image": True}, differentiable=differentiable, trace=False)  # no energies returned
        return jax.nn.softmax(out.states["label"])

    def generate(self, label: Int[Array, ""], *, strength: float = 10.0) -> Float[Array, " D"]:
        """An image of class `label`: the label layer clamped to strength·one-hot.

        From a blank image the memory layer's −½‖ξ‖² term prefers the smallest stored image,
        whatever the label. While generating, the label is the only evidence, so the
        label-memory coupling is raised to at least ½·(max − min of ‖ξ‖²) + 1 (classification
        keeps the model's own coupling: a large one makes its label feedback over-confident)."""
        norms = jnp.sum(self.image_weights**2, axis=0)
        needed = 0.5 * (jnp.max(norms) - jnp.min(norms)) + 1.0
        scale = jnp.maximum(1.0, needed / (jnp.max(jnp.abs(self.label_weights)) + 1e-8))
        model = eqx.tree_at(lambda m: m.label_weights, self, self.label_weights * scale)
        xs = model.as_ham().init_states(self.image_weights.dtype)
        xs["label"] = strength * jax.nn.one_hot(label, self.label_weights.shape[0], dtype=self.image_weights.dtype)
        return model._run(xs, clamp={"label": True}).states["image"]


def train_classifier(model: ConditionalHAM, images: Float[Array, "N D"], labels: Int[Array, " N"], *,
                     key: PRNGKeyArray, steps: int = 200, batch_size: int = 64,
                     learning_rate: float = 1e-2) -> tuple[ConditionalHAM, list[float]]:
    """Train the weights with optax (Adam) on the cross-entropy of the settled label layer;
    gradients flow through the unrolled dynamics. Returns the model and the loss per step."""
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"train_classifier: {images.shape[0]} images but {labels.shape[0]} labels")
    opt = optax.adam(learning_rate)
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    def loss_fn(m, x, y):
        probs = jax.vmap(lambda im: m.classify(im, differentiable=True))(x)
        return -jnp.mean(jnp.log(probs[jnp.arange(y.shape[0]), y] + 1e-9))

    @eqx.filter_jit
    def update(m, state, x, y):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(m, x, y)
        updates, state = opt.update(grads, state, eqx.filter(m, eqx.is_inexact_array))
        return eqx.apply_updates(m, updates), state, loss

    losses = []
    for i in range(steps):
        idx = jax.random.choice(jax.random.fold_in(key, i), images.shape[0], (batch_size,), replace=False)
        model, state, loss = update(model, state, images[idx], labels[idx])
        losses.append(float(loss))
    return model, losses


# --- registry entries ----------------------------------------------------------------------------

class ContinuousCHNParams(Params):
    beta: float = Field(4.0, gt=0, le=1e3, description="gain of the tanh visible layer")
    dt: float = Field(0.2, gt=0, le=1, description="Euler step")
    max_steps: int = Field(200, ge=1, le=100_000, description="cap on steps")


class ConvHAMParams(Params):
    beta: float = Field(8.0, gt=0, le=1e3, description="inverse temperature of the memory layer")
    dt: float = Field(0.5, gt=0, le=1, description="Euler step")
    features: int = Field(8, ge=1, le=1024, description="convolutional feature channels")
    kernel_size: int = Field(5, ge=1, le=64, description="convolution kernel size")
    max_steps: int = Field(100, ge=1, le=100_000, description="cap on steps")


class ConditionalHAMParams(Params):
    beta: float = Field(8.0, gt=0, le=1e3, description="inverse temperature of the memory layer")
    dt: float = Field(0.2, gt=0, le=1, description="Euler step (0.5 raised the energy on masked queries)")
    max_steps: int = Field(100, ge=1, le=100_000, description="cap on steps")
    n_classes: int = Field(10, ge=1, le=100_000, description="label layer size (at least the data's classes)")


def _build_chn_cont(p, patterns, *, labels, image_shape, key, mask):
    return ContinuousCHN(patterns, beta=p.beta, dt=p.dt, max_steps=p.max_steps)


def _build_conv(p, patterns, *, labels, image_shape, key, mask):
    return ConvHAM(patterns, image_shape=image_shape or (1, 1, patterns.shape[1]), key=key, beta=p.beta,
                   features=p.features, kernel_size=p.kernel_size, dt=p.dt, max_steps=p.max_steps)


def _build_conditional(p, patterns, *, labels, image_shape, key, mask):
    n_classes = int(jnp.max(labels)) + 1 if labels is not None else 1
    labels = labels if labels is not None else jnp.zeros(patterns.shape[0], jnp.int32)
    return ConditionalHAM.from_pairs(patterns, labels, n_classes=max(n_classes, p.n_classes), beta=p.beta,
                                     dt=p.dt, max_steps=p.max_steps)


register_model("chn-continuous", params=ContinuousCHNParams,
               doc="two-layer continuous Hopfield network (tanh visible, quadratic memory)", family="CHN",
               binary=True, build=_build_chn_cont)
register_model("ham-conv", params=ConvHAMParams, doc="image -> conv features -> softmax memory, image clamped",
               family="HAM", build=_build_conv)
register_model("ham-conditional", params=ConditionalHAMParams,
               doc="(image, label, memory) network; label free during retrieval", family="HAM",
               build=_build_conditional)
