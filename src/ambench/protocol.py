"""The retrieval protocol experiments share: a cell's memories, its queries, its score.

Seeds fix everything: which patterns are stored (disjoint blocks of the dataset per seed), which
queries are drawn, the corruption, and the update order. Queries and corruptions live in data/,
criteria in metrics; this module joins them, and runs cells one by one or grouped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import data, metrics
from .models import build_model, retrieve
from .params import Field, Params

MEMORY_FRACTION = 0.5  # refuse a cell whose stored patterns alone would take more of the machine


class CriterionParams(Params):
    """What counts as a successful retrieval, and each criterion's own setting: declared once
    here, for every experiment that scores retrievals (`RetrievalParams`, basins)."""

    criterion: Literal["auto", "bits", "exact", "nearest", "threshold", "cosine"] = Field(
        "auto", description="success: auto is bits for ±1 patterns, nearest otherwise")
    # each criterion's own setting takes part only with it (a value given for another is refused)
    max_wrong: float = Field(0.015, ge=0, le=1, only_with={"criterion": "bits"},
                             description="criterion=bits: largest fraction of wrong signs")
    threshold: float = Field(50.0, gt=0, le=1e6, only_with={"criterion": "threshold"},
                             description="criterion=threshold: squared error per 784 pixels")
    min_cosine: float = Field(0.9, ge=-1, lt=1, only_with={"criterion": "cosine"},
                              description="criterion=cosine: success when cos(state, target) > this")

def declared(cell, name: str):
    """The cell's value of retrieval parameter `name`, or its declared default (`RetrievalParams`)
    when the cell has none: a setting its `only_with` condition leaves out (noise_level without
    noise), or one its experiment does not declare (e.g. the classifier's criterion settings).
    The defaults are never spelled a second time."""
    return cell.get(name, RetrievalParams.model_fields[name].default)


def criterion_setting(cell, name: str) -> float:
    """A criterion setting of the cell, or its declared default (`declared`)."""
    return declared(cell, name)


def scorer_for(cell, patterns, mask, *, binary: bool, **kwargs) -> metrics.Scorer:
    """The cell's scorer: its criterion settings (or their declared defaults) as float32 scalars
    (host values: arguments of the compiled program, no device work per cell)."""
    return metrics.Scorer(patterns=patterns, mask=mask, binary=binary,
                          **{k: np.float32(criterion_setting(cell, k)) for k in ("max_wrong", "threshold",
                                                                                   "min_cosine")}, **kwargs)


class RetrievalParams(CriterionParams):
    """Parameters of a retrieval measurement: what is stored, how queries are corrupted, and
    what counts as a success. Experiments subclass it with their own defaults."""

    n_memories: int = Field(10, ge=1, le=10_000_000, description="K, the number of stored patterns")
    n_queries: int = Field(100, ge=1, le=1_000_000, description="queries per cell (at most K are distinct)")
    noise_kind: Literal[tuple(data.CORRUPTIONS)] = Field("none", description="corruption of the queries (`ambench datasets`)")  # pyright: ignore[reportInvalidTypeForm]
    noise_level: float = Field(0.0, ge=0, le=100, description="fraction corrupted, or sigma for gaussian kinds",
                               only_with={"noise_kind": tuple(k for k in data.CORRUPTIONS if k != "none")})


def resolve_data(model_spec, data_spec, params):
    """`encoding=auto` becomes what is used: ±1 for binary models and for random patterns,
    [0, 1] images otherwise."""
    if getattr(params, "encoding", None) != "auto":
        return params
    binary = model_spec.binary or data_spec.images is None
    return params.model_copy(update={"encoding": "binary" if binary else "unit"})


def resolve_experiment(params, data_params):
    """`criterion=auto` becomes what is used: bits for ±1 patterns, nearest otherwise."""
    if getattr(params, "criterion", None) != "auto":
        return params
    return params.model_copy(update={"criterion": "bits" if data_params.encoding == "binary" else "nearest"})


def pattern_dim(cell) -> int | None:
    return cell.data.component.dim(cell.data.params)


def check_cell(cell) -> None:
    """Checks that need no data: raise ValueError naming the fix."""
    model, source = cell.model.component, cell.data.component
    enc = cell.get("encoding")
    if model.binary and enc is not None and enc != "binary":
        raise ValueError(f"model {model.name} stores ±1 patterns: use encoding=binary (or auto), not {enc}")
    k = cell.get("n_memories")
    size = source.size(cell.data.params)
    if k is not None and size is not None and k > size:
        raise ValueError(f"n_memories={k} is larger than {source.name} ({size} images); use at most {size}")
    if "noise_kind" in cell:
        data.check_level(cell["noise_kind"], declared(cell, "noise_level"))
    if cell.get("criterion") in ("bits", "exact") and enc not in (None, "binary"):
        raise ValueError(f"criterion={cell['criterion']} needs ±1 patterns (encoding=binary); use nearest or threshold")
    if cell.get("criterion") == "threshold" and enc == "binary":
        raise ValueError("criterion=threshold is for real-valued patterns; use bits, exact or nearest for ±1 data")
    check_memory(cell)


def memory_estimate(cell) -> dict[str, int]:
    """Bytes of the largest arrays a cell builds, from their shapes and dtypes: the stored
    patterns (float32: themselves, their padded bucket, the scorer's copy), their float64
    draw for random patterns, queries and targets, random starts and their states, and the
    query-by-memory similarities of one retrieval step (float32)."""
    dim, k = pattern_dim(cell), cell.get("n_memories")
    if dim is None:
        return {}
    if not isinstance(k, int):  # a capacity search stores up to k_max patterns
        k = cell.get("k_max") if isinstance(cell.get("k_max"), int) else 0
    out = {"patterns K×N float32 ×3": 4 * 3 * k * dim}
    if cell.data.component.images is None:
        out["random draw K×N float64 ×2"] = 8 * 2 * k * dim
    n_rows = sum(cell.get(n, 0) or 0 for n in ("n_queries", "n_starts", "batch"))
    if n_rows:
        out["queries/starts M×N float32 ×2"] = 4 * 2 * n_rows * dim
        if k:
            out["similarities M×K float32"] = 4 * n_rows * k
    return out


def memory_limit() -> tuple[float | None, str]:
    """The most bytes a cell may ask for, and where that limit comes from."""
    given = os.environ.get("AMBENCH_MAX_MEMORY_GB")
    if given:
        try:
            return float(given) * 2**30, f"AMBENCH_MAX_MEMORY_GB={given}"
        except ValueError:
            raise ValueError(f"AMBENCH_MAX_MEMORY_GB={given!r} is not a number of GiB; e.g. AMBENCH_MAX_MEMORY_GB=64") from None
    have = _machine_memory()
    return (MEMORY_FRACTION * have if have else None), "half of this machine's memory"


def check_memory(cell) -> None:
    """Refuse, in one line, a cell whose arrays would not fit (`memory_estimate`)."""
    parts = memory_estimate(cell)
    limit, source = memory_limit()
    need = sum(parts.values())
    if limit is not None and need > limit:
        big = max(parts, key=parts.get)
        raise ValueError(f"this cell needs about {need / 2**30:.1f} GiB (largest: {big}, {parts[big] / 2**30:.1f} GiB), "
                         f"more than {limit / 2**30:.1f} GiB ({source}); lower n_memories, dim, n_queries or n_starts, "
                         "or raise the limit with AMBENCH_MAX_MEMORY_GB")


def _machine_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


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


def load_memories(cell, k: int) -> Memories:
    """The K patterns a cell stores: block `seed` of the source (or seeded random patterns)."""
    enc, source = cell["encoding"], cell.data.component
    if source.images is None:
        pats = data.random_patterns(k, cell["dim"], seed=cell["seed"], encoding=enc)
        low, high = (-1.0, 1.0) if enc == "binary" else (float(pats.min()), float(pats.max()))
        return Memories(pats, None, enc, None, None, low, high, enc == "binary")
    ds = source.images(cell.data.params)
    idx, labels = data.sample_block(ds, k, seed=cell["seed"], balanced=cell["balanced"])
    raw = ds.images[idx]
    pats = np.asarray(data.encode(raw, enc))
    ranges = {"binary": (-1.0, 1.0), "signed": (-1.0, 1.0), "unit": (0.0, 1.0)}
    low, high = ranges.get(enc, (float(pats.min()), float(pats.max())))
    return Memories(pats, raw, enc, labels, ds.image_shape, low, high, enc == "binary")


def query_rows(n: int, n_queries: int) -> int:
    """Rows of a padded query batch holding `n` scored queries: n rounded up to a power of two,
    at most `n_queries` (a bounded set of shapes; never more than a few rows computed and not
    scored: a K = 50 cell with n_queries = 1000 computes 64 rows, not 1000)."""
    return min(bucket(n), n_queries)


def make_queries(mem: Memories, cell, n_queries: int, *, pad: bool = False, rows: int | None = None):
    """Corrupted copies of the first `n_queries` stored patterns of a seeded order (K of them
    when K < n_queries), repeated up to `query_rows` rows when `pad` (or up to `rows`)."""
    k = mem.patterns.shape[0]
    source, low, high = (mem.patterns, mem.low, mem.high) if mem.raw is None else (mem.raw, 0.0, 1.0)
    n = min(n_queries, k)
    rows = rows if rows is not None else query_rows(n, n_queries) if pad else n
    return data.draw_queries(source, seed=cell["seed"], kind=declared(cell, "noise_kind"),
                             level=declared(cell, "noise_level"), low=low, high=high, n=n,
                             rows=rows, image_shape=mem.image_shape,
                             encoding=None if mem.raw is None else mem.encoding)


def model_for(cell, mem: Memories, *, padded_k: int | None = None):
    """Build the cell's model; with `padded_k`, memories are zero-padded to that many rows and
    masked (maskable models only), so every K in a bucket shares one compiled program."""
    patterns, mask = mem.patterns, None
    if padded_k is not None and cell.model.component.maskable and padded_k > len(patterns):
        mask = np.arange(padded_k) < len(patterns)
        patterns = np.concatenate([patterns, np.zeros((padded_k - len(patterns), patterns.shape[1]), patterns.dtype)])
    return build_model(cell["model"], cell.model.params, patterns, labels=mem.labels, image_shape=mem.image_shape,
                       key=jax.random.PRNGKey(cell["seed"]), mask=mask)


def bucket(k: int) -> int:
    """K rounded up to a power of two (at least 8): the bounded set of compiled shapes."""
    return max(8, 1 << (int(k) - 1).bit_length())


@dataclass
class Prepared:
    """A cell ready to run: its model, queries padded to `query_rows` rows, and its scorer."""

    cell: object
    mem: Memories
    model: object
    queries: jax.Array  # (rows, D): the first n_valid rows are real
    target_idx: jax.Array  # (rows,)
    valid: np.ndarray  # (rows,) bool
    scorer: metrics.Scorer

    def inputs(self):
        """Everything the compiled program receives, as one pytree (grouping compares it)."""
        return (self.model, self.queries, retrieve_key(self.cell), self.scorer, self.target_idx, self.valid)


def prepare(cell, k: int | None = None, *, bucketed: bool = True, rows: int | None = None) -> Prepared:
    """`rows` overrides the padded query batch (tests: any padding gives the same numbers)."""
    k = cell["n_memories"] if k is None else k
    mem = load_memories(cell, k)
    n_queries = declared(cell, "n_queries")
    queries, target_idx = make_queries(mem, cell, n_queries, pad=bucketed, rows=rows)
    model = model_for(cell, mem, padded_k=bucket(k) if bucketed else None).for_queries(queries)
    mask = getattr(model, "mask", None)
    patterns = model.patterns if mask is not None else jnp.asarray(mem.patterns)
    scorer = scorer_for(cell, patterns, jnp.ones(patterns.shape[0], bool) if mask is None else mask,
                        binary=mem.binary, own_similarity=model.own_similarity)
    valid = np.arange(queries.shape[0]) < min(n_queries, k)
    return Prepared(cell, mem, model, queries, target_idx, valid, scorer)


def retrieve_key(cell):
    return jax.random.fold_in(jax.random.PRNGKey(cell["seed"]), 3)


def _run(model, queries, key, scorer, target_idx, valid):
    out = retrieve(model, queries, key=key)
    return scorer(out.state, out.steps, out.converged, out.energies, target_idx, valid)


_run_one = eqx.filter_jit(_run)
_run_many = eqx.filter_jit(eqx.filter_vmap(_run))


def _summary(prep: Prepared, arrays: dict) -> dict:
    out = metrics.summarise(arrays, criterion=prep.cell["criterion"])  # resolved from auto by the cell
    return out | {"pattern_dim": int(prep.mem.patterns.shape[1])}


def measure_retrieval(cell, k: int | None = None, *, bucketed: bool = True) -> dict:
    """Store K patterns, retrieve corrupted copies of (up to `n_queries` of) them, score.
    `bucketed=False` runs the cell at its natural shapes (the plain cell-by-cell path)."""
    prep = prepare(cell, k, bucketed=bucketed)
    return _summary(prep, jax.device_get(_run_one(*prep.inputs())))


def signature(tree) -> tuple:
    """The exact static configuration of a pytree: its structure (equinox static fields
    included), array shapes and dtypes, and the value of every non-array leaf. Two inputs with
    the same signature run as one compiled program."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return (treedef, tuple((tuple(x.shape), str(x.dtype)) if hasattr(x, "shape") else ("value", repr(x))
                           for x in leaves))


