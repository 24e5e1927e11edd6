"""The Universal Hopfield Network's fast paths give the numbers of the plain ones, and its whole
grid (raw dot product; quartic, square-root and log separations) follows Millidge et al.'s code:
their `general_update_rule` with norm=True, rewritten here in float64 numpy from the formulas."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ambench import metrics
from ambench.models import _universal
from ambench.models._universal import (SEPARATIONS, UHN_SIMILARITIES, UniversalHopfield, separate,
                                       separation_index, similarity_index, uhn_similarities, uhn_similarity)
from ambench.protocol import _summary, _run_one, prepare, query_rows
from ambench.sweep import resolve_cell
from ambench.timing import compile_count


def their_update(memories, z, *, sim: str, sep: str, beta: float = 1000.0):
    """out = Xᵀ sep(s/Σs)/Σ sep(s/Σs), s = β·sim(X, z) (their general_update_rule, norm=True)."""
    x, z = np.asarray(memories, np.float64), np.asarray(z, np.float64)
    if sim == "dot":  # normalized_dot_product: each vector over its sum, then over the sum of dots
        s = (x / x.sum(1, keepdims=True)) @ (z / z.sum())
        s = s / s.sum()
    elif sim == "raw-dot":  # dot_product_distance
        s = x @ z
    elif sim == "euclidean":
        s = 1.0 / np.sum((z - x) ** 2, 1)
    else:
        s = 1.0 / np.sum(np.abs(z - x), 1)
    s = beta * s
    s = s / s.sum()
    if sep == "softmax":
        w = np.exp(beta * s - np.max(beta * s))
    elif sep == "max":
        w = np.eye(len(s))[np.argmax(s)]
    elif sep == "log":
        w = np.log(s)
    else:
        w = s ** {"identity": 1, "square": 2, "cube": 3, "quartic": 4, "poly10": 10, "sqrt": 0.5}[sep]
    return x.T @ (w / w.sum())


@pytest.mark.slow  # a compilation per drawn shape
@settings(max_examples=25, deadline=None)
@given(k=st.integers(2, 40), sim=st.sampled_from(UHN_SIMILARITIES), sep=st.sampled_from(SEPARATIONS),
       seed=st.integers(0, 2**31 - 1))
def test_retrieval_follows_their_update_rule(k, sim, sep, seed):
    """Every similarity x separation, including the raw dot product and the quartic, square-root
    and log separations, against their formulas on drawn images and noisy queries."""
    rng = np.random.default_rng(seed)
    memories = rng.uniform(0.05, 1.0, (k, 64)).astype(np.float32)
    z = np.clip(memories[0] + rng.normal(0, 0.3, 64), 0.05, 1.0).astype(np.float32)
    want = their_update(memories, z, sim=sim, sep=sep)
    model = UniversalHopfield(jnp.asarray(memories), beta=jnp.float32(1000.0), similarity=sim,
                              separation=separation_index(sep))
    got = np.asarray(model.retrieve_one(jnp.asarray(z)).state, np.float64)
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-4)


@pytest.mark.slow  # a compilation per drawn shape
@settings(max_examples=20, deadline=None)
@given(k=st.integers(1, 40), sep=st.sampled_from(SEPARATIONS), scale=st.floats(1e-3, 1e3),
       seed=st.integers(0, 2**31 - 1), masked=st.integers(0, 39))
def test_run_time_separation_equals_the_compiled_one(k, sep, scale, seed, masked):
    """separate(s, index) (lax.switch, one program for all) = separate(s, name), bit for bit."""
    rng = np.random.default_rng(seed)
    s = jnp.asarray(rng.uniform(0.01, 1, k) * scale, jnp.float32)
    mask = jnp.arange(k) != masked
    compiled = jax.jit(lambda s, m: separate(s, sep, jnp.float32(1000.0), m))(s, mask)
    runtime = jax.jit(lambda s, m, i: separate(s, i, jnp.float32(1000.0), m))(s, mask, separation_index(sep))
    np.testing.assert_array_equal(np.asarray(runtime), np.asarray(compiled))


@pytest.mark.slow  # a compilation per drawn shape
@settings(max_examples=12, deadline=None)
@given(k=st.integers(1, 90), b=st.integers(1, 40), kind=st.sampled_from(UHN_SIMILARITIES),
       sep=st.sampled_from(SEPARATIONS), masked=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_run_time_similarity_equals_the_compiled_one(k, b, kind, sep, masked, seed):
    """A model whose similarity is an index (lax.switch: one program for all) retrieves the same
    states bit for bit as one with the name compiled in, batch and single query, and its own
    similarity (the scorer's) names the same check."""
    rng = np.random.default_rng(seed)
    memories = jnp.asarray(rng.random((k, 24)), jnp.float32)
    mask = jnp.asarray(np.arange(k) < max(1, k - 3)) if masked else None
    queries = jnp.asarray(rng.random((b, 24)), jnp.float32)
    models = [UniversalHopfield(memories, beta=jnp.float32(1000.0), similarity=s, separation=separation_index(sep),
                                mask=mask) for s in (kind, similarity_index(kind))]
    batch = eqx.filter_jit(lambda m, q: m.retrieve_batch(q).state)
    one = eqx.filter_jit(lambda m, q: m.retrieve_one(q).state)
    named, indexed = models
    np.testing.assert_array_equal(np.asarray(batch(indexed, queries)), np.asarray(batch(named, queries)))
    np.testing.assert_array_equal(np.asarray(one(indexed, queries[0])), np.asarray(one(named, queries[0])))
    np.testing.assert_array_equal(
        np.asarray(eqx.filter_jit(uhn_similarities)(memories, queries, similarity_index(kind))),
        np.asarray(eqx.filter_jit(uhn_similarities)(memories, queries, kind)))
    assert metrics.NEAREST_SIMILARITIES[int(indexed.own_similarity)] == named.own_similarity


@pytest.mark.slow  # a compilation per drawn shape
@settings(max_examples=15, deadline=None)
@given(k=st.integers(1, 140), b=st.integers(1, 40), kind=st.sampled_from(UHN_SIMILARITIES),
       seed=st.integers(0, 2**31 - 1))
def test_batched_similarities_equal_the_per_query_ones(k, b, kind, seed):
    """`uhn_similarities` (distances query by query, no (B, K, D) temporary) = vmapped `uhn_similarity`
    up to the order of the float32 sum over D (bit for bit at the study's shapes; at some small ones
    XLA vectorises the two reductions differently: k=8, b=11, D=48 differed by 2.3e-7 relative)."""
    rng = np.random.default_rng(seed)
    memories = jnp.asarray(rng.uniform(0, 1, (k, 48)), jnp.float32)
    queries = jnp.asarray(rng.uniform(0, 1, (b, 48)), jnp.float32)
    fast = jax.jit(lambda m, q: uhn_similarities(m, q, kind))(memories, queries)
    plain = jax.jit(lambda m, q: jax.vmap(lambda x: uhn_similarity(m, x, kind))(q))(memories, queries)
    np.testing.assert_allclose(np.asarray(fast), np.asarray(plain), rtol=1e-6, atol=0)


def test_batched_similarities_are_bit_identical_at_the_studys_shapes():
    rng = np.random.default_rng(0)
    queries = jnp.asarray(rng.uniform(0, 1, (100, 784)), jnp.float32)
    for k in (64, 128):
        memories = jnp.asarray(rng.uniform(0, 1, (k, 784)), jnp.float32)
        for kind in ("euclidean", "manhattan"):
            fast = jax.jit(lambda m, q, kind=kind: uhn_similarities(m, q, kind))(memories, queries)
            plain = jax.jit(lambda m, q, kind=kind: jax.vmap(lambda x: uhn_similarity(m, x, kind))(q))(memories, queries)
            np.testing.assert_array_equal(np.asarray(fast), np.asarray(plain))


@pytest.mark.slow  # a compilation per drawn shape
@settings(max_examples=12, deadline=None)
@given(k=st.integers(1, 80), b=st.integers(1, 30), seed=st.integers(0, 2**31 - 1))
def test_manhattan_nearest_row_by_row_equals_the_broadcast(k, b, seed):
    rng = np.random.default_rng(seed)
    patterns = jnp.asarray(rng.uniform(0, 1, (k, 32)), jnp.float32)
    states = jnp.asarray(rng.uniform(0, 1, (b, 32)), jnp.float32)
    mask = jnp.arange(k) < max(1, k - 3)
    got = metrics.nearest_index(states, patterns, similarity="manhattan", mask=mask)
    d = np.abs(np.asarray(states, np.float64)[:, None] - np.asarray(patterns, np.float64)[None]).sum(-1)
    want = np.argmin(np.where(np.asarray(mask), d, np.inf), axis=1)
    np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.slow
@pytest.mark.parametrize("sim", UHN_SIMILARITIES)
def test_retrieve_batch_equals_retrieve_one(sim):
    """The batch path (what `retrieve` runs) gives retrieve_one's states, row by row, to float32
    round-off (the output product's blocking depends on the batch shape), for every separation."""
    rng = np.random.default_rng(1)
    memories = jnp.asarray(rng.uniform(0.05, 1, (24, 40)), jnp.float32)
    queries = jnp.asarray(rng.uniform(0.05, 1, (9, 40)), jnp.float32)
    mask = jnp.arange(24) < 20
    for sep in SEPARATIONS:
        model = UniversalHopfield(memories, beta=jnp.float32(1000.0), similarity=sim,
                                  separation=separation_index(sep), mask=mask)
        one = eqx.filter_jit(lambda m, q: jax.vmap(lambda x: m.retrieve_one(x).state)(q))(model, queries)
        batch = eqx.filter_jit(lambda m, q: m.retrieve_batch(q).state)(model, queries)
        np.testing.assert_allclose(np.asarray(batch), np.asarray(one), rtol=1e-5, atol=1e-6, err_msg=sep)


def _cell(sep, sim="manhattan", k=21, n_queries=200, **extra):
    return resolve_cell("capacity", "uhn", "random", 0, {"dim": 48, "encoding": "gaussian", "n_memories": k,
                                                         "n_queries": n_queries, "similarity": sim, "separation": sep,
                                                         "noise_kind": "gaussian", "noise_level": 0.3,
                                                         "criterion": "threshold", **extra})


@pytest.mark.slow  # a compilation per drawn shape
@settings(max_examples=6, deadline=None)
@given(k=st.integers(2, 70), n_queries=st.integers(1, 300), sim=st.sampled_from(UHN_SIMILARITIES),
       sep=st.sampled_from(SEPARATIONS), seed=st.integers(0, 3))
def test_queries_padded_to_a_bucket_score_like_queries_padded_to_n_queries(k, n_queries, sim, sep, seed):
    """A cell computes `query_rows` rows (a power of two ≥ the scored queries, ≤ n_queries), not
    n_queries: every rate is identical, continuous means agree to float32 round-off."""
    cell = resolve_cell("capacity", "uhn", "random", seed, {
        "dim": 40, "encoding": "gaussian", "n_memories": k, "n_queries": n_queries, "similarity": sim,
        "separation": sep, "noise_kind": "gaussian", "noise_level": 0.3, "criterion": "threshold"})
    fast, old = prepare(cell), prepare(cell, rows=n_queries)
    assert fast.queries.shape[0] == query_rows(min(k, n_queries), n_queries) <= n_queries
    a = _summary(fast, jax.device_get(_run_one(*fast.inputs())))
    b = _summary(old, jax.device_get(_run_one(*old.inputs())))
    assert a.keys() == b.keys()
    for key in a:
        if key.endswith("_rate") or key in ("steps", "steps_max", "queries_scored"):
            assert a[key] == b[key], key
        elif key == "cosine":
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-6), key  # float32 means: absolute near 0


