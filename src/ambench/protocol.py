"""The measurement protocol experiments share: a cell's memories, its queries, and the score.

A cell is a flat dict: `experiment, model, dataset, seed` and every parameter. Seeds fix
everything: which patterns are stored (disjoint blocks of the dataset per seed), which queries
are drawn, the corruption, and the update order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import equinox as eqx
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
    for name in ("n_queries", "dim"):
        if isinstance(cell.get(name), int) and cell[name] < 1:
            raise ValueError(f"{name} must be >= 1, got {cell[name]}; e.g. --set {name}=100")
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


def make_queries(mem: Memories, cell: dict, n_queries: int, *, pad: bool = False) -> tuple[jax.Array, jax.Array]:
    """Queries are stored patterns (the first `n_queries` of a seeded order), corrupted.

    Images are corrupted in [0, 1] and then encoded like the memories, so a noise level means
    the same corruption for every model; random patterns are corrupted as stored. With K <
    `n_queries` there are K queries, repeated up to `n_queries` rows when `pad` (a fixed batch
    shape; the repeats are not scored).
    """
    k = mem.patterns.shape[0]
    source, low, high = (mem.patterns, mem.low, mem.high) if mem.raw is None else (mem.raw, 0.0, 1.0)
    n = min(n_queries, k)
    return _draw_queries(source, np.uint32(cell["seed"]), np.float32(cell.get("noise_level", 0.0)),
                         np.float32(low), np.float32(high), n=n, rows=n_queries if pad else n,
                         kind=cell.get("noise_kind", "none"), image_shape=mem.image_shape,
                         encoding=None if mem.raw is None else mem.encoding)


@functools.partial(jax.jit, static_argnames=("n", "rows", "kind", "image_shape", "encoding"))
def _draw_queries(source, seed, level, low, high, *, n, rows, kind, image_shape, encoding):
    """One compiled program per K (any seed or level): a cell's queries cost one dispatch."""
    key = jax.random.PRNGKey(seed)
    target_idx = jax.random.permutation(jax.random.fold_in(key, 1), source.shape[0])[:n]
    queries = _corrupt_batch(source[target_idx], jax.random.fold_in(key, 2), level, low, high, kind=kind,
                             image_shape=image_shape, encoding=encoding)
    repeat = jnp.arange(rows) % n
    return queries[repeat], target_idx[repeat]


@functools.partial(jax.jit, static_argnames=("kind", "image_shape", "encoding"))
def _corrupt_batch(x, key, level, low, high, *, kind, image_shape, encoding):
    keys = jax.random.split(key, x.shape[0])
    q = jax.vmap(lambda v, k: data.corrupt(v, kind, level, key=k, low=low, high=high, image_shape=image_shape))(x, keys)
    return q if encoding is None else data.encode(q, encoding)


def model_for(cell: dict, mem: Memories, *, padded_k: int | None = None):
    """Build the cell's model; with `padded_k`, memories are zero-padded to that many rows and
    masked (maskable models only), so every K in a bucket shares one compiled program."""
    spec = MODELS[cell["model"]]
    params = {p: cell[p] for p in spec.params}
    patterns, mask = mem.patterns, None
    if padded_k is not None and spec.maskable and padded_k > len(patterns):
        mask = np.arange(padded_k) < len(patterns)
        patterns = np.concatenate([patterns, np.zeros((padded_k - len(patterns), patterns.shape[1]), patterns.dtype)])
    return build_model(cell["model"], params, patterns, labels=mem.labels, image_shape=mem.image_shape,
                       key=jax.random.PRNGKey(cell["seed"]), mask=mask)


def bucket(k: int) -> int:
    """K rounded up to a power of two (at least 8): the bounded set of compiled shapes."""
    return max(8, 1 << (int(k) - 1).bit_length())


