"""Padded (masked) memories and vmapped groups of cells give the same results as plain cells."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ambench import models as M
from ambench.protocol import bucket, measure_group, measure_retrieval
from ambench.sweep import resolve_cell


def _pad(x, k_pad):
    return jnp.concatenate([x, jnp.zeros((k_pad - x.shape[0], x.shape[1]), x.dtype)]), jnp.arange(k_pad) < x.shape[0]


BUILD = {
    "chn": lambda xi, mask: M.HebbianCHN(xi, mask=mask),
    "dam-power": lambda xi, mask: M.DiscreteDAM(xi, n=3, mask=mask),
    "dam-exp": lambda xi, mask: M.DiscreteDAM(xi, kind="exp", beta=0.5, mask=mask),
    "softmax-l2": lambda xi, mask: M.ContinuousDAM(xi, beta=2.0, similarity="l2", mask=mask),
    "uhn-max": lambda xi, mask: M.UniversalHopfield(xi, similarity="manhattan", separation="max", mask=mask),
    "uhn-cube": lambda xi, mask: M.UniversalHopfield(xi, similarity="euclidean", separation="cube", mask=mask),
}


@pytest.mark.parametrize("name", sorted(BUILD))
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 20), extra=st.integers(1, 12))
def test_masked_padding_changes_nothing(name, seed, k, extra):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    xi = jnp.where(jax.random.bernoulli(k1, 0.5, (k, 24)), 1.0, -1.0)
    q = xi[jnp.arange(4) % k] * jnp.where(jax.random.uniform(k2, (4, 24)) < 0.2, -1.0, 1.0)
    plain = M.retrieve(BUILD[name](xi, None), q, key=k2)
    padded = M.retrieve(BUILD[name](*_pad(xi, k + extra)), q, key=k2)
    np.testing.assert_allclose(plain.state, padded.state, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(plain.steps, padded.steps)


def test_buckets_are_powers_of_two():
    assert [bucket(k) for k in (1, 8, 9, 100, 1000, 1024, 1025)] == [8, 8, 16, 128, 1024, 1024, 2048]


def test_grouped_cells_equal_cell_by_cell():
    cells = [resolve_cell("noise", m, "mnist-5k", s, {"n_memories": k, "noise_kind": "gaussian",
                                                      "noise_level": lv, "n_queries": 20, **extra})
             for m, extra in (("dam-softmax", {"beta": 2.0}), ("chn", {}), ("uhn", {"separation": "max"}))
             for k in (9, 30) for lv in (0.2, 0.6) for s in (0, 1)]
    plain = [measure_retrieval(c, bucketed=False) for c in cells]
    grouped = measure_group(cells)
    for a, b in zip(plain, grouped):
        assert {k: v for k, v in a.items() if k != "_energy_trace"} == {k: v for k, v in b.items() if k != "_energy_trace"}


def test_batched_switch_from_the_environment(monkeypatch):
    from ambench.sweep._run import batching_default

    for value, expected in (("1", True), ("yes", True), ("0", False), ("False", False)):
        monkeypatch.setenv("AMBENCH_BATCHED", value)
        assert batching_default() is expected
    monkeypatch.setenv("AMBENCH_BATCHED", "maybe")
    with pytest.raises(ValueError, match="AMBENCH_BATCHED must be 1 or 0"):
        batching_default()
