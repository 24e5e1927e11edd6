"""Physics of the energy framework: activation = ∇L, ∂E/∂x̂ = x, Lyapunov descent."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import re

import pytest
from jaxtyping import TypeCheckError
from hypothesis import given, settings, strategies as st

from ambench import energy as E

LAGRANGIANS = {
    "identity": E.Identity(),
    "relu": E.ReLU(),
    "repu3": E.RePU(n=3),
    "sigmoid": E.Sigmoid(beta=2.0),
    "tanh": E.Tanh(beta=1.5),
    "softmax": E.Softmax(beta=3.0),
    "layernorm": E.LayerNorm(gamma=1.3, delta=0.2),
    "spherical": E.SphericalNorm(),
}
EXPLICIT_ACTIVATIONS = {
    "identity": lambda x: x,
    "relu": jax.nn.relu,
    "repu3": lambda x: jax.nn.relu(x) ** 2,
    "sigmoid": lambda x: jax.nn.sigmoid(2.0 * x),
    "tanh": lambda x: jnp.tanh(1.5 * x),
    "softmax": lambda x: jax.nn.softmax(3.0 * x),
    "layernorm": lambda x: 1.3 * (x - x.mean()) / jnp.sqrt(x.var() + 1e-5) + 0.2,
    "spherical": lambda x: x / jnp.sqrt(jnp.sum(x**2) + 1e-5),
}

vectors = st.integers(min_value=0, max_value=2**31 - 1).map(
    lambda seed: 2.0 * jax.random.normal(jax.random.PRNGKey(seed), (7,))
)


@pytest.mark.parametrize("name", sorted(LAGRANGIANS))
@settings(max_examples=15, deadline=None)
@given(x=vectors)
def test_activation_is_the_gradient_of_the_lagrangian(name, x):
    lag = LAGRANGIANS[name]
    np.testing.assert_allclose(lag.activation(x), EXPLICIT_ACTIVATIONS[name](x), rtol=1e-4, atol=1e-5)
    # and a finite-difference check that the explicit formula is indeed the gradient
    eps, i = 1e-2, 3
    e = jnp.zeros_like(x).at[i].set(eps)
    fd = (lag(x + e) - lag(x - e)) / (2 * eps)
    np.testing.assert_allclose(fd, lag.activation(x)[i], rtol=2e-2, atol=2e-3)


@pytest.mark.parametrize("name", sorted(LAGRANGIANS))
@settings(max_examples=15, deadline=None)
@given(x=vectors)
def test_legendre_energy_gradient_is_the_state(name, x):
    layer = E.NeuronLayer(LAGRANGIANS[name], 7)
    xhat = layer.activation(x)
    np.testing.assert_allclose(jax.grad(layer.energy)(xhat, x), x, rtol=1e-6)


def test_legendre_energy_value():
    x = jnp.array([0.3, -1.2, 2.0])
    layer = E.NeuronLayer(E.Sigmoid(beta=1.0), 3)
    xhat = layer.activation(x)
    assert jnp.allclose(layer.energy(xhat, x), xhat @ x - jnp.sum(jax.nn.softplus(x)))


def test_stable_lagrangians_do_not_overflow():
    x = jnp.array([1e4, -1e4, 0.0])
    for lag in (E.Sigmoid(beta=10.0), E.Tanh(beta=10.0), E.Softmax(beta=10.0)):
        assert jnp.isfinite(lag(x)) and jnp.all(jnp.isfinite(lag.activation(x)))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: E.RePU(n=1), "degree n"),
        (lambda: E.Sigmoid(beta=0.0), "beta"),
        (lambda: E.Tanh(beta=-1.0), "beta"),
        (lambda: E.Softmax(beta=0), "beta"),
        (lambda: E.LayerNorm(gamma=0.0), "gamma"),
        (lambda: E.SphericalNorm(eps=-1.0), "eps"),
        (lambda: E.NeuronLayer(E.Identity(), (0, 3)), "shape"),
        (lambda: E.MemorySynapse(jnp.ones((3, 2)), 1.0, "cosine"), "similarity"),
        (lambda: E.MemorySynapse(jnp.ones((3, 2)), -1.0, "dot"), "beta"),
    ],
)
def test_bad_parameters_name_the_parameter(build, message):
    """The module's own check names the parameter; under the tests' run-time type checking
    (jaxtyping + beartype) a wrong type or choice is caught first, also naming it."""
    with pytest.raises((ValueError, TypeCheckError)) as err:
        build()
    assert re.search(message, str(err.value)) or "parameter" in str(err.value)


def test_hypergraph_rejects_unknown_layers():
    with pytest.raises(ValueError, match="unknown layers"):
        E.HAM({"a": E.NeuronLayer(E.Identity(), 2)}, {"s": E.BiasSynapse(jnp.ones(2))}, {"s": ("b",)})


def _random_ham(key):
    """Three layers, every synapse kind: image (1,6,6) -conv- features (2,3,3) -dense- memory."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    conv = E.ConvSynapse(0.3 * jax.random.normal(k1, (2, 1, 3, 3)), stride=2, padding="SAME")
    return E.HAM(
        layers={
            "image": E.NeuronLayer(E.Sigmoid(beta=1.0), (1, 6, 6)),
            "features": E.NeuronLayer(E.Tanh(beta=1.0), (2, 3, 3)),
            "memory": E.NeuronLayer(E.Softmax(beta=2.0), 5),
            "label": E.NeuronLayer(E.RePU(n=3), 4),
        },
        synapses={
            "conv": conv,
            "recall": E.DenseSynapse(0.3 * jax.random.normal(k2, (18, 5))),
            "bias": E.BiasSynapse(0.1 * jax.random.normal(k3, (5,))),
            "label_memory": E.DenseSynapse(0.3 * jax.random.normal(k4, (4, 5))),
            "memory": E.MemorySynapse(jax.random.normal(k4, (3, 4)), 1.0, "l2"),
        },
        connections={
            "conv": ("image", "features"),
            "recall": ("features", "memory"),
            "bias": ("memory",),
            "label_memory": ("label", "memory"),
            "memory": ("label",),
        },
    )


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
@pytest.mark.slow
def test_energy_never_increases_along_the_integrator(seed):
    ham = _random_ham(jax.random.PRNGKey(seed))
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), 4)
    xs = {n: jax.random.normal(k, layer.shape) for (n, layer), k in zip(ham.layers.items(), keys)}
    out = jax.jit(lambda xs: E.descend(ham, xs, dt=0.05, max_steps=200, tol=1e-5))(xs)
    trace = out.energies[: int(out.steps) + 1]
    assert jnp.all(jnp.isfinite(trace))
    assert jnp.all(jnp.diff(trace) <= 1e-5 * (1 + jnp.abs(trace[:-1])))
    assert trace[-1] < trace[0]


