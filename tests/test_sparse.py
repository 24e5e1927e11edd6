"""The sparse modern Hopfield model (one file, src/ambench/models/_sparse.py): entmax is the
gradient of its conjugate, the update descends the Fenchel–Young energy, sparsemax is exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ambench import models as M
from ambench.models._sparse import SparseHopfield, entmax, entmax_conjugate


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
@given(seed=st.integers(0, 2**31 - 1), sep=st.sampled_from(["sparsemax", "entmax15", "softmax"]),
       beta=st.sampled_from([0.5, 2.0, 8.0]))
def test_energy_never_rises_along_retrieval(seed, sep, beta):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    xi = jax.random.normal(k1, (30, 16)) / 4
    q = xi[:6] + 0.3 * jax.random.normal(k2, (6, 16))
    out = M.retrieve(SparseHopfield(xi, beta=beta, separation=sep, max_steps=15), q, key=k2)
    for row, steps in zip(np.asarray(out.energies), np.asarray(out.steps)):
        trace = row[: steps + 1]
        assert np.all(np.isfinite(trace))
        assert np.all(np.diff(trace) <= 1e-5 * (1 + np.abs(trace).max()))


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
