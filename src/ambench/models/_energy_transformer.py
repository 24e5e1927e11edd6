"""The Energy Transformer (Hoover et al., NeurIPS 2023) built from `ambench.energy` parts.

An image is cut into p×p patches; each patch is embedded as a token x_A (D numbers) plus a
position; a patch that is entirely background (0, what the mask corruptions write) is unknown
and enters as a learned mask token instead. The tokens are one neuron layer with the LayerNorm
Lagrangian (g = LayerNorm(x) is its activation) and two hypersynapses on it: multi-head energy
attention and the token-wise Hopfield network (`energy.AttentionSynapse`,
`energy.TokenHopfieldSynapse`). The dynamics are the paper's x ← x − α·∂E/∂g for a fixed
number of steps (12, α = 0.1 in the paper), the layer carrying no Legendre energy of its own
(`NeuronLayer(..., legendre=False)`: no −x leak). The final g is decoded linearly back to
pixels; the completion keeps the query's known patches and fills the unknown ones.

The weights are trained with optax on masked-patch completion (`train`) and stored as an
artifact whose file name is the SHA-256 of its bytes; `trained_weights` is the cached step
(a second use reads the file, a changed training setting or code makes a new one).
`written_update` is the same step written by hand from the paper's closed-form gradients: the
`closed-form` path runs it and is tested equal to the autograd path through the hypergraph.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from ..params import Field, Params, choices
from ..energy import (
    HAM,
    AttentionSynapse,
    LayerNorm,
    NeuronLayer,
    TokenHopfieldSynapse,
    descend,
    fixed_point,
)
from ._registry import register_model
from ._base import AbstractMemory, Retrieval, check_declared, check_patterns

ETPath = Literal["autograd", "closed-form"]
TrainSet = Literal["mnist-5k", "fashion_mnist-idx"]
PATHS = choices(ETPath)
TRAIN_SETS = choices(TrainSet)


class ETWeights(eqx.Module):
    """Everything an Energy Transformer learns; acts on one (C, H, W) image."""

    embed: Float[Array, "P D"]
    embed_bias: Float[Array, " D"]
    position: Float[Array, "N D"]
    mask_token: Float[Array, " D"]
    log_gamma: Float[Array, ""]  # γ = exp(log γ) > 0 keeps the Lagrangian convex while training
    delta: Float[Array, " D"]
    key_weight: Float[Array, "H Y D"]
    query_weight: Float[Array, "H Y D"]
    hopfield: Float[Array, "M D"]
    decode_weight: Float[Array, "D P"]
    decode_bias: Float[Array, " P"]
    image_shape: tuple[int, int, int] = eqx.field(static=True)
    patch: int = eqx.field(static=True)
    hopfield_kind: str = eqx.field(static=True, default="relu")

    @classmethod
    def init(cls, key: PRNGKeyArray, *, image_shape=(1, 28, 28), patch: int = 4, dim: int = 64, heads: int = 4,
             key_size: int = 16, memories: int = 128, hopfield_kind: str = "relu") -> "ETWeights":
        c, h, w = image_shape
        if h % patch or w % patch:
            raise ValueError(f"EnergyTransformer: patch={patch} must divide the image height and width {h}x{w}")
        n, p = (h // patch) * (w // patch), c * patch * patch
        ks = jax.random.split(key, 7)
        normal = lambda k, shape, fan: jax.random.normal(k, shape) / jnp.sqrt(fan)  # noqa: E731
        return cls(
            embed=normal(ks[0], (p, dim), p), embed_bias=jnp.zeros(dim),
            position=0.02 * jax.random.normal(ks[1], (n, dim)), mask_token=0.02 * jax.random.normal(ks[2], (dim,)),
            log_gamma=jnp.zeros(()), delta=jnp.zeros(dim),
            key_weight=normal(ks[3], (heads, key_size, dim), dim), query_weight=normal(ks[4], (heads, key_size, dim), dim),
            hopfield=normal(ks[5], (memories, dim), dim),
            decode_weight=normal(ks[6], (dim, p), dim), decode_bias=jnp.zeros(p),
            image_shape=tuple(image_shape), patch=patch, hopfield_kind=hopfield_kind)

    # --- images <-> patches -------------------------------------------------------------------
    def patches(self, image: Float[Array, " CHW"]) -> Float[Array, "N P"]:
        c, h, w = self.image_shape
        p = self.patch
        x = image.reshape(c, h // p, p, w // p, p)
        return x.transpose(1, 3, 0, 2, 4).reshape((h // p) * (w // p), c * p * p)

    def image(self, patches: Float[Array, "N P"]) -> Float[Array, " CHW"]:
        c, h, w = self.image_shape
        p = self.patch
        x = patches.reshape(h // p, w // p, c, p, p)
        return x.transpose(2, 0, 3, 1, 4).reshape(-1)

    def unknown(self, image: Float[Array, " CHW"]) -> Bool[Array, " N"]:
        """A patch is unknown when every pixel is 0, the background the mask corruptions write."""
        return jnp.all(self.patches(image) == 0, axis=1)

    # --- the energy model ---------------------------------------------------------------------
    def as_ham(self) -> HAM:
        n, d = self.position.shape
        return HAM(
            layers={"tokens": NeuronLayer(LayerNorm(gamma=jnp.exp(self.log_gamma), delta=self.delta), (n, d),
                                          legendre=False)},
            synapses={"attention": AttentionSynapse(self.key_weight, self.query_weight),
                      "hopfield": TokenHopfieldSynapse(self.hopfield, kind=self.hopfield_kind)},
            connections={"attention": ("tokens",), "hopfield": ("tokens",)},
        )

    def tokens(self, image: Float[Array, " CHW"], unknown: Bool[Array, " N"]) -> Float[Array, "N D"]:
        embedded = self.patches(image) @ self.embed + self.embed_bias
        return jnp.where(unknown[:, None], self.mask_token, embedded) + self.position

    def decode(self, x: Float[Array, "N D"]) -> Float[Array, "N P"]:
        g = self.as_ham().layers["tokens"].activation(x)
        return g @ self.decode_weight + self.decode_bias

    def complete(self, image: Float[Array, " CHW"], *, steps: int, dt: float, path: str = "autograd",
                 tol: float = 0.0):
        """Run the dynamics from a (masked) image. Returns (decoded patches (N, P), unknown
        mask (N,), final tokens, steps, converged, energies)."""
        unknown = self.unknown(image)
        x0 = self.tokens(image, unknown)
        if path == "autograd":
            out = descend(self.as_ham(), {"tokens": x0}, dt=dt, max_steps=steps, tol=tol)
            x, n, done, energies = out.states["tokens"], out.steps, out.converged, out.energies
        elif path == "closed-form":
            ham = self.as_ham()
            x, n, done, energies = fixed_point(lambda t, x: written_update(self, x, dt=dt),
                                               lambda x: ham.state_energy({"tokens": x}), x0, max_steps=steps, tol=tol)
        else:
            raise ValueError(f"EnergyTransformer: path must be one of {PATHS}, got {path!r}")
        return self.decode(x), unknown, x, n, done, energies


def written_update(w: ETWeights, x: Float[Array, "N D"], *, dt: float) -> Float[Array, "N D"]:
    """One step x ← x + dt·(−∂E/∂g) written by hand in jax.numpy from the paper's closed forms:

    −∂E_ATT/∂g_A = Σ_h [ Σ_C ω_hCA W^Kᵀ_h Q_hC + Σ_B ω_hAB W^Qᵀ_h K_hB ],
        ω_hCB = softmax over B ≠ C of β K_hB·Q_hC (row C, column B);
    −∂E_HN/∂g_A = Σ_μ ξ_μ relu(ξ_μ·g_A)   (softmax variant: Σ_μ ξ_μ softmax_μ(β ξ·g_A)).
    """
    gamma, delta = jnp.exp(w.log_gamma), w.delta
    mean = jnp.mean(x, axis=-1, keepdims=True)
    g = gamma * (x - mean) / jnp.sqrt(jnp.var(x, axis=-1, keepdims=True) + 1e-5) + delta
    beta = 1.0 / jnp.sqrt(w.key_weight.shape[1])
    k = jnp.einsum("hyd,nd->hny", w.key_weight, g)
    q = jnp.einsum("hyd,nd->hny", w.query_weight, g)
    s = beta * jnp.einsum("hby,hcy->hcb", k, q)
    s = jnp.where(jnp.eye(x.shape[0], dtype=bool), -jnp.inf, s)
    omega = jax.nn.softmax(s, axis=-1)  # [h, C, B]
    from_keys = jnp.einsum("hay,hyd->ad", jnp.einsum("hca,hcy->hay", omega, q), w.key_weight)  # g_A as a key
    from_queries = jnp.einsum("hay,hyd->ad", jnp.einsum("hab,hby->hay", omega, k), w.query_weight)  # as the query
    overlaps = g @ w.hopfield.T
    sep = jax.nn.relu(overlaps) if w.hopfield_kind == "relu" else jax.nn.softmax(overlaps, axis=-1)
    force = from_keys + from_queries + sep @ w.hopfield
    return x + dt * force


def completion_loss(w: ETWeights, images: Float[Array, "B CHW"], key: PRNGKeyArray, *, mask_fraction: float,
                    steps: int, dt: float) -> Float[Array, ""]:
    """Mean squared error on the unknown patches after masking a random `mask_fraction` of
    each image's patches (set to 0; all-background patches are unknown too)."""

    def one(image, k):
        n = w.patches(image).shape[0]
        hide = jax.random.permutation(k, n) < jnp.round(mask_fraction * n)
        masked = w.image(jnp.where(hide[:, None], 0.0, w.patches(image)))
        unknown = w.unknown(masked)
        # a fixed number of written steps (equal to the hypergraph's descent, tested), as a scan
        # so reverse-mode gradients flow through the dynamics
        x, _ = jax.lax.scan(lambda x, _: (written_update(w, x, dt=dt), None), w.tokens(masked, unknown), None,
                            length=steps)
        decoded = w.decode(x)
        err = jnp.sum((decoded - w.patches(image)) ** 2, axis=1)
        return jnp.sum(jnp.where(unknown, err, 0.0)), jnp.sum(unknown) * decoded.shape[1]

    errs, counts = jax.vmap(one)(images, jax.random.split(key, images.shape[0]))
    return jnp.sum(errs) / jnp.maximum(jnp.sum(counts), 1)


