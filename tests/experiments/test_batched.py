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
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 20), extra=st.integers(1, 12))
@pytest.mark.slow
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


@pytest.mark.slow
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


def _same_metrics(a, b):
    """Metric by metric, the energy trace included (host float64 means of identical arrays)."""
    assert set(a) == set(b)
    for k in a:
        assert a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]), (k, a[k], b[k])


def test_two_encodings_of_one_model_are_scored_each_by_its_own_rules():
    """dam-softmax cells that differ only in encoding once shared a group and its first cell's
    scorer: the Gaussian cell lost threshold_rate (or the group raised)."""
    base = {"n_memories": 6, "n_queries": 8, "dim": 24, "noise_kind": "gaussian", "noise_level": 0.2}
    binary = resolve_cell("noise", "dam-softmax", "random", 0, {**base, "encoding": "binary"})
    gaussian = resolve_cell("noise", "dam-softmax", "random", 0, {**base, "encoding": "gaussian"})
    for order in ([binary, gaussian], [gaussian, binary]):
        grouped = measure_group(order)
        for cell, got in zip(order, grouped):
            _same_metrics(got, measure_retrieval(cell, bucketed=False))
    g = measure_group([binary, gaussian])
    assert binary["criterion"] == "bits" and gaussian["criterion"] == "nearest"  # auto, resolved per cell
    assert "wrong_bits" in g[0] and "exact_rate" in g[0] and "threshold_rate" not in g[0]
    assert "threshold_rate" in g[1] and "wrong_bits" not in g[1] and g[1]["success_rate"] == g[1]["nearest_rate"]


MIX = st.fixed_dictionaries({
    "model": st.sampled_from(["chn", "dam", "dam-softmax", "uhn", "sparse-hopfield"]),
    "encoding": st.sampled_from(["binary", "gaussian"]),
    "criterion": st.sampled_from(["auto", "nearest", "exact", "bits", "threshold", "cosine"]),
    "threshold": st.sampled_from([10.0, 50.0, 400.0]),
    "max_wrong": st.sampled_from([0.0, 0.05]),
    "min_cosine": st.sampled_from([0.0, 0.5, 0.9]),
    "n_memories": st.sampled_from([3, 5]),
    "noise_level": st.sampled_from([0.1, 0.3]),
    "seed": st.integers(0, 3),
})


def _cell(d):
    from ambench.sweep import ConfigError

    enc = "binary" if d["model"] in ("chn", "dam") else d["encoding"]
    crit = d["criterion"]
    if enc == "binary" and crit == "threshold" or enc != "binary" and crit in ("bits", "exact"):
        crit = "auto"
    used = {"threshold": "threshold", "max_wrong": "bits", "min_cosine": "cosine"}  # each only with its criterion
    bits = crit == "bits" or crit == "auto" and enc == "binary"
    settings_ = {k: d[k] for k, c in used.items() if c == crit or k == "max_wrong" and bits}
    try:
        return resolve_cell("noise", d["model"], "random", d["seed"], {
            "encoding": enc, "criterion": crit, **settings_,
            "n_memories": d["n_memories"], "noise_kind": "gaussian" if enc != "binary" else "flip",
            "noise_level": d["noise_level"], "n_queries": 4, "dim": 16})
    except ConfigError:
        return None


@pytest.mark.slow
@settings(max_examples=5, deadline=None)
@given(st.lists(MIX, min_size=2, max_size=7))
def test_grouped_equals_cell_by_cell_on_random_mixes(mixes):
    """Grouping is an optimisation: any mix of models, encodings, criteria (cosine included),
    their thresholds, K and seeds gives, cell for cell, the metrics the plain path gives."""
    cells = [c for c in map(_cell, mixes) if c is not None]
    cells = list({c.key: c for c in cells}.values())
    for cell, got in zip(cells, measure_group(cells)):
        _same_metrics(got, measure_retrieval(cell, bucketed=False))


@pytest.mark.slow  # 5 s: two mnist-5k cells at n_queries = 100, both ways
def test_grouped_larger_cells_equal_cell_by_cell_to_rounding():
    """At n_queries = 100 a vmapped group's float32 products are blocked otherwise than one cell's:
    the rates stay identical, float means (cosine, mse) agree to rounding (`bench.same_results`,
    the check of the bench's sweep_batched_vs_loop row)."""
    from ambench.bench import same_results

    cells = [resolve_cell("noise", "uhn", "mnist-5k", s, {"n_memories": 50, "noise_kind": "gaussian",
                                                         "noise_level": 1.0, "n_queries": 100}) for s in (0, 1)]
    plain = [measure_retrieval(c, bucketed=False) for c in cells]
    grouped = measure_group(cells)
    for a, b in zip(plain, grouped):
        assert same_results(a, b)
        assert all(a[k] == b[k] for k in a if k.endswith("_rate"))


def test_same_results_is_exact_on_rates_and_close_on_means():
    from ambench.bench import same_results

    row = {"success_rate": 0.5, "cosine": 0.91455814, "mse": 0.0178, "steps_max": 3}
    assert same_results(row, row | {"cosine": 0.91455815, "mse": 0.0178 * (1 + 1e-7)})
    assert not same_results(row, row | {"success_rate": 0.5 + 1e-12})
    assert not same_results(row, row | {"cosine": 0.9146})
    assert not same_results(row, row | {"steps_max": 4})
    assert not same_results(row, {k: v for k, v in row.items() if k != "mse"})
