"""The CI gate: fails on a counter change (recompiling, more flops or queries) or a disagreeing fast
path; a slowed ratio is reported, and fails only far outside what load does (baseline / 5)."""

import copy
import functools
import time

import pytest

from ambench import bench

BASE = [
    {"name": "a", "ratio": 1.0, "counters": {"compilations": 1}},
    {"name": "b", "ratio": 40.0, "counters": {"compilations": 2}, "identical_states": True},
]
BASELINE = {r["name"]: r for r in BASE}


def test_gate_passes_on_the_baseline_and_within_slack():
    results = copy.deepcopy(BASE)
    results[1]["ratio"] = 40.0 / 1.4
    assert bench.gate(results, BASELINE) == []


def test_a_slowed_ratio_is_reported_not_failed():
    results = copy.deepcopy(BASE)
    results[1]["ratio"] = 40.0 / 2
    warnings = []
    assert bench.gate(results, BASELINE, warnings) == []
    assert any("ratio" in w for w in warnings)


def test_a_ratio_far_outside_fails():
    results = copy.deepcopy(BASE)
    results[1]["ratio"] = 40.0 / 6
    warnings = []
    assert any("ratio" in f for f in bench.gate(results, BASELINE, warnings)) and warnings == []


def test_gate_fails_when_a_work_counter_grows():
    results = copy.deepcopy(BASE)
    results[0]["counters"]["queries_computed_per_scored"] = 10.0
    base = copy.deepcopy(BASELINE)
    base["a"]["counters"]["queries_computed_per_scored"] = 1.0
    assert any("queries_computed_per_scored" in f for f in bench.gate(results, base))


def test_gate_fails_on_a_recompiling_variant():
    results = copy.deepcopy(BASE)
    results[0]["counters"]["compilations"] = 5
    assert any("compilations" in f for f in bench.gate(results, BASELINE))


def test_gate_fails_when_fast_and_reference_disagree():
    results = copy.deepcopy(BASE)
    results[1]["identical_states"] = False
    assert any("disagree" in f for f in bench.gate(results, BASELINE))


def test_main_returns_nonzero_on_a_counter_regression_only(tmp_path):
    import json

    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"results": BASE}))
    slowed = copy.deepcopy(BASE)
    slowed[0]["ratio"] = 0.3  # reported (below 1 / 1.5), not failed (above 1 / 5)
    for r in slowed:
        r.update(seconds=1.0, reference_seconds=1.0, target=1.0)
    assert bench.main(gate=str(path), results=slowed) == 0
    recompiled = copy.deepcopy(slowed)
    recompiled[1]["counters"]["compilations"] = 3
    assert bench.main(gate=str(path), results=recompiled) == 1


def test_interleaved_timing_returns_every_call_and_ratios_to_the_first():
    import jax.numpy as jnp

    import jax

    f = jax.jit(lambda x: x @ x)
    g = jax.jit(lambda x: (x @ x) @ x)
    x = jnp.ones((64, 64))
    out = bench.time_interleaved({"f": (f, (x,)), "g": (g, (x,))}, repeats=3, min_time=0.0)
    assert set(out["seconds"]) == {"f", "g"} and out["ratios"]["f"] == 1.0
    assert all(v > 0 for v in out["seconds"].values())


def test_element_ops_count_products_and_loops():
    """2·m·k·n per product; a lax.map body times its length."""
    import jax
    import jax.numpy as jnp

    from ambench.study_bench import element_ops

    a, b = jnp.ones((3, 5)), jnp.ones((5, 7))
    assert element_ops(jax.make_jaxpr(lambda a, b: a @ b)(a, b)) == 2 * 3 * 5 * 7
    assert element_ops(jax.make_jaxpr(lambda a, b: jax.lax.map(lambda r: r @ b, a))(a, b)) == 3 * 2 * 5 * 7
    assert element_ops(jax.make_jaxpr(lambda a: jnp.exp(a) + 1.0)(a)) == 2 * 15


def test_table_in_a_log_keeps_full_benchmark_names(capsys):
    results = copy.deepcopy(BASE)
    for r in results:
        r.update(name=r["name"] + "_with_a_long_suffix", seconds=1.0, reference_seconds=1.0, target=1.0)
    assert bench.main(results=results) == 0
    out = capsys.readouterr().out  # captured: not a terminal, as in a CI log
    assert all(r["name"] in out for r in results), out


def _small_ham_rows():
    return bench.bench_ham_step(k=64, d=16, c=3, b=8, t=5, repeats=3)


@pytest.mark.slow
def test_a_slow_machine_passes_and_the_old_descent_fails(monkeypatch):
    """Measured rows, not made-up ones: a machine 4x slower with other jobs taking 2 ms of every
    call (a scaled timer and an injected sleep) passes the gate against an unloaded run; the
    descent's stopping loop put back in place of its fixed-step path (the regression this bench
    guards) fails it on a deterministic counter (the compiled program's flops)."""
    baseline = {r["name"]: r for r in _small_ham_rows()}
    with monkeypatch.context() as m:
        real_clock, real_block = time.perf_counter, bench.jax.block_until_ready
        m.setattr(bench.time, "perf_counter", lambda: 4.0 * real_clock())

        def loaded(x):
            time.sleep(0.002)
            return real_block(x)

        m.setattr(bench.jax, "block_until_ready", loaded)
        slow = _small_ham_rows()
    assert all(s["seconds"] > b["seconds"] for s, b in zip(slow, baseline.values()))
    assert bench.gate(slow, baseline, []) == []
    with monkeypatch.context() as m:
        m.setattr(bench, "descend", functools.partial(bench.descend, _fixed_steps=False))
        old = _small_ham_rows()
    failures = bench.gate(old, baseline, [])
    assert any("ham_step_framework_vs_jnp: counter xla_flops" in f for f in failures), failures


def test_a_missing_baseline_is_refused_before_any_benchmark_runs(tmp_path, monkeypatch, capsys):
    def never(quick):
        raise AssertionError("a benchmark ran before the baseline was checked")

    monkeypatch.setattr(bench, "run_all", never)
    assert bench.main(quick=True, gate=str(tmp_path / "nope.json")) == 2
    assert "no baseline at" in capsys.readouterr().out
