"""The cosine criterion (src/ambench/metrics.py) and the rule that a criterion's setting is given
only with the criterion that reads it (protocol.check_cell)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ambench import metrics
from ambench.sweep import ConfigError, resolve_cell


def _cosine_reference(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.array([x @ y / (np.linalg.norm(x) * np.linalg.norm(y)) for x, y in zip(a, b)])


_cosine = jax.jit(metrics.cosine)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([1e-3, 1.0, 30.0]))
def test_cosine_equals_the_float64_formula(seed, scale):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    x, y = scale * jax.random.normal(k1, (6, 40)), jax.random.normal(k2, (6, 40))
    np.testing.assert_allclose(_cosine(x, y), _cosine_reference(x, y), atol=2e-6)


def test_cosine_of_a_zero_vector_is_zero_and_scale_does_not_matter():
    x = jnp.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    y = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [7.0, 14.0, 21.0]])
    np.testing.assert_allclose(metrics.cosine(x, y), [0.0, 0.0, 1.0], atol=1e-7)


def _scorer(patterns, min_cosine):
    k = patterns.shape[0]
    scorer = metrics.Scorer(patterns=patterns, mask=jnp.ones(k, bool), max_wrong=jnp.float32(0.015),
                            threshold=jnp.float32(50.0), min_cosine=jnp.float32(min_cosine), binary=False)
    return lambda *args: _score(scorer, *args)


_score = eqx.filter_jit(lambda scorer, *args: scorer(*args))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), min_cosine=st.sampled_from([-0.5, 0.0, 0.5, 0.9, 0.99]))
def test_scorer_counts_cosine_strictly_above_min_cosine(seed, min_cosine):
    """cosine_rate is cos(state, target) > min_cosine on the state it is given (Santos et al.'s
    code: `cosine_sims > 0.9`), and a diverged state never counts."""
    rng = np.random.default_rng(seed)
    patterns = rng.normal(size=(5, 12)).astype(np.float32)
    target = rng.integers(0, 5, 8).astype(np.int32)
    state = (patterns[target] + rng.normal(size=(8, 12)) * np.linspace(0, 3, 8)[:, None]).astype(np.float32)
    state[7] = np.nan
    out = _scorer(jnp.asarray(patterns), min_cosine)(state, np.ones(8, np.int32), np.ones(8, bool),
                                                     np.zeros((8, 2), np.float32), target, np.ones(8, bool))
    ref = _cosine_reference(state[:7], patterns[target[:7]])
    np.testing.assert_array_equal(np.asarray(out["cosine_rate"][:7]), ref > min_cosine)
    assert not bool(out["cosine_rate"][7]) and bool(out["diverged_rate"][7])
    summary = metrics.summarise(jax.device_get(out), criterion="cosine")
    assert summary["success_rate"] == summary["cosine_rate"] == np.mean(np.r_[ref > min_cosine, False])


def test_a_state_exactly_at_min_cosine_fails():
    patterns = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    state = jnp.array([[1.0, 0.0], [0.6, 0.8]])  # cos = 1 and cos = 0.6 exactly with pattern 0
    out = _scorer(patterns, 0.6)(state, jnp.ones(2, jnp.int32), jnp.ones(2, bool), jnp.zeros((2, 2)),
                                 jnp.zeros(2, jnp.int32), jnp.ones(2, bool))
    assert np.asarray(out["cosine_rate"]).tolist() == [True, False]


IMG = {"n_memories": 4, "n_queries": 4, "noise_kind": "gaussian", "noise_level": 0.1}


@pytest.mark.parametrize("criterion, key, value", [
    ("nearest", "min_cosine", 0.8), ("threshold", "min_cosine", 0.8), ("cosine", "threshold", 60.0),
    ("nearest", "threshold", 60.0), ("cosine", "max_wrong", 0.05), ("nearest", "max_wrong", 0.0)])
def test_a_setting_of_another_criterion_is_refused(criterion, key, value):
    with pytest.raises(ConfigError, match=f"{key}=.* is used only with criterion=.*drop {key} or set criterion"):
        resolve_cell("capacity", "sparse-hopfield", "mnist-5k", 0, {**IMG, "criterion": criterion, key: value})


def test_bits_settings_on_binary_data_and_defaults_anywhere_are_accepted():
    base = {"n_memories": 4, "n_queries": 4, "dim": 16, "noise_kind": "flip", "noise_level": 0.1}
    auto = resolve_cell("noise", "chn", "random", 0, {**base, "max_wrong": 0.05})  # auto -> bits reads it
    assert auto["criterion"] == "bits" and auto["max_wrong"] == 0.05
    with pytest.raises(ConfigError, match="max_wrong=0.05 is used only with criterion=bits"):
        resolve_cell("noise", "chn", "random", 0, {**base, "max_wrong": 0.05, "criterion": "exact"})
    for crit in ("nearest", "threshold", "cosine"):  # a setting given for another criterion is refused, the
        settings = {"threshold": 50.0, "max_wrong": 0.015, "min_cosine": 0.9}  # default value included
        own = {"threshold": "threshold", "cosine": "min_cosine"}.get(crit)
        resolve_cell("capacity", "sparse-hopfield", "mnist-5k", 0,
                     {**IMG, "criterion": crit, **({own: settings[own]} if own else {})})
        for key in set(settings) - {own}:
            with pytest.raises(ConfigError, match=f"{key}=.* is used only with criterion="):
                resolve_cell("capacity", "sparse-hopfield", "mnist-5k", 0, {**IMG, "criterion": crit, key: settings[key]})
    cell = resolve_cell("capacity", "sparse-hopfield", "mnist-5k", 0, {**IMG, "criterion": "cosine", "min_cosine": 0.5})
    assert cell["min_cosine"] == 0.5


def test_min_cosine_is_declared_with_a_range():
    with pytest.raises(ConfigError):
        resolve_cell("capacity", "sparse-hopfield", "mnist-5k", 0, {**IMG, "criterion": "cosine", "min_cosine": 1.0})


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_mean_energy_trace_holds_stopped_queries_at_their_final_energy(b, t, seed):
    """Queries stop at different steps: the mean trace holds each at its last energy, so monotone
    traces give a monotone mean (averaging only the queries still running could rise)."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(1, t + 1, b)
    traces = np.cumsum(-rng.random((b, t)), axis=1) + rng.normal(size=(b, 1)) * 10
    energies = np.where(np.arange(t) < steps[:, None], traces, np.nan)
    mean = metrics.mean_energy_trace(np.vstack([energies, np.full((1, t), np.nan)]))  # + a query with no energy
    held = np.array([[traces[i, min(j, steps[i] - 1)] for j in range(steps.max())] for i in range(b)])
    np.testing.assert_allclose(mean, held.mean(axis=0), rtol=1e-12, atol=1e-12)
    assert len(mean) == steps.max() and np.all(np.diff(mean) <= 1e-12)
    assert metrics.mean_energy_trace(np.full((2, t), np.nan)) == []


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(2, 7), st.integers(1, 9), st.integers(0, 2**31 - 1))
def test_nearest_in_each_similarity_is_the_argmax_of_that_similarity(b, k, d, seed):
    from ambench.models._universal import uhn_similarity

    rng = np.random.default_rng(seed)
    states, patterns = rng.random((b, d)).astype(np.float32), rng.random((k, d)).astype(np.float32) + 0.01
    expect = {"l2": np.argmin(((states[:, None] - patterns[None]) ** 2).sum(-1), 1),
              "manhattan": np.argmin(np.abs(states[:, None] - patterns[None]).sum(-1), 1),
              "dot": np.argmax(states @ patterns.T, 1),
              "normalised-dot": np.array([int(np.argmax(uhn_similarity(patterns, s, "dot"))) for s in states])}
    for sim, want in expect.items():
        got = np.asarray(metrics.nearest_index(jnp.asarray(states), jnp.asarray(patterns), similarity=sim))
        assert np.array_equal(got, want), (sim, got, want)
    with pytest.raises(ValueError, match="similarity must be"):
        metrics.nearest_index(jnp.asarray(states), jnp.asarray(patterns), similarity="cosine")