def train(w: ETWeights, images: np.ndarray, *, key: PRNGKeyArray, train_steps: int, batch_size: int,
          learning_rate: float, mask_fraction: float, steps: int, dt: float) -> tuple[ETWeights, list[float]]:
    """Adam (optax) on `completion_loss`, gradients through the unrolled dynamics."""
    opt = optax.adam(learning_rate)
    state = opt.init(eqx.filter(w, eqx.is_inexact_array))

    @eqx.filter_jit
    def update(w, state, batch, k):
        loss, grads = eqx.filter_value_and_grad(completion_loss)(w, batch, k, mask_fraction=mask_fraction,
                                                                 steps=steps, dt=dt)
        updates, state = opt.update(grads, state, eqx.filter(w, eqx.is_inexact_array))
        return eqx.apply_updates(w, updates), state, loss

    data = jnp.asarray(images)
    losses = []
    for i in range(train_steps):
        kb, km = jax.random.split(jax.random.fold_in(key, i))
        batch = data[jax.random.choice(kb, data.shape[0], (batch_size,), replace=False)]
        w, state, loss = update(w, state, batch, km)
        losses.append(float(loss))
    return w, losses


# --- the cached training step: weights as a content-addressed artifact -------------------------
def artifact_dir() -> Path:
    """Where trained weights live: `AMBENCH_ARTIFACTS`, or artifacts/ in ambench's cache folder."""
    from ..compile_cache import cache_root

    env = os.environ.get("AMBENCH_ARTIFACTS")
    return Path(env).expanduser() if env else cache_root() / "artifacts"