@pytest.mark.slow
def test_clamped_units_do_not_move():
    ham = _random_ham(jax.random.PRNGKey(0))
    xs = {n: jax.random.normal(jax.random.PRNGKey(i), layer.shape) for i, (n, layer) in enumerate(ham.layers.items())}
    mask = jnp.zeros((1, 6, 6), bool).at[0, :3].set(True)
    out = E.descend(ham, xs, dt=0.1, max_steps=30, clamp={"image": mask, "label": True})
    assert jnp.array_equal(out.states["image"][mask], xs["image"][mask])
    assert jnp.array_equal(out.states["label"], xs["label"])
    assert not jnp.array_equal(out.states["image"][~mask], xs["image"][~mask])


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), held=st.sampled_from(["image", "label", "features"]))
@pytest.mark.slow
def test_a_held_layer_is_a_constant_of_the_descent(seed, held):
    """clamp={layer: True} (no gradient formed for that layer) = an all-True mask (the general
    path: gradient formed, then zeroed): same states, steps and energies."""
    ham = _random_ham(jax.random.PRNGKey(seed))
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), 4)
    xs = {n: jax.random.normal(k, layer.shape) for (n, layer), k in zip(ham.layers.items(), keys)}
    mask = jnp.ones(ham.layers[held].shape, bool)
    fast = jax.jit(lambda xs: E.descend(ham, xs, dt=0.05, max_steps=60, tol=1e-5, clamp={held: True}))(xs)
    general = jax.jit(lambda xs, mask: E.descend(ham, xs, dt=0.05, max_steps=60, tol=1e-5, clamp={held: mask}))(xs, mask)
    assert int(fast.steps) == int(general.steps)
    for n in xs:
        np.testing.assert_allclose(fast.states[n], general.states[n], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast.energies, general.energies, rtol=1e-5, atol=1e-5)
    assert jnp.array_equal(fast.states[held], xs[held])


