"""The measurement protocol experiments share: a cell's memories, its queries, and the score.

A cell is a flat dict: `experiment, model, dataset, seed` and every parameter. Seeds fix
everything: which patterns are stored (disjoint blocks of the dataset per seed), which queries
are drawn, the corruption, and the update order.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import data, metrics
from .models import MODELS, build_model, retrieve

DATASET_PARAMS = {
    "encoding": "auto",  # auto | binary | unit | centered | gaussian (random only)
    "dim": 100,  # random patterns only
    "data_dir": "",
    "download": False,
    "grayscale": False,
    "balanced": False,
    "split": "train",
}
DATASET_SIZES = {"mnist-5k": 5000, "mnist-idx": 60000, "fashion_mnist-idx": 60000, "mnist": 60000,
                 "fashion_mnist": 60000, "cifar10": 50000, "cifar100": 50000}


@dataclass(frozen=True)
class Memories:
    patterns: np.ndarray  # (K, D) encoded
    raw: np.ndarray | None  # (K, D) images in [0, 1] before encoding (None for random patterns)
    encoding: str
    labels: np.ndarray | None
    image_shape: tuple[int, int, int] | None
    low: float
    high: float
    binary: bool


def encoding_for(cell: dict) -> str:
    enc = cell.get("encoding", "auto")
    if enc == "auto":
        return "binary" if MODELS[cell["model"]].binary or cell["dataset"] == "random" else "unit"
    return enc


def check_cell(cell: dict) -> None:
    """Checks that need no data: raise ValueError naming the fix."""
    enc = encoding_for(cell)
    if MODELS[cell["model"]].binary and enc != "binary":
        raise ValueError(f"model {cell['model']} stores ±1 patterns: use encoding=binary (or auto), not {enc}")
    if enc == "gaussian" and cell["dataset"] != "random":
        raise ValueError("encoding=gaussian is for dataset random; images use unit, binary or centered")
    k = cell.get("n_memories")
    size = DATASET_SIZES.get(cell["dataset"])
    if isinstance(k, int) and size is not None and k > size:
        raise ValueError(f"n_memories={k} is larger than {cell['dataset']} ({size} images); use at most {size}")
    if isinstance(k, int) and k < 1:
        raise ValueError(f"n_memories must be >= 1, got {k}")
    if "noise_kind" in cell:
        data.check_level(cell["noise_kind"], cell["noise_level"])


def load_memories(cell: dict, k: int) -> Memories:
    enc = encoding_for(cell)
    if cell["dataset"] == "random":
        pats = data.random_patterns(k, cell["dim"], seed=cell["seed"], encoding="binary" if enc == "binary" else "gaussian")
        low, high = (-1.0, 1.0) if enc == "binary" else (float(pats.min()), float(pats.max()))
        return Memories(pats, None, enc, None, None, low, high, enc == "binary")
    ds = data.load_dataset(cell["dataset"], split=cell.get("split", "train"), data_dir=cell.get("data_dir") or None,
                           download=bool(cell.get("download")), grayscale=bool(cell.get("grayscale")))
    idx, labels = data.sample_block(ds, k, seed=cell["seed"], balanced=bool(cell.get("balanced")))
    raw = ds.images[idx]
    pats = np.asarray(data.encode(raw, enc))
    low, high = {"binary": (-1.0, 1.0), "unit": (0.0, 1.0)}.get(enc, (float(pats.min()), float(pats.max())))
    return Memories(pats, raw, enc, labels, ds.image_shape, low, high, enc == "binary")


def make_queries(mem: Memories, cell: dict, n_queries: int) -> tuple[jax.Array, jax.Array]:
    """Queries are stored patterns (the first `n_queries` of a seeded order), corrupted.

    Images are corrupted in [0, 1] and then encoded like the memories, so a noise level means
    the same corruption for every model; random patterns are corrupted as stored.
    """
    k = mem.patterns.shape[0]
    key = jax.random.PRNGKey(cell["seed"])
    target_idx = jax.random.permutation(jax.random.fold_in(key, 1), k)[: min(n_queries, k)]
    source, low, high = (mem.patterns, mem.low, mem.high) if mem.raw is None else (mem.raw, 0.0, 1.0)
    keys = jax.random.split(jax.random.fold_in(key, 2), target_idx.shape[0])
    kind, level = cell.get("noise_kind", "none"), float(cell.get("noise_level", 0.0))
    queries = jax.vmap(lambda x, kk: data.corrupt(x, kind, level, key=kk, low=low, high=high,
                                                  image_shape=mem.image_shape))(jnp.asarray(source)[target_idx], keys)
    if mem.raw is not None:
        queries = data.encode(queries, mem.encoding)
    return queries, target_idx


def model_for(cell: dict, mem: Memories):
    spec = MODELS[cell["model"]]
    params = {p: cell[p] for p in spec.params}
    return build_model(cell["model"], params, mem.patterns, labels=mem.labels, image_shape=mem.image_shape,
                       key=jax.random.PRNGKey(cell["seed"]))


def score(out, mem: Memories, target_idx, cell: dict) -> dict[str, float]:
    """Success under the configured criterion, plus every other criterion beside it."""
    patterns = jnp.asarray(mem.patterns)
    states, targets = out.state, patterns[target_idx]
    spec = MODELS[cell["model"]]
    sim = cell[spec.similarity_param] if spec.similarity_param else "l2"
    bad = metrics.diverged(states)
    states = jnp.where(bad[:, None], 0.0, states)
    nearest = (metrics.nearest_index(states, patterns, similarity=sim) == target_idx) & ~bad
    res = {"nearest_rate": nearest, "diverged_rate": bad,
           "steps": out.steps, "converged_rate": out.converged,
           "energy_monotone_rate": metrics.energy_monotone(out.energies)}
    criterion = cell.get("criterion", "auto")
    if mem.binary:
        wrong = metrics.wrong_fraction(states, targets)
        ov = metrics.overlap(states, targets)
        res |= {"wrong_bits": wrong, "exact_rate": wrong == 0, "overlap": ov, "abs_overlap": jnp.abs(ov)}
        criterion = "bits" if criterion == "auto" else criterion
    else:
        res["threshold_rate"] = metrics.threshold_correct(states, targets, threshold=cell.get("threshold", 50.0)) & ~bad
        criterion = "nearest" if criterion == "auto" else criterion
    success = {
        "bits": lambda: res["wrong_bits"] <= cell.get("max_wrong", 0.015) if mem.binary else None,
        "exact": lambda: res.get("exact_rate"),
        "nearest": lambda: nearest,
        "threshold": lambda: res.get("threshold_rate"),
    }[criterion]()
    if success is None:
        raise ValueError(f"criterion={criterion} needs {'±1' if criterion in ('bits', 'exact') else '[0,1]'} patterns")
    res["success_rate"] = success
    summary = {name: float(jnp.mean(jnp.asarray(v, jnp.float32))) for name, v in res.items()}
    summary["steps_max"] = int(jnp.max(out.steps))
    # the mean energy trace over queries, for W&B (keys starting with _ are not stored as columns)
    summary["_energy_trace"] = [float(e) for e in jnp.nanmean(out.energies, axis=0) if jnp.isfinite(e)]
    summary["queries_scored"] = int(target_idx.shape[0])
    summary["pattern_dim"] = int(patterns.shape[1])
    return summary


def measure_retrieval(cell: dict, k: int | None = None) -> dict[str, float]:
    """Store K patterns, retrieve corrupted copies of (up to `n_queries` of) them, score."""
    k = cell["n_memories"] if k is None else k
    mem = load_memories(cell, k)
    queries, target_idx = make_queries(mem, cell, cell.get("n_queries", 100))
    model = model_for(cell, mem)
    out = retrieve(model, queries, key=jax.random.fold_in(jax.random.PRNGKey(cell["seed"]), 3))
    return score(out, mem, target_idx, cell)
