"""F10's measurement (experiments/onestep.py): Ramsauer et al.'s update, separation and Theorem 5
bound, checked against plain numpy on randomly drawn inputs."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ambench.data import random_patterns
from ambench.models._continuous import ContinuousDAM, softmax_update
from ambench.sweep import ConfigError, load_experiment, resolve_cell

onestep = load_experiment("onestep")


def ramsauer_update(x, xi, beta):
    """Eq. (3) written out: X softmax(β Xᵀξ), X's columns the patterns (x: K rows here)."""
    z = beta * (x @ xi)
    p = np.exp(z - z.max())
    return x.T @ (p / p.sum())


def cell_for(**params):
    base = dict(similarity="dot", method="update", max_steps=50, encoding="gaussian", dim=16, n_memories=12,
                n_queries=12, beta=0.5)
    base.update(params)
    return resolve_cell("onestep", "dam-softmax", "random", base.pop("seed", 0), base)


@settings(max_examples=10, deadline=None)
@given(shape=st.sampled_from([(2, 1), (12, 9)]), beta=st.floats(1e-3, 30.0), seed=st.integers(0, 2**31 - 1))
def test_the_models_dot_update_is_ramsauers_eq3(shape, beta, seed):
    (k, d), rng = shape, np.random.default_rng(seed)
    x, xi = rng.standard_normal((k, d)) * rng.uniform(0.1, 3), rng.standard_normal(d) * rng.uniform(0.1, 3)
    with jax.enable_x64(True):
        got = np.asarray(softmax_update(jnp.asarray(x), jnp.asarray(xi), beta=beta, kind="dot"))
    np.testing.assert_allclose(got, ramsauer_update(x, xi, beta), rtol=1e-10, atol=1e-12)


_one_retrieval = eqx.filter_jit(lambda model, q: model.retrieve_one(q).state)


def test_the_models_retrieval_loop_takes_that_step():
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, xi, beta = rng.standard_normal((9, 7)), rng.standard_normal(7), float(rng.uniform(0.05, 3))
        with jax.enable_x64(True):
            model = ContinuousDAM(jnp.asarray(x), beta=jnp.asarray(beta), similarity="dot", max_steps=1)
            stepped = np.asarray(_one_retrieval(model, jnp.asarray(xi)))
        np.testing.assert_allclose(stepped, ramsauer_update(x, xi, beta), rtol=1e-10, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 30), d=st.integers(1, 32), beta=st.floats(1e-3, 50.0), r=st.floats(0.0, 2.0),
       scale=st.floats(0.05, 5.0), seed=st.integers(0, 2**31 - 1))
def test_theorem5_bound_is_never_violated(k, d, beta, r, scale, seed):
    """‖f(ξ) − x_i‖ ≤ 2 (N−1) exp(−β (Δ_i − 2 max{‖ξ − x_i‖, ‖x* − x_i‖} M)) M for every pattern,
    any query, any x* (the max only loosens it): patterns of mixed norms, queries anywhere near."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((k, d)) * scale * rng.uniform(0.2, 1.0, (k, 1))
    m = np.linalg.norm(x, axis=1).max()
    xi = x + r * m * onestep.query_directions(seed, k, d)
    f = np.stack([ramsauer_update(x, q, beta) for q in xi])
    other = rng.standard_normal((k, d)) * scale  # any x*: the bound with ‖ξ − x_i‖ alone holds already
    for star in (x, other):
        radius = np.maximum(np.linalg.norm(xi - x, axis=1), np.linalg.norm(star - x, axis=1))
        logb = onestep.log_bound(onestep.separation(x), radius, n=k, beta=beta, m=m)
        err = np.linalg.norm(f - x, axis=1)
        with np.errstate(divide="ignore"):
            assert np.all(np.log(err) <= logb + 1e-9), (np.log(err), logb)


@settings(max_examples=20, deadline=None)
@given(k=st.integers(2, 15), d=st.integers(2, 20), seed=st.integers(0, 2**31 - 1))
def test_separation_is_the_definition(k, d, seed):
    x = np.random.default_rng(seed).standard_normal((k, d))
    want = [x[i] @ x[i] - max(x[i] @ x[j] for j in range(k) if j != i) for i in range(k)]
    np.testing.assert_allclose(onestep.separation(x), want, rtol=1e-12, atol=1e-12)


def _numpy_cell(x, beta, eps, r, seed, cap, tol=1e-4):
    """The whole measurement in plain numpy: one update, iteration to a fixed point, scores."""
    k, d = x.shape
    m = np.linalg.norm(x, axis=1).max()
    q = x + r * m * onestep.query_directions(seed, k, d)
    f = np.stack([ramsauer_update(x, v, beta) for v in q])
    fixed, steps, done = q.copy(), np.zeros(k, int), np.zeros(k, bool)
    for i in range(k):
        s = q[i]
        for _ in range(cap):
            new = ramsauer_update(x, s, beta)
            moved = np.max(np.abs(new - s))
            s = new
            if moved <= tol:
                done[i] = True
                break
            steps[i] += 1
        fixed[i] = s
    delta = np.array([x[i] @ x[i] - max(x[i] @ x[j] for j in range(k) if j != i) for i in range(k)])
    err = np.linalg.norm(f - x, axis=1)
    rad = np.maximum(np.linalg.norm(q - x, axis=1), np.linalg.norm(fixed - x, axis=1))
    bound = 2 * (k - 1) * np.exp(-beta * (delta - 2 * rad * m)) * m
    near = lambda s: np.argmin(((s[:, None] - x[None]) ** 2).sum(-1), 1) == np.arange(k)  # noqa: E731
    fp = done & near(fixed)
    return {"one_step_rate": np.mean(fp & (np.linalg.norm(f - fixed, axis=1) <= eps * m)),
            "one_step_nearest_rate": np.mean(near(f)), "fixed_point_nearest_rate": np.mean(fp),
            "within_bound_rate": np.mean(err <= bound), "bound_informative_rate": np.mean(bound < 2 * m),
            "well_separated_rate": np.mean(delta >= 2 / (beta * k) + np.log(2 * (k - 1) * k * beta * m * m) / beta),
            "error_median": np.median(err), "delta_min": delta.min(), "steps_mean": steps.mean(),
            "steps_max": steps.max(), "cap_hits": int(np.sum(~done)), "pattern_norm_max": m}


@pytest.mark.parametrize("beta, r, cap", [(0.05, 0.0, 50), (0.4, 0.0, 50), (1.5, 0.05, 50), (0.2, 0.3, 3)])
def test_experiment_equals_plain_numpy(beta, r, cap):
    cell = cell_for(beta=beta, query_noise=r, max_steps=cap, seed=3)
    out = onestep.run(cell)
    x = random_patterns(12, 16, seed=3, encoding="gaussian").astype(np.float64)
    want = _numpy_cell(x, beta, cell["epsilon"], r, 3, cap)
    for key, value in want.items():
        assert out[key] == pytest.approx(value, rel=1e-7, abs=1e-9), key
    assert out["bound_violations"] == 0 and out["n_probed"] == 12 and len(out["delta"]) == 12


def test_only_ramsauers_update_is_measured():
    with pytest.raises((ConfigError, ValueError), match="similarity=dot"):
        cell_for(similarity="l2")
