"""Models: each fast path equals the plain rule or the general descent; Lyapunov; fixed points."""

import jax
import jax.numpy as jnp
import numpy as np
import re

import pytest
from jaxtyping import TypeCheckError
from hypothesis import given, settings, strategies as st

from ambench import energy as E
from ambench import models as M


def pm1(key, shape):
    return jnp.where(jax.random.bernoulli(key, 0.5, shape), 1.0, -1.0)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 40), d=st.integers(2, 30),
       kind=st.sampled_from(["power", "rectified"]), n=st.integers(2, 4))
@pytest.mark.slow
def test_incremental_async_sweep_equals_textbook_rule(seed, k, d, kind, n):
    key1, key2, key3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    model = M.DiscreteDAM(pm1(key1, (k, d)), kind=kind, n=n)
    s, order = pm1(key2, (d,)), jax.random.permutation(key3, d)
    np.testing.assert_array_equal(model.sweep(s, order), M.textbook_sweep(model, s, order))


@pytest.mark.parametrize("seed, k, d, beta", [(0, 200, 60, 0.3), (1, 50, 60, 0.3), (2, 300, 200, 1.0),
                                               (3, 1000, 784, 1.0), (4, 100, 100, 3.0)])
@pytest.mark.slow
def test_incremental_exponential_sweep_equals_textbook_rule(seed, k, d, beta):
    key1, key2, key3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    model = M.DiscreteDAM(pm1(key1, (k, d)), kind="exp", beta=beta)
    s, order = pm1(key2, (d,)), jax.random.permutation(key3, d)
    np.testing.assert_array_equal(model.sweep(s, order), M.textbook_sweep(model, s, order))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 20), d=st.integers(2, 40))
@pytest.mark.slow
def test_chn_async_is_the_hebbian_rule_with_zero_diagonal(seed, k, d):
    key1, key2 = jax.random.split(jax.random.PRNGKey(seed))
    chn = M.HebbianCHN(pm1(key1, (k, d)), order="fixed", max_sweeps=1)
    s = pm1(key2, (d,))
    w = np.asarray(chn.weights)
    assert np.allclose(np.diag(w), 0)
    ref = np.asarray(s).copy()
    for i in range(d):
        h = w[i] @ ref
        ref[i] = 1.0 if h > 1e-6 else (-1.0 if h < -1e-6 else ref[i])
    np.testing.assert_array_equal(chn.retrieve_one(s, key=key2).state, ref)


@jax.jit
def _both_chn_sweeps(xi, mask, s, order):
    coupling = (xi.T @ xi) * (1 - jnp.eye(xi.shape[1]))
    general = M.DiscreteDAM(xi, kind="power", n=2, mask=mask).sweep(s, order)
    return M.HebbianCHN(xi, mask=mask).event_sweep(s, order, coupling), general


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 48), d=st.sampled_from([4, 9, 40]))
@pytest.mark.slow
def test_event_driven_chn_sweep_equals_the_general_sweep(seed, k, d):
    """Visiting only the units that flip (fields from J = ΞᵀΞ) = visiting every unit (DAM, F = x²),
    with K real patterns among 48 rows (the rest zero padding, masked)."""
    key1, key2, key3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    mask = jnp.arange(48) < k
    xi = jnp.where(mask[:, None], pm1(key1, (48, d)), 0.0)
    fast, general = _both_chn_sweeps(xi, mask, pm1(key2, (d,)), jax.random.permutation(key3, d))
    np.testing.assert_array_equal(fast, general)


@pytest.mark.parametrize("k, d", [(30, 100), (200, 784)])
@pytest.mark.slow
def test_event_driven_chn_retrieval_equals_the_general_path(k, d):
    key1, key2, key3 = jax.random.split(jax.random.PRNGKey(k), 3)
    xi = pm1(key1, (k, d))
    queries = xi[:20] * jnp.where(jax.random.bernoulli(key2, 0.2, (20, d)), -1.0, 1.0)
    chn = M.HebbianCHN(xi)
    assert chn._event_driven()
    fast = M.retrieve(chn, queries, key=key3)
    general = M.retrieve(M.DiscreteDAM(xi, kind="power", n=2), queries, key=key3)
    for field in ("state", "steps", "converged"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(general, field))


@pytest.mark.parametrize("kind", ["dot", "l2"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), beta=st.floats(0.1, 5.0))
@pytest.mark.slow
def test_softmax_update_is_one_euler_step_of_the_energy_descent(kind, seed, beta):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    dam = M.ContinuousDAM(jax.random.normal(k1, (30, 16)), beta=beta, similarity=kind)
    x = jax.random.normal(k2, (16,))
    fast = M.softmax_update(dam.memories, x, beta=beta, kind=kind)
    general = E.descend(dam.as_ham(), {"visible": x}, dt=1.0, max_steps=1, tol=0.0).states["visible"]
    np.testing.assert_allclose(fast, general, rtol=1e-4, atol=1e-5)