@dataclass
class Prepared:
    """A cell ready to run: its model, queries padded to `n_queries` rows, and what to score."""

    cell: dict
    mem: Memories
    model: object
    queries: jax.Array  # (n_queries, D): the first n_valid rows are real
    target_idx: jax.Array  # (n_queries,)
    n_valid: int


def prepare(cell: dict, k: int | None = None, *, bucketed: bool = True) -> Prepared:
    k = cell["n_memories"] if k is None else k
    mem = load_memories(cell, k)
    n_queries = cell.get("n_queries", 100)
    queries, target_idx = make_queries(mem, cell, n_queries, pad=bucketed)
    n_valid = min(n_queries, k)
    model = model_for(cell, mem, padded_k=bucket(k) if bucketed else None)
    return Prepared(cell, mem, model, queries, target_idx, n_valid)


@functools.partial(jax.jit, static_argnames=("binary", "sim", "similarity_fn"))
def _score_arrays(state, steps, converged, energies, patterns, mask, target_idx, valid, max_wrong, threshold, *,
                  binary: bool, sim: str, similarity_fn):
    """Per-query outcomes for one cell (vmap for many); `_summary` averages the valid ones."""
    bad = metrics.diverged(state)
    state = jnp.where(bad[:, None], 0.0, state)
    if similarity_fn is not None:
        sims = jax.vmap(lambda x: similarity_fn(patterns, x, sim))(state)
        best = jnp.argmax(jnp.where(mask, sims, -jnp.inf), axis=-1)
    else:
        best = metrics.nearest_index(state, patterns, similarity=sim, mask=mask)
    nearest = (best == target_idx) & ~bad
    targets = patterns[target_idx]
    res = {"nearest_rate": nearest, "diverged_rate": bad, "steps": steps, "converged_rate": converged,
           "energy_monotone_rate": metrics.energy_monotone(energies)}
    if binary:
        wrong = metrics.wrong_fraction(state, targets)
        ov = metrics.overlap(state, targets)
        res |= {"wrong_bits": wrong, "exact_rate": wrong == 0, "overlap": ov, "abs_overlap": jnp.abs(ov),
                "bits_rate": wrong <= max_wrong}
    else:
        res["threshold_rate"] = metrics.threshold_correct(state, targets, threshold=threshold) & ~bad
    res["valid"] = valid
    res["energies"] = energies
    return res


def _summary(cell: dict, mem: Memories, arrays: dict, n_valid: int) -> dict[str, float]:
    """Means over the valid queries, on the host in float64: exact whatever the padding."""
    criterion = cell.get("criterion", "auto")
    criterion = ("bits" if mem.binary else "nearest") if criterion == "auto" else criterion
    key = {"bits": "bits_rate", "exact": "exact_rate", "nearest": "nearest_rate", "threshold": "threshold_rate"}
    if key[criterion] not in arrays:
        raise ValueError(f"criterion={criterion} needs {'±1' if criterion in ('bits', 'exact') else '[0,1]'} patterns")
    valid = np.asarray(arrays["valid"], bool)
    mean = {k: float(np.mean(np.asarray(v, np.float64)[valid])) for k, v in arrays.items()
            if k not in ("valid", "energies")}
    out = {k: v for k, v in mean.items() if k != "bits_rate"}
    out["success_rate"] = mean[key[criterion]]
    out["steps_max"] = int(np.max(np.asarray(arrays["steps"])[valid]))
    out["queries_scored"] = n_valid
    out["pattern_dim"] = int(mem.patterns.shape[1])
    energies = np.asarray(arrays["energies"], np.float64)[valid]
    counts = np.sum(~np.isnan(energies), axis=0)
    trace = np.nansum(energies, axis=0) / np.maximum(counts, 1)
    out["_energy_trace"] = [float(e) for e, c in zip(trace, counts) if c > 0]
    return out


