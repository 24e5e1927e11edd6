"""The CI gate: passes on the baseline, fails on a slowed or recompiling variant."""

import copy

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


def test_gate_fails_on_a_slowed_variant():
    results = copy.deepcopy(BASE)
    results[1]["ratio"] = 40.0 / 2
    assert any("ratio" in f for f in bench.gate(results, BASELINE))


def test_gate_fails_on_a_recompiling_variant():
    results = copy.deepcopy(BASE)
    results[0]["counters"]["compilations"] = 5
    assert any("compilations" in f for f in bench.gate(results, BASELINE))


def test_gate_fails_when_fast_and_reference_disagree():
    results = copy.deepcopy(BASE)
    results[1]["identical_states"] = False
    assert any("disagree" in f for f in bench.gate(results, BASELINE))


def test_main_returns_nonzero_on_regression(tmp_path):
    import json

    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"results": BASE}))
    slowed = copy.deepcopy(BASE)
    slowed[0]["ratio"] = 0.1
    for r in slowed:
        r.update(seconds=1.0, reference_seconds=1.0, target=1.0)
    assert bench.main(gate=str(path), results=slowed) == 1
    ok = copy.deepcopy(BASE)
    for r in ok:
        r.update(seconds=1.0, reference_seconds=1.0, target=1.0)
    assert bench.main(gate=str(path), results=ok) == 0


def test_table_in_a_log_keeps_full_benchmark_names(capsys):
    results = copy.deepcopy(BASE)
    for r in results:
        r.update(name=r["name"] + "_with_a_long_suffix", seconds=1.0, reference_seconds=1.0, target=1.0)
    assert bench.main(results=results) == 0
    out = capsys.readouterr().out  # captured: not a terminal, as in a CI log
    assert all(r["name"] in out for r in results), out
