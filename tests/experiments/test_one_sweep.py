"""The capacity search's shortcut for an exponential DAM's one sweep (`ambench._one_sweep`): every
probe it calls recalled or failed is so in `DiscreteDAM`'s sweep, and a whole search stores the
same result with it and without it."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from ambench import _one_sweep
from ambench.models._discrete import DiscreteDAM, visit_order
from ambench.sweep import _cells, resolve_cell


def sweep_and_shortcut(k, dim, n_flip, beta, order, seed, *, block, tolerance=_one_sweep.TOLERANCE):
    rng = np.random.default_rng(seed)
    pats = np.where(rng.random((k, dim)) < 0.5, -1.0, 1.0).astype(np.float32)
    b = min(k, 12)
    target_idx = rng.choice(k, b, replace=False)
    flips = np.ones((b, dim), np.float32)
    for row in flips:
        row[rng.choice(dim, n_flip, replace=False)] = -1.0
    probes = pats[target_idx] * flips
    keys = jax.random.split(jax.random.PRNGKey(seed), b)
    model = DiscreteDAM(jnp.asarray(pats), kind="exp", beta=beta, order=order, max_sweeps=1)
    out = jax.vmap(lambda q, key: model.retrieve_one(q, key=key))(jnp.asarray(probes), keys)
    ended = np.all(np.asarray(out.state) == pats[target_idx], axis=1)
    orders = jax.vmap(lambda key: visit_order(key, 0, dim, order))(keys)
    recalled, failed = _one_sweep.one_sweep_recall(pats, probes, target_idx, orders, beta=beta, block=block,
                                                   tolerance=tolerance)
    return ended, recalled, failed


@settings(max_examples=25, deadline=None)
@given(k=st.integers(2, 2500), dim=st.integers(6, 24), flip=st.floats(0.0, 0.4), beta=st.sampled_from([0.5, 1.0, 2.5, 8.0]),
       order=st.sampled_from(["random", "fixed"]), seed=st.integers(0, 2**16), block=st.sampled_from([8, 64, 1024]))
def test_recalled_and_failed_are_what_the_sweep_does(k, dim, flip, beta, order, seed, block):
    """β = 8 with N = 24 puts exponents past float32's range unless the running maximum keeps
    them in it; blocks of 8 rows exercise the blockwise accumulation."""
    ended, recalled, failed = sweep_and_shortcut(k, dim, int(flip * dim), beta, order, seed, block=block)
    assert not np.any(recalled & failed)
    assert np.all(ended[recalled]) and not np.any(ended[failed])
    assume(np.any(recalled | failed))


def test_near_ties_are_left_to_the_sweep():
    """With a tolerance above every margin nothing is decided; at the default almost everything is."""
    ended, recalled, failed = sweep_and_shortcut(3000, 16, 2, 1.0, "random", 0, block=1024, tolerance=2.0)
    assert not recalled.any() and not failed.any()
    ended, recalled, failed = sweep_and_shortcut(3000, 16, 2, 1.0, "random", 0, block=1024)
    assert (recalled | failed).sum() >= 11 and recalled.any() and failed.any()


def search(dim, rho, seed, *, n_queries=100):
    return resolve_cell("capacity", "dam", "random", seed,
                        {"interaction": "exp", "beta": 1.0, "max_sweeps": 1, "search": True, "criterion": "exact",
                         "success_threshold": 0.9, "n_queries": n_queries, "n_memories": 2, "k_max": 2_000_000,
                         "noise_kind": "flip", "noise_level": rho, "dim": dim})


@pytest.mark.slow
@pytest.mark.parametrize("dim,rho,seed", [(10, 0.0, 0), (14, 0.0, 1), (20, 0.1, 0), (20, 0.2, 1), (30, 0.1, 2)])
def test_a_search_stores_the_same_result_with_and_without_the_shortcut(monkeypatch, dim, rho, seed):
    """F9's cells (K_c from 5 to ~8,000 here): the stored row, every metric, is identical."""
    capacity = _cells.EXPERIMENTS["capacity"]
    cell = search(dim, rho, seed)
    with_it = capacity.run(cell)
    monkeypatch.setattr(_one_sweep, "ENABLED", False)
    assert capacity.run(cell) == with_it


@pytest.mark.slow
def test_the_shortcut_replaces_the_search_measurements(monkeypatch):
    """Only K_c is measured (its metrics are stored); with every decision unresolved, every K is
    measured again and the result is unchanged."""
    capacity = _cells.EXPERIMENTS["capacity"]
    module = sys.modules[capacity.run.__module__]
    calls = []
    measure = module.measure_retrieval
    monkeypatch.setattr(module, "measure_retrieval", lambda cell, k=None: calls.append(k) or measure(cell, k))
    cell = search(20, 0.1, 0, n_queries=50)
    out = capacity.run(cell)
    assert calls == [out["capacity"]]
    calls.clear()
    monkeypatch.setattr(_one_sweep, "TOLERANCE", 2.0)
    assert capacity.run(cell) == out and len(calls) > 10


def test_other_cells_do_not_take_it():
    assert _one_sweep.applies(search(20, 0.1, 0))
    for change in ({"max_sweeps": 2}, {"criterion": "bits"}, {"interaction": "power"}):
        params = {"interaction": "exp", "beta": 1.0, "max_sweeps": 1, "search": True, "criterion": "exact", "dim": 20,
                  **change}
        if change.get("interaction") == "power":
            params.pop("beta")
        assert not _one_sweep.applies(resolve_cell("capacity", "dam", "random", 0, params))
    assert not _one_sweep.applies(resolve_cell("capacity", "chn", "random", 0, {"search": True, "criterion": "exact",
                                                                                  "dim": 20}))