def test_query_rows_never_exceed_the_scored_bucket_or_n_queries():
    assert query_rows(50, 1000) == 64 and query_rows(100, 100) == 100 and query_rows(2, 100) == 8
    assert query_rows(1000, 1000) == 1000 and query_rows(3, 5) == 5


def test_every_similarity_and_separation_runs_in_one_compiled_program():
    """The similarity and the separation are run-time arguments: a cell per (similarity,
    separation) compiles one retrieval program and one similarity program."""
    before = compile_count(_run_one), compile_count(_universal._similarities)
    for sim in UHN_SIMILARITIES:
        for p in [prepare(_cell(sep, sim=sim)) for sep in SEPARATIONS]:
            _run_one(*p.inputs())
    after = compile_count(_run_one), compile_count(_universal._similarities)
    assert after[0] - before[0] <= 1 and after[1] - before[1] <= 1


def test_a_bad_separation_or_similarity_index_is_one_line_naming_the_choices():
    with pytest.raises(ValueError, match="separation must be"):
        UniversalHopfield(jnp.ones((3, 4)), separation=jnp.int32(len(SEPARATIONS)))
    with pytest.raises(ValueError, match="separation must be one of"):
        separation_index("quadratic")
    with pytest.raises(ValueError, match="similarity must be a name of"):
        UniversalHopfield(jnp.ones((3, 4)), similarity=jnp.int32(-1))
    with pytest.raises(ValueError, match="similarity must be one of"):
        similarity_index("cosine")


