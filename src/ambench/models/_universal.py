"""Universal Hopfield Networks (Millidge et al. 2022): single-shot retrieval
out = Ξᵀ · sep(sim(Ξ, q)) / Σ sep(sim(Ξ, q)). Not an energy descent: one step, no dynamics.

Similarities as in their code: `dot` is the sum-normalised dot product (each vector divided by
its sum; their `normalized_dot_product`), `raw-dot` the plain Ξ·q (their `dot_product_distance`),
`euclidean` 1/Σ(q − ξ)², `manhattan` 1/Σ|q − ξ|. Separations: identity, square, cube, quartic,
x¹⁰ (`poly10`), square root (`sqrt`), `log`, softmax(β · s/Σs) (their `general_update_rule`
divides the scores by their sum before the separation, so β acts on scores that sum to one),
max (one-hot on the best match).

The similarity and the separation are run-time arguments (indices into UHN_SIMILARITIES and
SEPARATIONS, chosen by `lax.switch`), so one compiled program serves every combination; a
string compiles that one choice in (the same numbers).
Batches of Euclidean / Manhattan similarities are taken query by query (`lax.map`): the
numbers of the vmapped broadcast (bit for bit at the study's shapes; at some small shapes the
float32 sum over D is taken in another order), without its (B, K, D) temporary, which XLA on a
CPU ran 20x slower at K = 64 than at K = 32. Cells that differ only in the separation (or β)
store the same memories and ask the same queries: `for_queries` computes their similarities
once (`given`), and `retrieve_batch` uses them for exactly those queries.
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from ..params import Field, Params, choices
from ._registry import register_model
from .._memo import KeepLast
from ..metrics import NEAREST_SIMILARITIES
from ._base import AbstractMemory, Retrieval, check_choice, check_declared, check_patterns

UHNSimilarity = Literal["dot", "raw-dot", "euclidean", "manhattan"]
Separation = Literal["identity", "square", "cube", "poly10", "softmax", "max", "quartic", "sqrt", "log"]
UHN_SIMILARITIES = choices(UHNSimilarity)
SEPARATIONS = choices(Separation)
POWERS = {"identity": 1, "square": 2, "cube": 3, "quartic": 4, "poly10": 10, "sqrt": 0.5}


def uhn_similarity(memories, q, kind: str | Int[Array, ""]):
    """sim(Ξ, q) for one query, by their code's formulas (`kind` a name or its index)."""
    if not isinstance(kind, str):
        return jax.lax.switch(kind, [lambda m, q, name=name: uhn_similarity(m, q, name) for name in UHN_SIMILARITIES],
                              memories, q)
    if kind == "dot":
        m = memories / (jnp.sum(memories, axis=1, keepdims=True) + 1e-8)
        return m @ (q / (jnp.sum(q) + 1e-8))
    if kind == "raw-dot":
        return memories @ q
    if kind == "euclidean":
        return 1.0 / (jnp.sum((memories - q) ** 2, axis=1) + 1e-8)
    return 1.0 / (jnp.sum(jnp.abs(memories - q), axis=1) + 1e-8)


def uhn_similarities(memories, queries, kind: str | Int[Array, ""]):
    """sim(Ξ, q) for a batch of queries (B, K): `uhn_similarity` per query (up to float32 summation order).
    The distances run query by query (a loop of (K, D) reductions); the dot products as one
    product. `kind` is a name (compiled in) or its index (one switch for the whole batch)."""
    if not isinstance(kind, str):
        return jax.lax.switch(kind, [lambda m, q, name=name: uhn_similarities(m, q, name)
                                     for name in UHN_SIMILARITIES], memories, queries)
    if kind in ("euclidean", "manhattan"):
        return jax.lax.map(lambda q: uhn_similarity(memories, q, kind), queries)
    return jax.vmap(lambda q: uhn_similarity(memories, q, kind))(queries)


_similarities = eqx.filter_jit(uhn_similarities)  # a name is compiled in, an index is an argument


def separation_index(kind: str) -> Int[ArrayLike, ""]:
    """The run-time form of a separation (an index into SEPARATIONS; a host int32 scalar)."""
    check_choice("UniversalHopfield", "separation", kind, SEPARATIONS)
    return np.asarray(SEPARATIONS.index(kind), np.int32)