def test_l2_dam_energy_is_the_logsumexp_of_distances():
    key = jax.random.PRNGKey(0)
    dam = M.ContinuousDAM(jax.random.normal(key, (12, 5)), beta=0.7, similarity="l2")
    x = jax.random.normal(jax.random.PRNGKey(1), (5,))
    expected = -jax.nn.logsumexp(-0.7 / 2 * jnp.sum((dam.memories - x) ** 2, axis=1)) / 0.7
    np.testing.assert_allclose(dam.energy(x), expected, rtol=1e-5)


def _models(key):
    k1, k2, k3 = jax.random.split(key, 3)
    xi = pm1(k1, (12, 64))
    images = jax.random.uniform(k2, (20, 64))
    return {
        "chn-async": (M.HebbianCHN(xi), xi),
        "dam-power3": (M.DiscreteDAM(pm1(k1, (150, 64)), n=3), pm1(k1, (150, 64))),
        "dam-rectified": (M.DiscreteDAM(pm1(k1, (150, 64)), kind="rectified", n=3), pm1(k1, (150, 64))),
        "dam-exp": (M.DiscreteDAM(pm1(k1, (300, 64)), kind="exp"), pm1(k1, (300, 64))),
        "cdam-dot": (M.ContinuousDAM(images, beta=2.0, similarity="dot"), images),
        "cdam-l2": (M.ContinuousDAM(images, beta=2.0, similarity="l2"), images),
        "cdam-flow": (M.ContinuousDAM(images, beta=2.0, method="flow", max_steps=100), images),
        "chn-continuous": (M.ContinuousCHN(xi), xi),
        "conv-ham": (M.ConvHAM(images, image_shape=(1, 8, 8), key=k3), images),
        "conditional-ham": (M.ConditionalHAM.from_pairs(images, jnp.arange(20) % 4, n_classes=4), images),
    }


@pytest.mark.parametrize("name", sorted(_models(jax.random.PRNGKey(0))))
@pytest.mark.slow
def test_energy_never_increases_at_the_default_step(name):
    model, patterns = _models(jax.random.PRNGKey(0))[name]
    key = jax.random.PRNGKey(7)
    noise = jax.random.normal(key, (8, patterns.shape[1]))
    queries = jnp.sign(patterns[:8] + 1.5 * noise) if name.startswith(("chn", "dam")) else patterns[:8] + 0.5 * noise
    out = M.retrieve(model, queries, key=key)
    for trace in out.energies:
        trace = trace[~jnp.isnan(trace)]
        assert trace.size >= 1
        assert jnp.all(jnp.diff(trace) <= 1e-5 * (1 + jnp.abs(trace[:-1]))), trace


@pytest.mark.slow
def test_stored_patterns_are_fixed_points_below_capacity():
    key = jax.random.PRNGKey(3)
    xi = pm1(key, (5, 200))  # load 0.025, far below 0.138: every pattern is stable
    out = M.retrieve(M.HebbianCHN(xi), xi, key=key)
    assert jnp.array_equal(out.state, xi) and jnp.all(out.steps == 0) and jnp.all(out.converged)
    xi = pm1(key, (400, 100))  # n = 5 at N = 100 stores far more than 400 patterns perfectly
    out = M.retrieve(M.DiscreteDAM(xi, n=5), xi, key=key)
    assert jnp.array_equal(out.state, xi) and jnp.all(out.steps == 0)


def test_softmax_dam_converges_in_one_step_for_separated_patterns():
    xi = pm1(jax.random.PRNGKey(4), (50, 256))
    q = xi[:10] * jnp.where(jax.random.uniform(jax.random.PRNGKey(5), (10, 256)) < 0.2, -1.0, 1.0)
    out = M.retrieve(M.ContinuousDAM(xi, beta=1.0, similarity="dot"), q, key=jax.random.PRNGKey(0))
    np.testing.assert_allclose(out.state, xi[:10], atol=1e-4)
    assert jnp.all(out.steps == 1)


def test_sync_chn_two_cycle_is_reported_not_converged():
    xi = jnp.array([[1.0, 1.0, 1.0, 1.0]])
    out = M.HebbianCHN(xi, update="sync", max_sweeps=6).retrieve_one(jnp.array([1.0, -1.0, 1.0, -1.0]), key=None)
    assert not bool(out.converged)