def _code_version() -> str:
    """The normalised code of this module and the ambench modules it uses (`ambench._source`):
    a documentation edit keeps trained weights, a code edit retrains."""
    import sys

    from .._source import module_version

    return module_version(sys.modules[__name__])


def training_key(setting: dict) -> str:
    """The name of a training setting (with the code version): what a cell asks for."""
    text = json.dumps({"model": "energy-transformer", "code": _code_version(), **setting}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _training_images(train_set: str) -> np.ndarray:
    from ..data import load_dataset

    if train_set not in TRAIN_SETS:
        raise ValueError(f"EnergyTransformer: train_set must be one of {TRAIN_SETS}, got {train_set!r}")
    return load_dataset(train_set, split="train").images


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def trained_weights(setting: dict, *, progress=lambda message: None) -> tuple[ETWeights, dict]:
    """The weights for a training `setting` (architecture, data, optimiser, seed): read from the
    artifact folder when this setting was trained before, else trained now and stored.

    The weights file is `<sha256 of its bytes>.eqx` (eqx.tree_serialise_leaves); a small
    `<training key>.json` names it and records the setting, the training time and the losses.
    Returns (weights, record); record["cached"] says whether the file was read."""
    arch = {k: setting[k] for k in ("patch", "dim", "heads", "key_size", "memories", "hopfield_kind")}
    image_shape = (1, 28, 28)
    like = ETWeights.init(jax.random.PRNGKey(setting["train_seed"]), image_shape=image_shape, **arch)
    folder = artifact_dir() / "energy-transformer"
    key = training_key(setting)
    index = folder / f"{key}.json"
    if index.exists():
        record = json.loads(index.read_text())
        path = folder / record["weights"]
        if path.exists():
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == record["weights"].removesuffix(".eqx"):
                return eqx.tree_deserialise_leaves(io.BytesIO(data), like), record | {"cached": True}
    progress(f"training energy-transformer on {setting['train_set']} ({setting['train_steps']} steps)")
    images = _training_images(setting["train_set"])
    start = time.perf_counter()
    w, losses = train(like, images, key=jax.random.PRNGKey(setting["train_seed"] + 1),
                      train_steps=setting["train_steps"], batch_size=setting["batch_size"],
                      learning_rate=setting["learning_rate"], mask_fraction=setting["mask_fraction"],
                      steps=setting["train_depth"], dt=setting["dt"])
    seconds = time.perf_counter() - start
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, w)
    data = buffer.getvalue()
    name = hashlib.sha256(data).hexdigest() + ".eqx"
    _write_atomic(folder / name, data)
    record = {"weights": name, "training_key": key, "setting": setting, "train_seconds": round(seconds, 2),
              "state_size": [int(d) for d in w.position.shape], "parameters": int(sum(
                  x.size for x in jax.tree_util.tree_leaves(eqx.filter(w, eqx.is_inexact_array)))),
              "loss_first": losses[0], "loss_last": float(np.mean(losses[-20:])), "losses": losses}
    _write_atomic(index, json.dumps(record, indent=1).encode())
    return w, record | {"cached": False}