def similarity_index(kind: str) -> Int[ArrayLike, ""]:
    """The run-time form of a similarity (an index into UHN_SIMILARITIES; a host int32 scalar)."""
    check_choice("UniversalHopfield", "similarity", kind, UHN_SIMILARITIES)
    return np.asarray(UHN_SIMILARITIES.index(kind), np.int32)


# the similarity the scorer's own-nearest check uses for each of UHN_SIMILARITIES: their dot
# product is the sum-normalised one
OWN_SIMILARITY = {"dot": "normalised-dot", "raw-dot": "dot", "euclidean": "l2", "manhattan": "manhattan"}


def separate(s, kind, beta, mask=None):
    """Normalised separation weights w over the K stored items (Σ w = 1 over unmasked rows).

    `kind` is a name of SEPARATIONS (compiled in) or its index as an integer array (chosen at
    run time by `lax.switch`: the same numbers, one program for all).
    softmax: w_μ = exp(β·s_μ/S) / Σ_ν exp(β·s_ν/S) with S = Σ_ν s_ν, both sums over the
    unmasked rows only (masked rows get w = 0 and do not enter S): the authors'
    `general_update_rule`, which divides the similarity scores by their sum before softmax(β·)
    (with β = 1000 in their figures). The powers (sqrt included) are normalised by their sum (so
    dividing s by S first would change nothing); they are taken of s / max s, the same weights
    without the float32 overflow of s¹⁰ at a near-exact match (s up to 1e8). log is their
    log(s/S) normalised by its sum (S matters here: log is not homogeneous). max is one-hot on
    the best unmasked match.
    """
    if mask is None:
        mask = jnp.ones(s.shape, bool)
    if not isinstance(kind, str):
        branches = [lambda s, beta, mask, name=name: separate(s, name, beta, mask) for name in SEPARATIONS]
        return jax.lax.switch(kind, branches, s, beta, mask)
    if kind == "softmax":
        total = jnp.sum(jnp.where(mask, s, 0.0))
        return jax.nn.softmax(jnp.where(mask, beta * s / total, -jnp.inf))
    if kind == "max":
        return jax.nn.one_hot(jnp.argmax(jnp.where(mask, s, -jnp.inf)), s.shape[0], dtype=s.dtype)
    if kind == "log":
        total = jnp.sum(jnp.where(mask, s, 0.0))
        w = jnp.where(mask, jnp.log(jnp.where(mask, s, 1.0) / total), 0.0)
        return w / jnp.sum(w)
    power = POWERS[kind]
    s = jnp.where(mask, s, 0.0)
    top = jnp.max(jnp.abs(s))
    w = (s / jnp.where(top > 0, top, 1.0)) ** power
    return w / (jnp.sum(w) + 1e-30)


