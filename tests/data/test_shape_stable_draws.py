"""Queries and random patterns drawn once per size class instead of once per K give exactly the
numbers of the plain per-K draw (a capacity search tries ~40 values of K)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ambench import data
from ambench.data import _queries, _sources
from ambench.data._corrupt import corrupt


def reference_draw(source, *, seed, kind, level, low, high, n, rows, image_shape=None):
    """The per-K formula: the first n of `jax.random.permutation(key, K)`, corrupted with n split keys."""
    key = jax.random.PRNGKey(np.uint32(seed))
    target = jax.random.permutation(jax.random.fold_in(key, 1), source.shape[0])[:n]
    keys = jax.random.split(jax.random.fold_in(key, 2), n)
    corrupt_all = jax.jit(jax.vmap(lambda v, k, level, low, high: corrupt(v, kind, level, key=k, low=low, high=high,
                                                                           image_shape=image_shape),
                                   in_axes=(0, 0, None, None, None)))  # compiled, as `_draw` is (XLA fuses x + level·z)
    q = corrupt_all(jnp.asarray(source)[target], keys, jnp.float32(level), jnp.float32(low), jnp.float32(high))
    repeat = np.arange(rows) % n
    return np.asarray(q)[repeat], np.asarray(target)[repeat]


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 6000), seed=st.integers(0, 2**31))
def test_permutation_prefix_is_jax_permutation(k, seed):
    key = jax.random.PRNGKey(seed)
    size = 1 << max(3, (k - 1).bit_length())
    got = np.asarray(_queries.permutation_prefix(key, jnp.int32(k), size, rounds=_queries.shuffle_rounds(k)))
    np.testing.assert_array_equal(got[:k], np.asarray(jax.random.permutation(key, k)))
    np.testing.assert_array_equal(got[k:], np.arange(k, size))


@pytest.mark.slow
@pytest.mark.parametrize("k", [1625, 1626, 65537, 300_001])  # both sides of the one-to-two-round boundary
def test_permutation_prefix_at_large_k(k):
    key = jax.random.PRNGKey(11)
    size = 1 << (k - 1).bit_length()
    got = np.asarray(_queries.permutation_prefix(key, jnp.int32(k), size, rounds=_queries.shuffle_rounds(k)))
    np.testing.assert_array_equal(got[:k], np.asarray(jax.random.permutation(key, k)))


def test_key_splitting_is_prefix_stable():
    """`_draw` splits `rows` keys and uses the first n: the keys a split into n gives."""
    key = jax.random.PRNGKey(5)
    for n in (1, 3, 64, 100):
        np.testing.assert_array_equal(jax.random.split(key, n), jax.random.split(key, 128)[:n])


@settings(max_examples=15, deadline=None)
@given(k=st.integers(1, 300), n_queries=st.integers(1, 120), extra=st.integers(0, 20), seed=st.integers(0, 2**16),
       kind=st.sampled_from(["flip", "gaussian", "mask_rows"]), level=st.sampled_from([0.0, 0.2, 0.5]))
def test_draw_queries_equals_the_per_k_draw(k, n_queries, extra, seed, kind, level):
    rng = np.random.default_rng(seed)
    image_shape = (1, 4, 4) if kind == "mask_rows" else None
    source = rng.random((k, 16)).astype(np.float32)
    n = min(n_queries, k)
    args = dict(seed=seed, kind=kind, level=level, low=0.0, high=1.0, n=n, rows=n + extra, image_shape=image_shape)
    q, target = data.draw_queries(source, **args)
    q_ref, target_ref = reference_draw(source, **args)
    np.testing.assert_array_equal(np.asarray(target), target_ref)
    np.testing.assert_array_equal(np.asarray(q), q_ref)


def test_one_program_serves_every_k_of_a_size_class():
    """The deterministic counter behind the speed: K = 300…511 (one padded size), any n ≥ 100."""
    before = _queries._draw._cache_size()
    for k in (300, 301, 400, 450, 511):
        data.draw_queries(np.ones((k, 8), np.float32), seed=0, kind="flip", level=0.1, low=-1.0, high=1.0,
                          n=100, rows=100)
    assert _queries._draw._cache_size() - before == 1


def test_a_study_of_k_2_to_1000_draws_with_five_programs():
    """The UHN study's K = 2…1000, every query scored (rows = the K bucket): five compiled sizes
    (8·4ⁱ), where one per power of two took eight; rows beyond those asked are never returned."""
    before = _queries._draw._cache_size()
    for k in (2, 5, 10, 20, 50, 100, 200, 300, 500, 700, 1000):
        rows = max(8, 1 << (k - 1).bit_length())
        q, target = data.draw_queries(np.ones((k, 8), np.float32), seed=0, kind="flip", level=0.1, low=-1.0,
                                      high=1.0, n=k, rows=rows)
        assert q.shape == (rows, 8) and target.shape == (rows,)
    assert _queries._draw._cache_size() - before == 5


@pytest.mark.parametrize("encoding", ["binary", "gaussian", "sphere"])
def test_random_patterns_are_nested_and_the_kept_draw_is_not_shared(encoding):
    _sources._last_draw.clear()
    big = data.random_patterns(500, 12, seed=4, encoding=encoding)  # kept
    small = data.random_patterns(37, 12, seed=4, encoding=encoding)  # sliced from it
    _sources._last_draw.clear()
    np.testing.assert_array_equal(small, data.random_patterns(37, 12, seed=4, encoding=encoding))  # drawn afresh
    np.testing.assert_array_equal(big[:37], small)
    small[:] = 0.0  # a caller's edit does not reach the kept draw
    assert np.all(data.random_patterns(37, 12, seed=4, encoding=encoding) != 0.0)


def _draw_args(source):
    return dict(seed=3, kind="gaussian", level=0.2, low=0.0, high=1.0, n=5, rows=8, image_shape=None, encoding=None)


@pytest.mark.parametrize("change", ["none", "pixel", "seed", "kind", "level", "low", "high", "n", "rows", "encoding"])
def test_the_kept_draw_is_reused_only_for_the_same_arguments_and_source_content(monkeypatch, change):
    """The last draw comes back for a source with the same content (a new array object, as the
    next cell loads it) and the same arguments, and never when any of them differs: each result
    equals a fresh draw."""
    calls = []
    real = _queries._draw
    monkeypatch.setattr(_queries, "_draw", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    _queries._last_draw.clear()
    rng = np.random.default_rng(0)
    source = rng.random((20, 16)).astype(np.float32)
    args = _draw_args(source)
    first = data.draw_queries(source, **args)
    again, changed = source.copy(), dict(args)
    if change == "pixel":
        again[7, 3] += 0.5
    elif change in ("seed", "n", "rows"):
        changed[change] += 1
    elif change in ("level", "low", "high"):
        changed[change] += 0.125
    elif change == "kind":
        changed["kind"] = "gaussian-abs"
    elif change == "encoding":
        changed["encoding"] = "signed"
    got = data.draw_queries(again, **changed)
    assert len(calls) == (1 if change == "none" else 2)
    _queries._last_draw.clear()
    fresh = data.draw_queries(again, **changed)
    for a, b in zip(got, fresh):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    if change == "none":
        assert got[0] is first[0]


@pytest.mark.parametrize("encoding", [None, "unit", "signed", "binary", "centered"])
def test_rows_drawn_at_a_larger_compiled_size_are_the_rows_asked_for(encoding):
    """`draw_queries` draws at `draw_size(rows)` and returns the first `rows`: every encoding
    (the centered one normalises each row on its own) gives the rows of a draw at exactly `rows`."""
    rng = np.random.default_rng(1)
    source = rng.random((37, 24)).astype(np.float32)
    padded = np.zeros((64, 24), np.float32)
    padded[:37] = source
    args = (padded, np.int32(37), np.int32(21), np.uint32(5), np.float32(0.3), np.float32(0.0), np.float32(1.0))
    opts = dict(rounds=_queries.shuffle_rounds(37), kind="gaussian-abs", image_shape=None, encoding=encoding)
    exact = _queries._draw(*args, rows=40, **opts)
    larger = _queries._draw(*args, rows=128, **opts)
    for a, b in zip(exact, larger):
        np.testing.assert_array_equal(np.asarray(b)[:40], np.asarray(a))
    got = data.draw_queries(source, seed=5, kind="gaussian-abs", level=0.3, low=0.0, high=1.0, n=21, rows=40,
                            encoding=encoding)
    for a, b in zip(exact, got):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a))