@pytest.mark.slow
def test_conditional_ham_classifies_and_generates_its_memories():
    key = jax.random.PRNGKey(8)
    images = jax.random.uniform(key, (12, 30))
    labels = jnp.arange(12) % 3
    ham = M.ConditionalHAM.from_pairs(images, labels, n_classes=3, label_strength=2.0)
    assert [int(ham.classify(im).argmax()) for im in images] == labels.tolist()
    gen = ham.generate(jnp.array(1))
    nearest = jnp.argmin(jnp.sum((images - gen) ** 2, axis=1))
    assert int(labels[nearest]) == 1


@pytest.mark.slow
def test_training_lowers_the_classification_loss():
    key = jax.random.PRNGKey(9)
    images = jax.random.uniform(key, (60, 20))
    labels = (images[:, 0] > 0.5).astype(jnp.int32)  # a rule the memories must learn
    ham = M.ConditionalHAM.from_pairs(images[:6], labels[:6], n_classes=2, max_steps=10)
    _, losses = M.train_classifier(ham, images, labels, key=key, steps=40, batch_size=16, learning_rate=3e-2)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: M.HebbianCHN(jnp.ones((3, 4), jnp.int32)), TypeError, "floating"),
        (lambda: M.HebbianCHN(jnp.full((3, 4), 0.5)), ValueError, "±1"),
        (lambda: M.HebbianCHN(jnp.ones(4)), ValueError, "2-D"),
        (lambda: M.DiscreteDAM(jnp.ones((3, 4)), kind="cubic"), ValueError, "kind"),
        (lambda: M.DiscreteDAM(jnp.ones((3, 4)), n=0), ValueError, "n must"),
        (lambda: M.HebbianCHN(jnp.ones((3, 4)), update="parallel"), ValueError, "update"),
        (lambda: M.ContinuousDAM(jnp.ones((3, 4)), beta=0.0), ValueError, "beta"),
        (lambda: M.ContinuousDAM(jnp.ones((3, 4)), similarity="cos"), ValueError, "similarity"),
        (lambda: M.ContinuousDAM(jnp.ones((3, 4)), dt=2.0), ValueError, "dt"),
        (lambda: M.UniversalHopfield(jnp.ones((3, 4)), similarity="cos"), ValueError, "similarity must be one of"),
        (lambda: M.UniversalHopfield(jnp.ones((3, 4)), separation="cubic"), ValueError, "separation must be one of"),
        (lambda: M.ConvHAM(jnp.ones((3, 10)), image_shape=(1, 3, 3), key=jax.random.PRNGKey(0)), ValueError, "image_shape"),
    ],
)
def test_bad_model_input_names_the_parameter(build, error, message):
    """As for the energy modules: the model's message, or the run-time type check's, names it."""
    with pytest.raises((error, TypeCheckError)) as err:
        build()
    assert re.search(message, str(err.value)) or "parameter" in str(err.value)


@pytest.mark.parametrize("kind", ["dot", "l2"])
@pytest.mark.parametrize("chunk", [16, 64])
@pytest.mark.slow
def test_chunked_online_softmax_equals_the_full_softmax(kind, chunk):
    key = jax.random.PRNGKey(11)
    mem = jax.random.normal(key, (128, 32)) / 4
    q = jax.random.normal(jax.random.fold_in(key, 1), (8, 32)) / 4
    full = M.softmax_retrieval(mem, q, beta=3.0, steps=3, similarity=kind, precision="fp32")
    chunked = M.softmax_retrieval(mem, q, beta=3.0, steps=3, similarity=kind, precision="fp32", chunk=chunk)
    np.testing.assert_allclose(chunked, full, rtol=1e-5, atol=1e-6)
    step = jax.vmap(lambda x: M.softmax_update(mem, x, beta=3.0, kind=kind))
    np.testing.assert_allclose(full, step(step(step(q))), rtol=1e-5, atol=1e-6)
    bf16 = M.softmax_retrieval(mem, q, beta=3.0, steps=3, similarity=kind, precision="bf16", chunk=chunk)
    assert float(jnp.linalg.norm(bf16 - full) / jnp.linalg.norm(full)) < 2e-2


def test_chunk_must_divide_k():
    with pytest.raises(ValueError, match="chunk"):
        M.softmax_retrieval(jnp.ones((10, 4)), jnp.ones((2, 4)), beta=1.0, steps=1, chunk=3)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 30), d=st.integers(2, 24), pad=st.integers(0, 5),
       kind=st.sampled_from(["power", "rectified", "exp"]), n=st.integers(2, 4), beta=st.sampled_from([0.2, 1.0]))