def _score_inputs(prep: Prepared):
    spec = MODELS[prep.cell["model"]]
    patterns = jnp.asarray(prep.model.patterns if spec.maskable and getattr(prep.model, "mask", None) is not None
                           else prep.mem.patterns)
    mask = getattr(prep.model, "mask", None)
    mask = jnp.ones(patterns.shape[0], bool) if mask is None else mask
    valid = jnp.arange(prep.queries.shape[0]) < prep.n_valid
    static = {"binary": prep.mem.binary, "sim": prep.cell[spec.similarity_param] if spec.similarity_param else "l2",
              "similarity_fn": spec.similarity_fn}
    dynamic = (patterns, mask, prep.target_idx, valid, jnp.float32(prep.cell.get("max_wrong", 0.015)),
               jnp.float32(prep.cell.get("threshold", 50.0)))
    return dynamic, static


def _retrieve_key(cell):
    return jax.random.fold_in(jax.random.PRNGKey(cell["seed"]), 3)


def measure_retrieval(cell: dict, k: int | None = None, *, bucketed: bool = True) -> dict[str, float]:
    """Store K patterns, retrieve corrupted copies of (up to `n_queries` of) them, score.
    `bucketed=False` runs the cell at its natural shapes (the plain cell-by-cell path)."""
    prep = prepare(cell, k, bucketed=bucketed)
    out = retrieve(prep.model, prep.queries, key=_retrieve_key(cell))
    dynamic, static = _score_inputs(prep)
    arrays = jax.device_get(_score_arrays(out.state, out.steps, out.converged, out.energies, *dynamic, **static))
    return _summary(cell, prep.mem, arrays, prep.n_valid)


@eqx.filter_jit
def _retrieve_group(models, queries, keys):
    return jax.vmap(lambda m, q, k: retrieve(m, q, key=k))(models, queries, keys)


def measure_group(cells: list[dict], progress=lambda message: None) -> list[dict[str, float]]:
    """Many cells at once: cells whose models and queries have the same structure and exact
    shapes (same model options and K; any seed, corruption level or β) are stacked and run as
    one vmapped program; group sizes are padded to powers of two so the number of compiled
    programs stays bounded. K is not padded here: on a CPU the cells are compute-bound and
    padded memories cost more than the compilations they save (single cells, such as the
    steps of a capacity search, do use K buckets). Results equal `measure_retrieval`."""
    preps = [prepare(c, bucketed=False) for c in cells]
    inputs = [_score_inputs(p) for p in preps]
    groups: dict = {}
    for i, p in enumerate(preps):
        leaves, treedef = jax.tree_util.tree_flatten(eqx.filter(p.model, eqx.is_array))
        signature = (treedef, tuple((x.shape, x.dtype) for x in leaves), p.queries.shape, inputs[i][1]["sim"])
        groups.setdefault(signature, []).append(i)
    results: list = [None] * len(cells)
    for n, members in enumerate(groups.values()):
        progress(f"group {n + 1}/{len(groups)}: {len(members)} cells")
        size = max(1, 1 << (len(members) - 1).bit_length())
        padded = members + [members[0]] * (size - len(members))
        stack = lambda xs: jax.tree_util.tree_map(lambda *a: jnp.stack(a), *xs)  # noqa: E731
        models = stack([preps[i].model for i in padded])
        out = _retrieve_group(models, jnp.stack([preps[i].queries for i in padded]),
                              jnp.stack([_retrieve_key(preps[i].cell) for i in padded]))
        dyn = [inputs[i][0] for i in padded]
        static = inputs[members[0]][1]
        arrays = jax.vmap(lambda s, st, c, e, *d: _score_arrays(s, st, c, e, *d, **static))(
            out.state, out.steps, out.converged, out.energies, *[jnp.stack(x) for x in zip(*dyn)])
        arrays = jax.device_get(arrays)
        for row, i in enumerate(members):
            results[i] = _summary(preps[i].cell, preps[i].mem, {k: v[row] for k, v in arrays.items()},
                                  preps[i].n_valid)
    return results