@pytest.mark.parametrize("model, params, own", [
    ("uhn", {"similarity": "dot"}, "normalised-dot"), ("uhn", {"similarity": "manhattan"}, "manhattan"),
    ("uhn", {"similarity": "euclidean"}, "l2"), ("uhn", {"similarity": "raw-dot"}, "dot"),
    ("dam-softmax", {"similarity": "dot"}, "dot"),
    ("dam-softmax", {}, "l2"), ("sparse-hopfield", {}, "dot"), ("chn", {}, "l2")])
def test_the_scorer_uses_the_models_own_similarity(model, params, own):
    from ambench import protocol

    dataset = "random" if model == "chn" else "mnist-5k"
    cell = resolve_cell("noise", model, dataset, 0, {**params, "n_memories": 4, "n_queries": 4,
                                                     **({"dim": 16} if dataset == "random" else {})})
    prep = protocol.prepare(cell)
    name = lambda s: s if isinstance(s, str) else metrics.NEAREST_SIMILARITIES[int(s)]  # noqa: E731  (an index: uhn)
    assert name(prep.scorer.own_similarity) == own == name(prep.model.own_similarity)
    out = protocol.measure_retrieval(cell)
    assert 0 <= out["own_nearest_rate"] <= 1


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), b=st.integers(1, 9), k=st.integers(2, 40), d=st.integers(1, 30))
def test_a_run_time_own_similarity_scores_as_its_name(seed, b, k, d):
    """The scorer with its own similarity as an index (one program for every similarity) gives
    every per-query outcome equal to the scorer with the name compiled in."""
    rng = np.random.default_rng(seed)
    patterns = jnp.asarray(rng.random((k, d)), jnp.float32)
    state = jnp.asarray(rng.random((b, d)), jnp.float32)
    target = jnp.asarray(rng.integers(0, k, b), jnp.int32)
    mask = jnp.asarray(np.arange(k) < max(1, k - 2))
    args = (state, jnp.ones(b, jnp.int32), jnp.ones(b, bool), jnp.full((b, 2), jnp.nan), target, jnp.ones(b, bool))
    run = eqx.filter_jit(lambda scorer, *a: scorer(*a))
    for i, name in enumerate(metrics.NEAREST_SIMILARITIES):
        scorers = [metrics.Scorer(patterns=patterns, mask=mask, max_wrong=jnp.float32(0.015), threshold=jnp.float32(50),
                                  binary=False, own_similarity=own) for own in (name, jnp.int32(i))]
        by_name, by_index = (jax.device_get(run(s, *args)) for s in scorers)
        for key in by_name:
            np.testing.assert_array_equal(by_name[key], by_index[key], err_msg=f"{name}: {key}")
        np.testing.assert_array_equal(metrics.nearest_index(state, patterns, similarity=name, mask=mask),
                                      jax.jit(metrics.nearest_index)(state, patterns, similarity=jnp.int32(i), mask=mask))