@pytest.mark.slow
def test_discrete_fast_sweeps_are_the_synapse_energys_own_minimisation(seed, k, d, pad, kind, n, beta):
    """The incremental DAM sweep and the event-driven CHN sweep flip exactly the units that
    single-unit minimisation of E = −Σ F(ξ·s), an energy/ hypersynapse, flips (padding included)."""
    key1, key2, key3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    xi = pm1(key1, (k, d))
    mask = jnp.arange(k + pad) < k
    xi_padded = jnp.concatenate([xi, jnp.zeros((pad, d))])
    s, order = pm1(key2, (d,)), jax.random.permutation(key3, d)
    synapse = E.InteractionSynapse(xi, kind=kind, n=n, beta=beta)
    reference = E.async_minimise(synapse, s, order)
    fast = M.DiscreteDAM(xi_padded, kind=kind, n=n, beta=beta, mask=mask).sweep(s, order)
    np.testing.assert_array_equal(fast, reference)
    assert synapse(reference) <= synapse(s) + 1e-6 * (1 + abs(float(synapse(s))))  # flips only lower E
    if kind == "power" and n == 2:
        coupling = (xi.T @ xi) * (1 - jnp.eye(d))
        np.testing.assert_array_equal(M.HebbianCHN(xi).event_sweep(s, order, coupling), reference)


@pytest.mark.parametrize("kind, n", [("power", 3), ("rectified", 3), ("exp", 2)])
@pytest.mark.slow
def test_discrete_energy_never_rises_along_the_fixed_point_loop(kind, n):
    xi = pm1(jax.random.PRNGKey(5), (40, 50))
    q = xi[:8] * jnp.where(jax.random.uniform(jax.random.PRNGKey(6), (8, 50)) < 0.3, -1.0, 1.0)
    out = M.retrieve(M.DiscreteDAM(xi, kind=kind, n=n, beta=0.5, max_sweeps=30), q, key=jax.random.PRNGKey(7))
    e = np.asarray(out.energies)
    for row, steps in zip(e, np.asarray(out.steps)):
        trace = row[: steps + 1]
        assert np.all(np.isfinite(trace)) and np.all(np.isnan(row[steps + 1:]))
        assert np.all(np.diff(trace) <= 1e-5 * (1 + np.abs(trace).max()))


def _sparse_model(**kwargs):
    from ambench.models._sparse import SparseHopfield

    return SparseHopfield(jnp.ones((3, 4)), **kwargs)


@pytest.mark.parametrize("build, params, attr, field", [
    (lambda v: M.DiscreteDAM(jnp.ones((3, 4)), n=v), "DAMParams", "n", "n"),
    (lambda v: M.DiscreteDAM(jnp.ones((3, 4)), kind="exp", beta=v), "DAMParams", "beta", "beta"),
    (lambda v: M.HebbianCHN(jnp.ones((3, 4)), max_sweeps=v), "CHNParams", "max_sweeps", "max_sweeps"),
    (lambda v: M.ContinuousDAM(jnp.ones((3, 4)), dt=v), "SoftmaxDAMParams", "dt", "dt"),
    (lambda v: M.ContinuousCHN(jnp.ones((3, 4)), beta=v), "ContinuousCHNParams", "beta", "beta"),
    (lambda v: _sparse_model(max_steps=v), "SparseHopfieldParams", "max_steps", "max_steps"),
    (lambda v: M.UniversalHopfield(jnp.ones((3, 4)), beta=v), "UHNParams", "beta", "beta"),
])
def test_a_model_checks_its_inputs_by_its_params_declaration(build, params, attr, field):
    """The model classes, used without Params, check ranges from the one declaration: each bound
    of the Params field is accepted, the value past it refused in one line naming the attribute."""
    from ambench.models import _continuous, _discrete, _hams, _sparse, _universal

    modules = (_continuous, _discrete, _hams, _sparse, _universal)
    declared = next(getattr(m, params) for m in modules if hasattr(m, params))
    info = declared.model_fields[field]
    bounds = [(k, getattr(m, k)) for m in info.metadata for k in ("gt", "ge", "lt", "le") if hasattr(m, k)]
    assert bounds
    step = 1 if info.annotation is int else 1e-3
    for kind, bound in bounds:
        bound = bound if info.annotation is int else float(bound)
        inside, outside = {"ge": (bound, bound - step), "gt": (bound + step, bound),
                           "le": (bound, bound + step), "lt": (bound - step, bound)}[kind]
        owner = type(build(inside)).__name__
        with pytest.raises(ValueError, match=rf"^{owner}: {attr} must be .*, got ") as err:
            build(outside)
        assert "\n" not in str(err.value)
