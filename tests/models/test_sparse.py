"""The sparse modern Hopfield model (one file, src/ambench/models/_sparse.py): entmax is the
gradient of its conjugate, the update descends the Fenchel–Young energy, sparsemax is exact."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from ambench import models as M
from ambench.models._sparse import SparseHopfield, entmax, entmax_conjugate, normmax, normmax_conjugate


SEPARATIONS = ["sparsemax", "entmax15", "softmax", "normmax2", "normmax5"]


def sparsemax_by_sorting(z):
    """Martins & Astudillo (2016), the closed form: a reference independent of the bisection."""
    zs = np.sort(z)[::-1]
    cum = np.cumsum(zs)
    k = np.arange(1, len(z) + 1)
    support = k[1 + k * zs > cum].max()
    tau = (cum[support - 1] - 1) / support
    return np.maximum(z - tau, 0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 40), scale=st.sampled_from([0.1, 1.0, 10.0]))
@pytest.mark.slow
def test_sparsemax_equals_the_closed_form_and_entmax_is_a_distribution(seed, k, scale):
    z = scale * jax.random.normal(jax.random.PRNGKey(seed), (k,))
    np.testing.assert_allclose(entmax(z, 2.0), sparsemax_by_sorting(np.asarray(z, np.float64)), atol=2e-6)
    for alpha in (1.0, 1.5, 2.0):
        p = np.asarray(entmax(z, alpha))
        assert np.all(p >= 0) and abs(p.sum() - 1) < 1e-5


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
def test_entmax_is_the_gradient_of_its_conjugate(alpha):
    """Danskin: ∇Ψ*_α = α-entmax, checked against central differences in float64 terms."""
    z = jax.random.normal(jax.random.PRNGKey(1), (12,))
    p = np.asarray(entmax(z, alpha))
    eps = 1e-2
    fd = [(float(entmax_conjugate(z.at[i].add(eps), alpha)) - float(entmax_conjugate(z.at[i].add(-eps), alpha)))
          / (2 * eps) for i in range(12)]
    np.testing.assert_allclose(fd, p, atol=3e-3)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), sep=st.sampled_from(SEPARATIONS),
       beta=st.sampled_from([0.5, 2.0, 8.0]))
@pytest.mark.slow
def test_energy_never_rises_along_retrieval(seed, sep, beta):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    xi = jax.random.normal(k1, (30, 16)) / 4
    q = xi[:6] + 0.3 * jax.random.normal(k2, (6, 16))
    out = M.retrieve(SparseHopfield(xi, beta=beta, separation=sep, max_steps=15), q, key=k2)
    for row, steps in zip(np.asarray(out.energies), np.asarray(out.steps)):
        trace = row[: steps + 1]
        assert np.all(np.isfinite(trace))
        assert np.all(np.diff(trace) <= 1e-5 * (1 + np.abs(trace).max()))


def _normmax_by_optimisation(z, alpha):
    """argmax_p <p, z> - ||p||_alpha over the simplex by a general solver (SLSQP), in float64."""
    from scipy.optimize import minimize

    k = len(z)
    res = minimize(lambda p: -(p @ z) + np.sum(np.abs(p) ** alpha) ** (1 / alpha), np.full(k, 1 / k), method="SLSQP",
                   bounds=[(0, 1)] * k, constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1}],
                   options={"ftol": 1e-12, "maxiter": 500})
    return res.x, -res.fun


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), alpha=st.sampled_from([2.0, 5.0]), scale=st.sampled_from([0.3, 1.0, 3.0]))
@example(seed=1000001, alpha=5.0, scale=1.0)  # an entry at the support edge: a difference quotient missed by 0.026
def test_normmax_is_the_maximiser_and_the_gradient_of_its_conjugate(seed, alpha, scale):
    """Closed form checked two ways: its objective is at least a general solver's optimum (and
    the points agree), and central differences of the conjugate give p (Danskin)."""
    z = np.asarray(scale * np.random.default_rng(seed).normal(size=8), np.float32)
    p = np.asarray(_normmax_jit(jnp.asarray(z), alpha), np.float64)
    assert np.all(p >= 0) and abs(p.sum() - 1) < 1e-5
    ref, best = _normmax_by_optimisation(z.astype(np.float64), alpha)
    value = p @ z - np.sum(p**alpha) ** (1 / alpha)
    assert value >= best - 1e-5
    np.testing.assert_allclose(p, ref, atol=2e-3)
    # Danskin: a central difference of the conjugate is the mean of p_i over the segment (exactly,
    # if p is its gradient); compared with that mean, since p_i ∝ (z_i − τ)^{1/(α−1)} is steep at
    # the edge of the support and a difference quotient is not the gradient at the centre there.
    eps, zj = 1e-2, jnp.asarray(z)
    fd = [(float(_conj_jit(zj.at[i].add(eps), alpha)) - float(_conj_jit(zj.at[i].add(-eps), alpha))) / (2 * eps)
          for i in range(8)]
    ts = np.linspace(-eps, eps, 401)
    along = [np.trapezoid(np.asarray(_along_jit(zj, i, jnp.asarray(ts), alpha), np.float64), ts) / (2 * eps)
             for i in range(8)]
    np.testing.assert_allclose(fd, along, atol=1e-3)


_normmax_jit = jax.jit(normmax, static_argnums=1)
_conj_jit = jax.jit(normmax_conjugate, static_argnums=1)
_along_jit = jax.jit(lambda z, i, ts, alpha: jax.vmap(lambda t: normmax(z.at[i].add(t), alpha)[i])(ts),
                     static_argnums=3)


def test_sparsemax_lands_exactly_on_a_pattern_where_softmax_only_approaches_it():
    xi = jnp.where(jax.random.bernoulli(jax.random.PRNGKey(3), 0.5, (20, 64)), 1.0, -1.0)
    q = xi[:5].at[:, :8].multiply(-1.0)
    sparse = M.retrieve(SparseHopfield(xi, beta=0.2, separation="sparsemax"), q, key=jax.random.PRNGKey(0))
    soft = M.retrieve(SparseHopfield(xi, beta=0.2, separation="softmax"), q, key=jax.random.PRNGKey(0))
    np.testing.assert_array_equal(sparse.state, xi[:5])  # sparse support of size 1: exact
    assert np.max(np.abs(np.asarray(soft.state) - np.asarray(xi[:5]))) > 1e-4


def test_softmax_separation_is_the_dot_product_softmax_dam():
    xi = jax.random.normal(jax.random.PRNGKey(4), (25, 12)) / 3
    q = xi[:4] + 0.2
    a = M.retrieve(SparseHopfield(xi, beta=2.0, separation="softmax"), q, key=jax.random.PRNGKey(0))
    b = M.retrieve(M.ContinuousDAM(xi, beta=2.0, similarity="dot"), q, key=jax.random.PRNGKey(0))
    np.testing.assert_allclose(a.state, b.state, atol=1e-5)


def test_registered_and_measured_as_a_cell():
    from ambench.protocol import measure_retrieval
    from ambench.sweep import resolve_cell

    cell = resolve_cell("noise", "sparse-hopfield", "random", 0, {"dim": 64, "n_memories": 20, "encoding": "binary",
                                                                  "noise_kind": "flip", "noise_level": 0.1,
                                                                  "n_queries": 20, "beta": 0.2})
    out = measure_retrieval(cell)
    assert out["success_rate"] == 1.0 and out["energy_monotone_rate"] == 1.0 and out["exact_rate"] == 1.0


# --- the F11 protocol (Santos et al.'s Hopfield-Fenchel-Young code): exactly 5 updates ---------

_retrieve = eqx.filter_jit(lambda model, q: M.retrieve(model, q, key=jax.random.PRNGKey(0)))
_five_updates = eqx.filter_jit(lambda model, q: jax.lax.fori_loop(0, 5, lambda _, x: jax.vmap(model.update)(x), q))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), sep=st.sampled_from(SEPARATIONS),
       beta=st.sampled_from([0.1, 1.0, 5.0]))
@pytest.mark.slow
def test_max_steps_5_with_tol_0_is_exactly_five_updates(seed, sep, beta):
    """Early stopping is an optimisation: with tol=0 the loop stops only at an exact fixed point,
    so the state it returns is the state after 5 plain updates, converged or not."""
    rng = np.random.default_rng(seed)
    xi = jnp.asarray(np.sign(rng.normal(size=(12, 20))) * rng.uniform(0.2, 1.0, (12, 20)), jnp.float32)
    q = xi[:6] + jnp.asarray(rng.normal(size=(6, 20)), jnp.float32)
    model = SparseHopfield(xi, beta=jnp.float32(beta), separation=sep, max_steps=5, tol=0.0)
    out = _retrieve(model, q)
    # the same float32 operations compiled in another loop: equal up to XLA's fusion round-off
    np.testing.assert_allclose(np.asarray(out.state), np.asarray(_five_updates(model, q)), rtol=0, atol=1e-6)
    steps, conv = np.asarray(out.steps), np.asarray(out.converged)
    assert np.all((steps == 5) & ~conv | (steps < 5) & conv)


def test_sparse_hopfield_params_reach_the_model():
    from ambench.models._sparse import SparseHopfieldParams

    m = M.build_model("sparse-hopfield", SparseHopfieldParams(max_steps=5, tol=0.0), jnp.ones((3, 4)))
    assert (m.max_steps, m.tol) == (5, 0.0)


def test_signed_encoding_and_the_mid_mask_are_their_normalisation_and_mask():
    """Normalize(0.5, 0.5) maps [0, 1] to 2x - 1; their mask writes 0 in [-1, 1] over the bottom
    half of the rows; Gaussian noise of sigma in [0, 1] is noise of 2 sigma in [-1, 1]."""
    from ambench.data import corrupt, encode

    x = jnp.asarray(np.random.default_rng(0).uniform(size=28 * 28), jnp.float32)
    np.testing.assert_allclose(encode(x, "signed"), 2 * x - 1, atol=0)
    masked = encode(corrupt(x, "mask_rows_mid", 0.5, key=jax.random.PRNGKey(0), image_shape=(1, 28, 28)), "signed")
    img = np.asarray(masked).reshape(28, 28)
    np.testing.assert_array_equal(img[14:], 0.0)
    np.testing.assert_allclose(img[:14], np.asarray(2 * x - 1).reshape(28, 28)[:14], atol=0)
    key = jax.random.PRNGKey(1)
    noisy = encode(corrupt(x, "gaussian", 1.25, key=key), "signed")
    theirs = jnp.clip(2 * x - 1 + 2.5 * jax.random.normal(key, x.shape), -1, 1)
    np.testing.assert_allclose(noisy, theirs, atol=1e-5)


@pytest.mark.slow
def test_the_cell_scores_the_state_after_five_updates():
    """measure_retrieval's cosine_rate is cos(x_5, target) > 0.9 of the 5-update state x_5 (here
    recomputed by hand from the cell's own memories and queries)."""
    from ambench.protocol import prepare, measure_retrieval
    from ambench.sweep import resolve_cell

    cell = resolve_cell("capacity", "sparse-hopfield", "mnist-5k", 1, {
        "n_memories": 8, "n_queries": 8, "encoding": "signed", "separation": "softmax", "beta": 0.01,
        "max_steps": 5, "tol": 0.0, "noise_kind": "gaussian", "noise_level": 1.25, "criterion": "cosine"})
    prep = prepare(cell, bucketed=False)
    x = _five_updates(prep.model, prep.queries)
    t = prep.mem.patterns[np.asarray(prep.target_idx)]
    cos = np.sum(np.asarray(x, np.float64) * t, 1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(t, axis=1))
    out = measure_retrieval(cell, bucketed=False)
    assert out["success_rate"] == out["cosine_rate"] == np.mean(cos > 0.9)
    assert out["steps_max"] == 5 and 0 < out["success_rate"] < 1  # not converged: scored at x_5 all the same