def measure_group(cells: list, progress=lambda message: None) -> list[dict]:
    """Many cells at once: cells whose compiled inputs (model, queries, scorer) have the same
    signature are stacked and run as one vmapped program; group sizes are padded to powers of
    two so the number of compiled programs stays bounded. K is not padded here: on a CPU the
    cells are compute-bound and padded memories cost more than the compilations they save.
    Results equal `measure_retrieval(cell, bucketed=False)` metric by metric: rates and counts
    exactly, float means (cosine, mse) to float32 rounding (`bench.same_results`)."""
    preps = [prepare(c, bucketed=False) for c in cells]
    groups: dict = {}
    for i, p in enumerate(preps):
        groups.setdefault(signature(p.inputs()), []).append(i)
    results: list = [None] * len(cells)
    for n, members in enumerate(groups.values()):
        progress(f"group {n + 1}/{len(groups)}: {len(members)} cells")
        size = max(1, 1 << (len(members) - 1).bit_length())
        padded = members + [members[0]] * (size - len(members))
        stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs) if hasattr(xs[0], "shape") else xs[0],
                                         *[preps[i].inputs() for i in padded])
        arrays = jax.device_get(_run_many(*stacked))
        for row, i in enumerate(members):
            results[i] = _summary(preps[i], {k: v[row] for k, v in arrays.items()})
    return results