@pytest.mark.slow  # a compilation per drawn shape
@settings(max_examples=10, deadline=None)
@given(k=st.integers(1, 90), b=st.integers(1, 40), kind=st.sampled_from(UHN_SIMILARITIES),
       sep=st.sampled_from(SEPARATIONS), masked=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_similarities_given_beforehand_retrieve_the_same(k, b, kind, sep, masked, seed):
    """`for_queries` (similarities computed once, in their own program) retrieves the same states
    bit for bit as computing them inside the retrieval; other queries than the given ones are
    computed afresh, never answered with the given similarities."""
    rng = np.random.default_rng(seed)
    memories = jnp.asarray(rng.random((k, 24)), jnp.float32)
    mask = jnp.asarray(np.arange(k) < max(1, k - 3)) if masked else None
    queries = jnp.asarray(rng.random((b, 24)), jnp.float32)
    others = jnp.asarray(rng.random((b, 24)), jnp.float32)
    model = UniversalHopfield(memories, beta=jnp.float32(1000.0), similarity=kind, separation=separation_index(sep),
                              mask=mask)
    retrieve = eqx.filter_jit(lambda m, q: m.retrieve_batch(q).state)
    _universal._last_similarities.clear()
    ready = model.for_queries(queries)
    assert ready.given is not None and model.given is None
    np.testing.assert_array_equal(np.asarray(retrieve(ready, queries)), np.asarray(retrieve(model, queries)))
    np.testing.assert_array_equal(np.asarray(retrieve(ready, others)), np.asarray(retrieve(model, others)))
    twice = jnp.concatenate([queries, queries])
    np.testing.assert_array_equal(np.asarray(retrieve(ready, twice)), np.asarray(retrieve(model, twice)))
    traced = eqx.filter_jit(lambda m, q: m.for_queries(q).retrieve_batch(q).state)  # nothing to compute beforehand
    np.testing.assert_array_equal(np.asarray(traced(model, queries)), np.asarray(retrieve(model, queries)))


def test_cells_differing_only_in_the_separation_compute_the_similarities_once(monkeypatch):
    """The deterministic counter: nine cells, one similarity computation; then another batch of
    queries (a new K) is computed anew; every cell scores as it does without the shared ones."""
    calls = []
    real = _universal._similarities
    monkeypatch.setattr(_universal, "_similarities", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    _universal._last_similarities.clear()
    shared = [_summary(p, jax.device_get(_run_one(*p.inputs()))) for p in [prepare(_cell(sep)) for sep in SEPARATIONS]]
    assert len(calls) == 1
    prepare(_cell("max", k=6))
    assert len(calls) == 2
    monkeypatch.setattr(UniversalHopfield, "for_queries", lambda self, queries: self)
    alone = [_summary(p, jax.device_get(_run_one(*p.inputs()))) for p in [prepare(_cell(sep)) for sep in SEPARATIONS]]
    assert shared == alone
