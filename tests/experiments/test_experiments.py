"""Experiments reproduce what theory says, at small sizes (the issue's must-shows)."""

import pytest

from ambench.sweep import ConfigError, Store, load_experiment, resolve_cell, run_cell


def measure(experiment, model, dataset, **params):
    cell = resolve_cell(experiment, model, dataset, params.pop("seed", 0), params)
    return load_experiment(experiment).run(cell)


@pytest.mark.slow
def test_chn_capacity_n200_is_near_0138_and_dam3_stores_5x_more():
    common = dict(dim=200, search=True, criterion="bits", max_wrong=0.015, success_threshold=0.9, n_queries=100)
    chn = measure("capacity", "chn", "random", n_memories=8, **common)
    assert 0.08 * 200 <= chn["capacity"] <= 0.17 * 200, chn
    dam = measure("capacity", "dam", "random", n_memories=8 * chn["capacity"], k_max=4000, **common)
    assert dam["capacity"] >= 5 * chn["capacity"], (dam["capacity"], chn["capacity"])


@pytest.mark.slow
def test_mnist_noise_l2_at_least_dot_and_both_beat_chn():
    common = dict(n_memories=100, noise_kind="gaussian", noise_level=0.3, n_queries=100)
    l2 = measure("noise", "dam-softmax", "mnist-5k", similarity="l2", beta=1.0, **common)
    dot = measure("noise", "dam-softmax", "mnist-5k", similarity="dot", beta=1.0, **common)
    chn = measure("noise", "chn", "mnist-5k", **common)
    assert l2["nearest_rate"] >= dot["nearest_rate"] > chn["nearest_rate"], (l2, dot, chn)
    assert "threshold_rate" in l2 and 0 <= l2["threshold_rate"] <= 1


def test_convergence_reports_steps_and_monotone_energy():
    out = measure("convergence", "dam-softmax", "random", dim=64, n_memories=32, noise_level=0.2)
    assert out["energy_monotone_rate"] == 1.0 and out["converged_rate"] == 1.0 and out["steps"] >= 1
    assert out["load"] == pytest.approx(0.5)


def test_throughput_reports_rates_against_the_measured_ceiling():
    out = measure("throughput", "dam-softmax", "random", dim=64, n_memories=512, batch=32, n_steps=4, repeats=2)
    # rates only: how they compare is a benchmark's business, never a timed unit test's
    assert out["tflops"] > 0 and out["ceiling_fraction"] > 0 and out["queries_steps_per_s"] > 0
    chunked = measure("throughput", "dam-softmax", "random", dim=64, n_memories=512, batch=32, n_steps=4,
                      repeats=2, chunk=128, precision="bf16")
    assert chunked["tflops"] > 0


@pytest.mark.slow
def test_classify_trains_the_conditional_ham_above_chance():
    out = measure("classify", "ham-conditional", "mnist-5k", n_memories=50, n_train=500, n_test=200,
                  train_steps=30, max_steps=10)
    assert out["accuracy"] > 0.5  # chance is 0.1
    vote = measure("classify", "dam-softmax", "mnist-5k", n_memories=500, n_train=500, n_test=200, beta=1.0)
    assert vote["accuracy"] > 0.7


def test_a_failing_cell_is_stored_as_failed_and_not_as_done(tmp_path):
    from ambench.data import DataUnavailable

    with pytest.raises(ConfigError, match="throughput measures model dam-softmax"):  # caught before it runs
        resolve_cell("throughput", "chn", "random", 0, {})
    store = Store(tmp_path)
    cell = resolve_cell("noise", "chn", "mnist-idx", 0, {"data_dir": str(tmp_path)})  # a folder, no IDX files
    with pytest.raises(DataUnavailable):
        run_cell(cell, store)
    assert store.done_keys() == set() and len(store.failed_keys()) == 1