@pytest.mark.slow
def test_descend_compiles_once_and_batches():
    ham = _random_ham(jax.random.PRNGKey(1))
    batch = {n: jax.random.normal(jax.random.PRNGKey(2), (3, *layer.shape)) for n, layer in ham.layers.items()}
    traces = []

    @jax.jit
    def run(xs):
        traces.append(1)
        return jax.vmap(lambda x: E.descend(ham, x, dt=0.05, max_steps=50))(xs)

    a = run(batch)
    b = run(jax.tree_util.tree_map(lambda x: x + 0.1, batch))
    assert len(traces) == 1 and a.steps.shape == (3,) and b.energies.shape == (3, 51)
    one = E.descend(ham, {n: x[1] for n, x in batch.items()}, dt=0.05, max_steps=50)
    np.testing.assert_allclose(one.states["memory"], a.states["memory"][1], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_differentiable_descent_equals_the_while_loop():
    ham = _random_ham(jax.random.PRNGKey(3))
    xs = {n: jax.random.normal(jax.random.PRNGKey(4), layer.shape) for n, layer in ham.layers.items()}
    a = E.descend(ham, xs, dt=0.05, max_steps=40, tol=1e-3)
    b = E.descend(ham, xs, dt=0.05, max_steps=40, tol=1e-3, differentiable=True)
    assert int(a.steps) == int(b.steps) and bool(a.converged) == bool(b.converged)
    for n in xs:
        np.testing.assert_allclose(a.states[n], b.states[n], rtol=1e-6, atol=1e-6)
    g = jax.grad(lambda h: E.descend(h, xs, dt=0.05, max_steps=10, differentiable=True).states["label"].sum())
    grads = g(ham)
    assert jnp.any(eqx.filter(grads, eqx.is_inexact_array).synapses["label_memory"].weight != 0)


@pytest.mark.slow  # a compilation per drawn shape
@settings(max_examples=6, deadline=None)
@given(k=st.integers(2, 60), d=st.integers(2, 40), steps=st.integers(1, 30), seed=st.integers(0, 2**31 - 1),
       clamped=st.booleans())
def test_descend_without_its_trace_moves_the_same(k, d, steps, seed, clamped):
    """trace=False forms no energy: the same states (to float32 rounding: the program without the
    energy fuses differently, so XLA may round one element differently), steps, convergence and
    final energy; the conditional HAM (image clamped) and the free one alike."""
    from ambench.models import ConditionalHAM

    key = jax.random.PRNGKey(seed)
    images = jax.random.uniform(key, (k, d))
    ham = ConditionalHAM.from_pairs(images, jnp.arange(k) % 3, n_classes=3, max_steps=steps).as_ham()
    xs = ham.init_states(jnp.float32) | {"image": jax.random.uniform(jax.random.fold_in(key, 1), (d,))}
    clamp = {"image": True} if clamped else None
    run = jax.jit(lambda xs, trace: E.descend(ham, xs, dt=0.1, max_steps=steps, tol=1e-4, clamp=clamp, trace=trace),
                  static_argnums=1)
    on, off = run(xs, True), run(xs, False)
    for name in xs:
        np.testing.assert_allclose(np.asarray(off.states[name]), np.asarray(on.states[name]), rtol=1e-6, atol=1e-7)
    assert int(off.steps) == int(on.steps) and bool(off.converged) == bool(on.converged)
    last = int(on.steps) + int(on.converged)
    np.testing.assert_allclose(float(off.energies[last]), float(on.energies[last]), rtol=1e-6)
    assert np.all(np.isnan(np.asarray(off.energies[:last])))


def _fixed_vs_stopping(ham, xs, *, dt, steps, clamp, trace):
    """descend with tol = 0 by its fixed-step path and by the stopping loop, batched with vmap."""
    run = jax.jit(lambda xs, fixed: jax.vmap(lambda x: E.descend(ham, x, dt=dt, max_steps=steps, tol=0.0, clamp=clamp,
                                                                 trace=trace, _fixed_steps=fixed))(xs),
                  static_argnums=1)
    return run(xs, True), run(xs, False)


def _assert_same_trajectory(fast, general):
    for name in general.states:
        np.testing.assert_array_equal(np.asarray(fast.states[name]), np.asarray(general.states[name]))
    np.testing.assert_array_equal(np.asarray(fast.steps), np.asarray(general.steps))
    np.testing.assert_array_equal(np.asarray(fast.converged), np.asarray(general.converged))
    np.testing.assert_array_equal(np.asarray(fast.energies), np.asarray(general.energies))  # NaN where NaN


@pytest.mark.slow  # a compilation per drawn shape
@settings(max_examples=6, deadline=None)
@given(k=st.integers(2, 60), d=st.integers(2, 40), steps=st.integers(1, 40), seed=st.integers(0, 2**31 - 1),
       dt=st.sampled_from([0.1, 0.5, 1.0]), held=st.sampled_from([("image",), ("image", "label"), ()]),
       trace=st.booleans())
def test_fixed_step_descent_equals_the_stopping_loop(k, d, steps, seed, dt, held, trace):
    """tol = 0: max_steps plain steps (no per-example selects) give the stopping loop's states,
    steps to convergence, convergence flags and energies bit for bit, batched as the models run
    it; the energy never increases along the fast path's trace."""
    from ambench.models import ConditionalHAM

    key = jax.random.PRNGKey(seed)
    images = jax.random.uniform(key, (k, d))
    ham = ConditionalHAM.from_pairs(images, jnp.arange(k) % 3, n_classes=3, max_steps=steps).as_ham()
    xs = jax.vmap(lambda im: ham.init_states(jnp.float32) | {"image": im})(
        jax.random.uniform(jax.random.fold_in(key, 1), (4, d)))
    xs["label"] = jax.random.normal(jax.random.fold_in(key, 2), xs["label"].shape)
    fast, general = _fixed_vs_stopping(ham, xs, dt=dt, steps=steps, clamp={n: True for n in held}, trace=trace)
    _assert_same_trajectory(fast, general)
    if trace and dt <= 0.1:
        for row, n in zip(np.asarray(fast.energies), np.asarray(fast.steps)):
            e = row[: n + 1]
            assert np.all(np.diff(e) <= 1e-5 * (1 + np.abs(e[:-1])))


@pytest.mark.slow
def test_fixed_step_descent_counts_the_steps_to_a_motionless_state():
    """With image and label held and dt = 1 the memory layer lands on its fixed point in one step
    (h ← 0 − (0 − v) = v exactly) and the next step moves nothing: both paths stop counting at 1."""
    from ambench.models import ConditionalHAM

    key = jax.random.PRNGKey(7)
    ham = ConditionalHAM.from_pairs(jax.random.uniform(key, (9, 5)), jnp.arange(9) % 3, n_classes=3).as_ham()
    xs = jax.vmap(lambda im: ham.init_states(jnp.float32) | {"image": im})(jax.random.uniform(key, (3, 5)))
    for trace in (True, False):
        fast, general = _fixed_vs_stopping(ham, xs, dt=1.0, steps=20, clamp={"image": True, "label": True}, trace=trace)
        _assert_same_trajectory(fast, general)
        assert np.all(np.asarray(fast.converged)) and np.all(np.asarray(fast.steps) == 1)