class EnergyTransformer(AbstractMemory):
    """A trained Energy Transformer completing masked images; `memories` are the cell's stored
    images, used only to score (the nearest-image criterion), never by the dynamics."""

    memories: Float[Array, "K D"]
    weights: ETWeights
    weights_file: str = eqx.field(static=True)
    steps: int = eqx.field(static=True, default=12)
    dt: float = eqx.field(static=True, default=0.1)
    path: str = eqx.field(static=True, default="autograd")

    def __check_init__(self):
        check_patterns(self.memories, owner="EnergyTransformer")
        check_declared("EnergyTransformer", EnergyTransformerParams, {"path": self.path, "steps": self.steps, "dt": self.dt},
                       names={"steps": "max_steps"})
        if self.memories.shape[1] != int(np.prod(self.weights.image_shape)):
            raise ValueError(f"EnergyTransformer: trained on {self.weights.image_shape} images, got patterns of "
                             f"dimension {self.memories.shape[1]}; use a 28x28 grey-level dataset")

    @property
    def patterns(self):
        return self.memories

    def retrieve_one(self, query, *, key=None):
        decoded, unknown, _, n, done, energies = self.weights.complete(query, steps=self.steps, dt=self.dt,
                                                                       path=self.path)
        known = self.weights.patches(query)
        state = self.weights.image(jnp.where(unknown[:, None], decoded, known))
        return Retrieval(state, n, done, energies)


