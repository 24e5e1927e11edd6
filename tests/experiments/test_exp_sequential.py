"""F9's exponential-DAM sweep, query by query with event-driven updates (`DiscreteDAM.retrieve_batch`
for F = exp, one sweep, K >= SEQUENTIAL_EXP_K), gives the numbers of the vmapped `retrieve_one`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ambench.models._discrete as discrete
from ambench.models._discrete import DiscreteDAM
from ambench.protocol import measure_retrieval
from ambench.sweep import resolve_cell


def both(model, queries, key, monkeypatch):
    keys = jax.random.split(key, queries.shape[0])
    ref = jax.jit(lambda m, q: jax.vmap(lambda x, k: m.retrieve_one(x, key=k))(q, keys))(model, queries)
    monkeypatch.setattr(discrete, "SEQUENTIAL_EXP_K", 1)
    seq = jax.jit(lambda m, q: m.retrieve_batch(q, key=key))(model, queries)
    return ref, seq


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(k=st.integers(2, 300), dim=st.integers(9, 24), padding=st.integers(0, 40),
       beta=st.sampled_from([0.3, 1.0, 2.5, 8.0]),
       flip=st.floats(0.0, 0.5), seed=st.integers(0, 2**16))
def test_sequential_exp_sweep_equals_vmapped(k, dim, padding, beta, flip, seed):
    with pytest.MonkeyPatch.context() as monkeypatch:
        rng = np.random.default_rng(seed)
        # distinct patterns: with duplicates (tiny N) a unit's two energies can tie exactly, and a
        # tie is decided by float rounding, which differs between any two summation orders
        codes = rng.choice(2**dim, size=k + padding, replace=False)
        pats = np.where((codes[:, None] >> np.arange(dim)) & 1, 1.0, -1.0).astype(np.float32)
        mask = np.arange(k + padding) < k
        pats[~mask] = 0.0
        n = min(k, 17)
        queries = pats[:n] * np.where(rng.random((n, dim)) < flip, -1.0, 1.0).astype(np.float32)
        model = DiscreteDAM(jnp.asarray(pats), kind="exp", beta=beta, max_sweeps=1,
                            mask=jnp.asarray(mask) if padding else None)
        ref, seq = both(model, jnp.asarray(queries), jax.random.PRNGKey(seed), monkeypatch)
    for name in ("state", "steps", "converged"):
        assert np.array_equal(np.asarray(getattr(ref, name)), np.asarray(getattr(seq, name))), name
    # energies: the same formula on the same overlaps, summed in another order (float rounding)
    np.testing.assert_allclose(np.asarray(seq.energies), np.asarray(ref.energies), rtol=1e-5, equal_nan=True)


@pytest.mark.slow
def test_f9_cell_stores_the_same_metrics(monkeypatch):
    cell = resolve_cell("capacity", "dam", "random", 3,
                        {"interaction": "exp", "beta": 1.0, "max_sweeps": 1, "criterion": "exact", "n_queries": 100,
                         "noise_kind": "flip", "noise_level": 0.1, "dim": 20, "n_memories": 2})
    monkeypatch.setattr(discrete, "SEQUENTIAL_EXP_K", 10**9)
    before = [measure_retrieval(cell, k) for k in (150, 300)]
    monkeypatch.setattr(discrete, "SEQUENTIAL_EXP_K", 1)
    assert [measure_retrieval(cell, k) for k in (150, 300)] == before
    assert 0 < before[1]["success_rate"] < 1  # a K where the criterion is being decided, not a trivial one


@pytest.mark.slow
def test_other_models_keep_the_vmapped_path():
    """Several sweeps, or a polynomial F, are not what the sequential path computes: they keep vmap."""
    pats = jnp.asarray(np.where(np.random.default_rng(0).random((16, 8)) < 0.5, -1.0, 1.0).astype(np.float32))
    key = jax.random.PRNGKey(0)
    for model in (DiscreteDAM(pats, kind="exp", max_sweeps=3), DiscreteDAM(pats, kind="power", n=3, max_sweeps=1)):
        keys = jax.random.split(key, 4)
        ref = jax.vmap(lambda x, k, m=model: m.retrieve_one(x, key=k))(pats[:4], keys)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(discrete, "SEQUENTIAL_EXP_K", 1)
            out = model.retrieve_batch(pats[:4], key=key)
        assert np.array_equal(np.asarray(out.energies), np.asarray(ref.energies), equal_nan=True)
