"""The paper-reproduction pieces at the physics level: the UHN softmax by the authors' formula,
the K_1/2 protocol (random starts, fresh memories per set), the crossing interpolation and its
bootstrap, and the exponential-DAM capacity law. Fast: tiny N and K only."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from ambench.models._universal import UniversalHopfield, separate
from ambench.params import ConfigError
from ambench.protocol import measure_retrieval
from ambench.report import (bootstrap_crossing, bootstrap_mean_crossing, exp_capacity_alpha, fit_growth,
                            interpolate_crossing, khalf_table, rate_function)
from ambench.sweep._cells import load_experiment, resolve_cell


def test_softmax_separation_divides_scores_by_their_sum_first():
    s = jnp.array([1.0, 2.0, 3.0])  # sum 6: beta = 6 makes beta * s / sum(s) = s
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(separate(s, "softmax", 6.0), e / e.sum(), rtol=1e-6)
    # a masked row enters neither the sum (3 here, so beta = 3 gives s again) nor the softmax
    w = separate(s, "softmax", 3.0, mask=jnp.array([True, True, False]))
    np.testing.assert_allclose(w, [e[0] / (e[0] + e[1]), e[1] / (e[0] + e[1]), 0.0], rtol=1e-6)
    # scale-free: multiplying every score by a constant changes nothing (their normalisation)
    np.testing.assert_allclose(separate(7.0 * s, "softmax", 6.0), e / e.sum(), rtol=1e-6)


def test_uhn_queries_are_scored_not_counted_as_diverged():
    """A UHN has no energy: its retrievals must not read as arithmetic failures (they did while
    its energy trace was NaN: every F4 cell scored 0)."""
    rng = np.random.default_rng(0)
    mem = jnp.asarray(rng.random((10, 64)), jnp.float32)
    out = UniversalHopfield(mem, beta=1000.0, similarity="euclidean", separation="max").retrieve_one(mem[3])
    np.testing.assert_allclose(out.state, mem[3])
    cell = resolve_cell("capacity", "uhn", "random", 0, {"dim": 64, "encoding": "gaussian", "n_memories": 10,
                                                         "separation": "max", "criterion": "nearest"})
    res = measure_retrieval(cell)
    assert res["diverged_rate"] == 0.0 and res["success_rate"] == 1.0


def _khalf(k, dim=40, **extra):
    cell = resolve_cell("khalf", "dam", "random", 0, {"dim": dim, "n_memories": k, "n_sets": 2, "n_starts": 50,
                                                      "interaction": "power", "n": 3, "max_sweeps": 100, **extra})
    return load_experiment("khalf").run(cell)


@pytest.mark.slow
def test_khalf_random_starts_end_on_a_memory_at_tiny_k_and_almost_never_at_huge_k():
    small = _khalf(2)
    assert small["success_rate"] >= 0.95 and small["cap_hit_rate"] == 0.0
    assert small["negative_rate"] == 0.0  # F = x^3 is odd: -xi is no attractor
    assert small["total_starts"] == 100 and len(small["set_success_rates"]) == 2
    huge = _khalf(2000)
    assert huge["success_rate"] <= 0.05 and huge["cap_hit_rate"] == 0.0


def test_khalf_sets_are_fresh_per_k_and_set_and_the_cap_is_enforced():
    khalf = load_experiment("khalf")
    seeds = {khalf.set_seeds(0, k, 40, i) for k in (100, 101) for i in range(3)}
    assert len(seeds) == 6  # different K or set index: different memories (never nested)
    from ambench.data import random_patterns

    a = random_patterns(100, 40, seed=khalf.set_seeds(0, 100, 40, 0)[0])
    b = random_patterns(101, 40, seed=khalf.set_seeds(0, 101, 40, 0)[0])
    assert not np.array_equal(a, b[:100])
    with pytest.raises(ConfigError, match="max_sweeps >= 100"):
        resolve_cell("khalf", "dam", "random", 0, {"dim": 40, "max_sweeps": 20})


def test_interpolate_crossing_in_log_k_between_the_bracketing_points():
    k_star, i = interpolate_crossing([100, 200, 400], [0.9, 0.6, 0.2])
    assert i == 1 and k_star == pytest.approx(200 * 2**0.25)  # t = 0.1/0.4 of the way in log K
    assert interpolate_crossing([400, 100, 200], [0.2, 0.9, 0.6])[0] == pytest.approx(k_star)  # order-free
    assert math.isnan(interpolate_crossing([100, 200], [0.9, 0.7])[0])  # nothing brackets 0.5
    assert interpolate_crossing([100, 200], [0.5, 0.1])[0] == pytest.approx(100)


def test_bootstrap_interval_covers_a_known_crossing_and_narrows_with_more_starts():
    k = np.geomspace(100, 400, 7)
    true = 200.0
    p = 1 / (1 + (k / true) ** 4)  # success 0.5 exactly at K = 200, falling with K
    widths = []
    for trials in (200, 20000):
        reps = bootstrap_crossing(k, np.round(p * trials), np.full(7, trials), reps=500, seed=1)
        lo, hi = np.percentile(reps[np.isfinite(reps)], [2.5, 97.5])
        assert lo < true * 1.02 and hi > true * 0.98  # linear interpolation in log K is a little off
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 4


def test_khalf_table_recovers_a_power_law_exponent_from_synthetic_cells():
    import pandas as pd

    rows = []
    for dim in (50, 100, 200):
        k_half = 0.1 * dim**1.8
        for k in k_half * 2.0 ** (np.arange(-3, 4) / 4):
            rows.append({"interaction": "power", "dim": dim, "n_memories": int(round(k)), "total_starts": 100000,
                         "success_rate": 1 / (1 + (round(k) / k_half) ** 6), "cap_hit_rate": 0.0,
                         "negative_rate": 0.0})
    table = khalf_table(pd.DataFrame(rows), reps=200)
    assert table.K_half.values == pytest.approx(0.1 * np.array([50, 100, 200]) ** 1.8, rel=0.02)
    assert table.exponent.iloc[0] == pytest.approx(1.8, abs=0.02)
    assert table.exponent_boot_low.iloc[0] <= 1.8 + 0.02 and table.exponent_boot_high.iloc[0] >= 1.8 - 0.02


def test_exponential_capacity_rate_function_and_growth_fit():
    assert rate_function(1.0) == pytest.approx(math.log(2))  # rho = 0: alpha = ln 2 / 2, K = 2^(N/2)
    assert exp_capacity_alpha(0.0) == pytest.approx(math.log(2) / 2)
    x = 0.6
    assert rate_function(x) == pytest.approx(0.5 * (1.6 * math.log(1.6) + 0.4 * math.log(0.4)))
    assert exp_capacity_alpha(0.1) > exp_capacity_alpha(0.2) > 0
    n = np.array([10, 20, 30, 40])
    g, err, a = fit_growth(n, 3.0 * np.exp(0.25 * n))
    assert g == pytest.approx(0.25) and a == pytest.approx(math.log(3.0)) and err < 1e-6


@pytest.mark.slow
def test_one_sweep_exponential_dam_scores_the_state_after_the_sweep():
    """max_sweeps 1: a probe whose flipped bit is repaired ends exactly on its pattern although
    the sweep changed something (converged False); far above capacity most probes fail."""
    cell = resolve_cell("capacity", "dam", "random", 0, {
        "dim": 10, "interaction": "exp", "max_sweeps": 1, "criterion": "exact", "noise_kind": "flip",
        "noise_level": 0.1, "n_memories": 2})
    few = measure_retrieval(cell)
    assert few["success_rate"] == 1.0 and few["converged_rate"] == 0.0
    assert measure_retrieval(cell, 1000)["success_rate"] < 0.5


def test_f1_crossing_of_the_mean_curve_with_a_bootstrap_over_seeds():
    k = np.array([10.0, 12.0, 14.0, 16.0])
    rates = np.array([[1.0, 0.95, 0.85, 0.6], [1.0, 0.93, 0.87, 0.5], [0.98, 0.92, 0.86, 0.55]])
    mean = rates.mean(axis=0)  # 0.933 at K=12 and 0.86 at K=14: crossing 0.9 in between
    k_star, i = interpolate_crossing(k, mean, 0.9)
    assert i == 1 and 12 < k_star < 14
    reps = bootstrap_mean_crossing(k, rates, 0.9, reps=300, seed=0)
    assert np.all(np.isfinite(reps)) and np.all((reps > 12) & (reps < 14))
    assert np.percentile(reps, 2.5) <= k_star <= np.percentile(reps, 97.5)