# --- registry entry ------------------------------------------------------------------------------

TRAINING_FIELDS = ("train_set", "patch", "dim", "heads", "key_size", "memories", "hopfield_kind", "train_steps",
                   "batch_size", "learning_rate", "mask_fraction", "train_depth", "dt", "train_seed")


class EnergyTransformerParams(Params):
    train_set: TrainSet = Field(
        "mnist-5k", description="images the weights are trained on (fashion_mnist-idx: its train split)")
    patch: int = Field(4, ge=1, le=28, description="patch side p; 28/p patches a side are the tokens")
    dim: int = Field(32, ge=2, le=4096, description="token size D", json_schema_extra={"label": ("token size", "D")})
    heads: int = Field(2, ge=1, le=64, description="attention heads")
    key_size: int = Field(16, ge=1, le=1024, description="key and query size Y (beta = 1/sqrt(Y))")
    memories: int = Field(64, ge=1, le=100_000, description="Hopfield memories M shared by all tokens")
    hopfield_kind: Literal["relu", "softmax"] = Field("relu", description="token-wise Hopfield energy")
    train_steps: int = Field(600, ge=1, le=1_000_000, description="optimiser steps (Adam)")
    batch_size: int = Field(32, ge=1, le=4096, description="images per optimiser step")
    learning_rate: float = Field(3e-3, gt=0, le=1, description="Adam learning rate")
    mask_fraction: float = Field(0.5, gt=0, lt=1, description="fraction of patches masked in training")
    train_depth: int = Field(12, ge=1, le=1000, description="dynamics steps unrolled in training (12 in the paper)")
    dt: float = Field(0.1, gt=0, le=1, description="step alpha of x <- x - alpha dE/dg (0.1 in the paper)")
    train_seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the initial weights and batches")
    max_steps: int = Field(12, ge=1, le=100_000,
                           description="dynamics steps at retrieval, all of them run (no stopping rule, as the paper)")
    path: ETPath = Field(
        "autograd", description="gradient through the hypergraph, or the paper's written update (equal)")


def _build_et(p: EnergyTransformerParams, patterns, *, labels, image_shape, key, mask):
    if image_shape is not None and tuple(image_shape) != (1, 28, 28):
        raise ValueError(f"energy-transformer: trained on 1x28x28 images, got {image_shape}; use mnist-5k or "
                         "fashion_mnist-idx")
    w, record = trained_weights({f: getattr(p, f) for f in TRAINING_FIELDS})
    return EnergyTransformer(patterns, w, weights_file=record["weights"], steps=p.max_steps, dt=p.dt, path=p.path)


def _check_et(cell) -> None:
    if cell.get("encoding") not in (None, "unit"):
        raise ValueError(f"energy-transformer completes images in [0, 1]: use encoding=unit (or auto), "
                         f"not {cell.get('encoding')}")
    dim = cell.data.component.dim(cell.data.params)
    if dim is not None and dim != 784:
        raise ValueError(f"energy-transformer: trained on 28x28 images (D = 784), dataset {cell['dataset']} has "
                         f"D = {dim}; use mnist-5k or fashion_mnist-idx")


register_model("energy-transformer", params=EnergyTransformerParams,
               doc="Energy Transformer (Hoover et al. 2023): patch tokens, LayerNorm neurons, energy attention + "
                   "token Hopfield, trained on masked-patch completion (weights cached by hash)",
               family="HAM", build=_build_et, check=_check_et)