class UniversalHopfield(AbstractMemory):
    """`similarity` and `separation` are names (compiled into the program) or their indices as
    int32 arrays (run-time arguments: `similarity_index(name)`, `separation_index(name)`; what
    the registry builds)."""

    memories: Float[Array, "K D"]
    beta: Float[ArrayLike, ""] | float = 1.0
    similarity: str | Int[ArrayLike, ""] = "euclidean"
    separation: str | Int[ArrayLike, ""] = "softmax"
    mask: Bool[Array, " K"] | None = None  # padding rows (False) take no part
    # (queries, sim(Ξ, queries)) computed beforehand (`for_queries`); used only for those queries
    given: tuple[Float[Array, "B D"], Float[Array, "B K"]] | None = None

    @property
    def own_similarity(self) -> str | Int[ArrayLike, ""]:
        """OWN_SIMILARITY of the similarity: a name, or its index into metrics.NEAREST_SIMILARITIES
        when the similarity is an index."""
        if isinstance(self.similarity, str):
            return OWN_SIMILARITY[self.similarity]
        table = np.asarray([NEAREST_SIMILARITIES.index(OWN_SIMILARITY[name]) for name in UHN_SIMILARITIES], np.int32)
        if isinstance(self.similarity, jax.core.Tracer):
            return jnp.asarray(table)[self.similarity]
        return np.asarray(table[int(self.similarity)])

    def __check_init__(self):
        check_patterns(self.memories, owner="UniversalHopfield")
        declared = {"beta": self.beta}
        for name, names, index in (("similarity", UHN_SIMILARITIES, "similarity_index"),
                                   ("separation", SEPARATIONS, "separation_index")):
            value = getattr(self, name)
            if isinstance(value, str):
                declared[name] = value
            elif not isinstance(value, jax.core.Tracer):
                i = np.asarray(value)
                if i.shape != () or not np.issubdtype(i.dtype, np.integer) or not 0 <= i < len(names):
                    raise ValueError(f"UniversalHopfield: {name} must be a name of {names} or its index "
                                     f"({index}(name)), got {value!r}")
        check_declared("UniversalHopfield", UHNParams, declared)

    @property
    def patterns(self):
        return self.memories

    def _result(self, out):
        # no energy function: an all-NaN trace, which the scorer reads as "no energy" (neither
        # diverged nor monotone: energy_monotone_rate is null for uhn cells)
        return Retrieval(out, jnp.ones(out.shape[:-1], jnp.int32), jnp.ones(out.shape[:-1], bool),
                         jnp.full((*out.shape[:-1], 2), jnp.nan, out.dtype))

    def retrieve_one(self, query, *, key=None):
        weights = separate(uhn_similarity(self.memories, query, self.similarity), self.separation, self.beta,
                           self.mask)
        return self._result(weights @ self.memories)

    def retrieve_batch(self, queries, *, key=None):
        """`retrieve_one` for every row of `queries` (same numbers), similarities by
        `uhn_similarities` (or the ones `given` for these very queries) and the outputs as one
        product."""
        sims = self._similarities(queries)
        weights = jax.vmap(lambda s: separate(s, self.separation, self.beta, self.mask))(sims)
        return self._result(weights @ self.memories)

    def _similarities(self, queries):
        if self.given is None or self.given[0].shape != queries.shape:
            return uhn_similarities(self.memories, queries, self.similarity)
        # the given similarities answer exactly their own queries; any other batch is computed here
        # (a check in the program: an error check would be a host callback, which XLA's
        # persistent compilation cache does not keep)
        return jax.lax.cond(jnp.all(self.given[0] == queries), lambda: self.given[1],
                            lambda: uhn_similarities(self.memories, queries, self.similarity))

    def for_queries(self, queries: Float[Array, "B D"]) -> "UniversalHopfield":
        """This model carrying sim(Ξ, q) of `queries`, computed once for a run of cells with the
        same memories, similarity and queries (the last such batch is kept: a sweep lists the
        cells that differ only in the separation one after another). Retrieval results are the
        same with and without (tested)."""
        if self.given is not None or any(isinstance(x, jax.core.Tracer)
                                         for x in (self.memories, queries, self.similarity)):
            return self  # inside a traced function: nothing to compute beforehand
        kind = self.similarity if isinstance(self.similarity, str) else UHN_SIMILARITIES[int(self.similarity)]
        sims = _last_similarities.get(kind, (self.memories, queries),
                                      lambda: _similarities(self.memories, queries, self.similarity))
        return eqx.tree_at(lambda m: m.given, self, (queries, sims), is_leaf=lambda x: x is None)


_last_similarities = KeepLast()  # sim(Ξ, q) of the last for_queries (keyed by similarity, memories, queries)


# --- registry entry ------------------------------------------------------------------------------
class UHNParams(Params):
    beta: float = Field(1000.0, gt=0, le=1e6, only_with={"separation": "softmax"},
                        description="inverse temperature of the softmax on scores divided by their sum; 1000 as in "
                                    "Millidge et al. 2022's code (at 1 the weights are near uniform: 1% nearest, "
                                    "Fashion-MNIST, K = 100, sigma = 0.3)")
    similarity: UHNSimilarity = Field("euclidean", description="sim(Xi, q) as in their code (dot: sum-normalised; "
                                      "raw-dot: plain Xi q)")
    separation: Separation = Field(
        "softmax", description="sep(.) applied to the similarities")


def _build_uhn(p: UHNParams, patterns, *, labels, image_shape, key, mask):
    return UniversalHopfield(patterns, beta=np.asarray(p.beta, patterns.dtype), similarity=similarity_index(p.similarity),
                             separation=separation_index(p.separation), mask=mask)


register_model("uhn", params=UHNParams,
               doc="Universal Hopfield Network: single-shot Xi^T sep(sim(Xi, q)) (Millidge et al. 2022)",
               family="DAM", build=_build_uhn, maskable=True)
