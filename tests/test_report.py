"""Reports aggregate stored cells over seeds and write markdown, CSV and HTML with a figure."""

import pandas as pd

from ambench.report import aggregate, load_results, write_report
from ambench.sweep import expand, run_cell, Store


def test_report_aggregates_over_seeds(tmp_path):
    store = Store(tmp_path)
    for cell in expand("capacity", ["chn"], ["random"], [0, 1, 2], {"dim": [40], "n_memories": [2, 4, 8]}):
        run_cell(cell, store)
    df = load_results(tmp_path)
    agg = aggregate(df)
    assert len(df) == 9 and len(agg) == 3
    assert (agg["success_rate_n"] == 3).all()
    assert {"success_rate_mean", "success_rate_std", "success_rate_ci95"} <= set(agg.columns)
    paths = write_report(tmp_path)
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<table" in html and "data:image/png;base64," in html
    assert "success_rate_mean" in (tmp_path / "report" / "report.md").read_text()
    assert len(pd.read_csv(tmp_path / "report" / "aggregate.csv")) == 3
    assert all(p.exists() for p in paths)
