"""A capacity search stores the metrics at K_c from the measurement it already made there, not
from a second run of it: the same numbers, one measurement fewer."""

import sys

import pytest

from ambench.protocol import measure_retrieval
from ambench.sweep import _cells, resolve_cell


@pytest.mark.slow
def test_search_measures_each_k_once_and_stores_the_metrics_at_kc(monkeypatch):
    capacity = _cells.EXPERIMENTS["capacity"]
    module = sys.modules[capacity.run.__module__]
    calls = []
    monkeypatch.setattr(module, "measure_retrieval", lambda cell, k=None: calls.append(k) or measure_retrieval(cell, k))
    cell = resolve_cell("capacity", "dam", "random", 1, {"dim": 12, "interaction": "exp", "max_sweeps": 1,
                                                          "search": True,
                                                          "criterion": "exact", "n_memories": 2, "n_queries": 20})
    out = capacity.run(cell)
    assert len(calls) == len(set(calls))  # no K measured twice
    assert out["capacity"] in calls and out["capacity"] >= 2
    fresh = measure_retrieval(cell, out["capacity"])
    assert {k: out[k] for k in fresh} == fresh  # the stored metrics are those of a fresh measurement at K_c
