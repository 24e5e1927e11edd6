"""Classification with associative memories: the image is clamped, the label is read out.

- `ham-conditional`: the (image, label, memory) HAM, memories initialised from labelled training
  images and trained with optax (Adam) through the unrolled dynamics;
- `dam-softmax`: the label is the softmax-weighted vote of the stored images' labels.
Test images are a held-out block disjoint from every training image.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ambench import Metric, count, rate, series, register_experiment
from ambench import data
from ambench.models import ConditionalHAM, train_classifier
from ambench.energy import similarity
from ambench.params import Field, Params as _Params


class Params(_Params):
    n_memories: int = Field(100, ge=1, le=1_000_000, description="stored (image, label) pairs")
    n_train: int = Field(2000, ge=1, le=10_000_000, description="training images (ham-conditional)")
    n_test: int = Field(500, ge=1, le=10_000_000, description="held-out test images")
    train_steps: int = Field(100, ge=0, le=1_000_000, description="Adam steps through the unrolled dynamics")
    learning_rate: float = Field(0.01, gt=0, le=10, description="Adam learning rate")
    batch_size: int = Field(64, ge=1, le=1_000_000, description="training batch")


def check(cell):
    if cell["model"] not in ("ham-conditional", "dam-softmax"):
        raise ValueError("classify supports models ham-conditional and dam-softmax")
    if cell.data.component.images is None:
        raise ValueError("classify needs labelled images: use an image dataset such as mnist-5k")


def run(cell, progress=lambda message: None):
    ds = cell.data.component.images(cell.data.params)
    n = len(ds.images)
    need = cell["n_test"] + max(cell["n_train"], cell["n_memories"])
    if need > n:
        raise ValueError(f"n_test + n_train = {need} exceeds {ds.name} ({n} images); lower them")
    order = np.random.default_rng(cell["seed"]).permutation(n)
    test, train = order[: cell["n_test"]], order[cell["n_test"]: cell["n_test"] + cell["n_train"]]
    enc = cell["encoding"]
    x_train, y_train = jnp.asarray(data.encode(ds.images[train], enc)), jnp.asarray(ds.labels[train])
    x_test, y_test = jnp.asarray(data.encode(ds.images[test], enc)), jnp.asarray(ds.labels[test])
    mem_x, mem_y = x_train[: cell["n_memories"]], y_train[: cell["n_memories"]]
    losses = []
    if cell["model"] == "dam-softmax":
        votes = jax.nn.one_hot(mem_y, ds.n_classes)
        probs = jax.vmap(lambda q: jax.nn.softmax(cell["beta"] * similarity(mem_x, q, cell["similarity"])) @ votes)(x_test)
    else:
        ham = ConditionalHAM.from_pairs(mem_x, mem_y, n_classes=ds.n_classes, beta=cell["beta"], dt=cell["dt"],
                                        max_steps=cell["max_steps"])
        if cell["train_steps"] > 0:
            progress(f"classify: training {cell['train_steps']} steps")
            ham, losses = train_classifier(ham, x_train, y_train, key=jax.random.PRNGKey(cell["seed"]),
                                           steps=cell["train_steps"], batch_size=min(cell["batch_size"], len(train)),
                                           learning_rate=cell["learning_rate"])
        probs = jax.jit(jax.vmap(ham.classify))(x_test)
    accuracy = float(jnp.mean(jnp.argmax(probs, -1) == y_test))
    out = {"accuracy": accuracy, "final_loss": losses[-1] if losses else None, "n_test_images": len(test)}
    if cell["model"] == "ham-conditional":  # one generated image per clamped label, kept for F8
        images = jax.jit(jax.vmap(ham.generate))(jnp.arange(ds.n_classes))
        out |= {"generated": [[round(float(v), 3) for v in im] for im in images], "image_shape": list(ds.image_shape)}
    return out


register_experiment(
    "classify",
    params=Params,
    doc="test accuracy of DAM / HAM classifiers (image clamped, label read out)",
    run=run,
    main_metric="accuracy",
    metrics=(rate("accuracy", "test accuracy"), Metric("final_loss", "last training loss"),
             count("n_test_images", "test images"), series("generated", "generated images (generator mode)"),
             series("image_shape", "image shape")),
    x_axis="n_memories",
    check=check,
)
