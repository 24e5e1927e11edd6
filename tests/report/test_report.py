"""Reports show what varied: one series per configuration (seeds averaged, nothing else),
Student-t intervals clipped to the metric's range, tables pivoted on the varying parameters,
theory overlays from the experiment's hook, and an offline HTML page that renders."""

import itertools
import json
import math
import re
import subprocess
import zlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import require_chromium

from ambench.report import aggregate, load_results, write_report
from ambench.report._pages import experiment_figures
from ambench.report._tables import config_columns, metric_columns
from ambench.report._varying import find_varying, plan_layout
from ambench.sweep import Store, expand, run_cell



def _grid(experiment="capacity", *, seeds=(0, 1, 2), metric="success_rate", **grid):
    """One row per grid point and seed, model/dataset defaulting; the metric distinct per
    configuration (so a line can be traced back to the one it shows) plus a little seed noise."""
    grid = {"model": ["dam-softmax"], "dataset": ["random"], **grid}
    rows = []
    for i, combo in enumerate(itertools.product(*grid.values())):
        for seed in seeds:
            row = dict(zip(grid, combo), experiment=experiment, seed=seed, cell_key=f"{i}-{seed}")
            row[metric] = 0.05 + 0.9 * (zlib.crc32(repr(combo).encode()) % 1000) / 1000 + 0.01 * (seed - 1)
            row["steps"] = float(i % 5 + seed)
            rows.append(row)
    return pd.DataFrame(rows)


def _series_lines(drawn):
    return [line for d in drawn for ax in d.figure.axes for line in ax.lines if line.get_gid() == "series"]


def _close(drawn):
    import matplotlib.pyplot as plt

    for d in drawn:
        plt.close(d.figure)


@pytest.mark.slow
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
    md = (tmp_path / "report" / "report.md").read_text()
    assert "n_memories=2" in md and "n = 3 seeds in every cell" in md
    assert len(pd.read_csv(tmp_path / "report" / "aggregate.csv")) == 3
    assert all(p.exists() for p in paths)


def test_intervals_are_student_t_over_seeds_and_absent_for_one_seed():
    df = pd.concat([_grid(seeds=(0, 1), n_memories=[10]), _grid(seeds=(0,), n_memories=[20])], ignore_index=True)
    agg = aggregate(df).set_index("n_memories")
    sd = df[df.n_memories == 10].success_rate.std(ddof=1)
    assert agg.loc[10, "success_rate_ci95"] == pytest.approx(12.7062 * sd / math.sqrt(2), rel=1e-4)  # 6.5 × 1.96
    assert agg.loc[10, "success_rate_n"] == 2 and math.isnan(agg.loc[20, "success_rate_ci95"])


def test_config_columns_keep_unknown_settings_and_leave_out_provenance():
    df = _grid(n_memories=[10, 20]).assign(variant=lambda d: np.where(d.seed == 0, "a", "b"), load=0.5,
                                           code_experiment="abc123", code_model="def456", from_store=True)
    config, metrics = config_columns(df), metric_columns(df)
    assert "n_memories" in config and "variant" in config  # a registry name; an unknown string setting
    assert not {"code_experiment", "code_model", "from_store", "seed", "cell_key"} & set(config + metrics)
    assert {"success_rate", "steps", "load"} <= set(metrics)


def test_what_varies_follows_and_stays_constant():
    dam = _grid(beta=[1.0, 8.0, 64.0], similarity=["dot", "l2"], noise_level=[0.1, 0.3], n_memories=[5, 10, 20],
                dim=[64], max_steps=[20])
    chn = _grid(model=["chn"], noise_level=[0.1, 0.3], n_memories=[5, 10, 20], dim=[64], max_sweeps=[20])
    var = find_varying(pd.concat([dam, chn], ignore_index=True), "n_memories")
    assert var.x == "n_memories"
    assert set(var.dims) == {"model", "beta", "similarity", "noise_level"} and var.dims[0] == "model"
    assert var.follows == {"max_sweeps": ["model"], "max_steps": ["model"]}  # one model's own settings
    assert var.constant["dim"] == 64 and var.constant["dataset"] == "random"
    # a number in one-to-one correspondence with x is x relabelled, not a series of its own
    relabelled = _grid(n_memories=[5, 10, 20], dim=[50]).assign(load=lambda d: d.n_memories / 50)
    relabelled["beta"] = relabelled.n_memories * 2.0  # beta is a registry parameter: config
    assert find_varying(relabelled, "n_memories").follows == {"beta": ["n_memories"]}


def test_one_series_per_configuration_and_each_line_is_its_seed_mean(tmp_path):
    """β × similarity × σ × K with CHN beside (no β, no similarity): 3·2·2 + 2 = 14 lines, each
    the mean over seeds of exactly one configuration; bands clipped to [0, 1]."""
    dam = _grid(beta=[1.0, 8.0, 64.0], similarity=["dot", "l2"], noise_level=[0.1, 0.3], n_memories=[5, 10, 20, 40])
    chn = _grid(model=["chn"], noise_level=[0.1, 0.3], n_memories=[5, 10, 20, 40])
    df = pd.concat([dam, chn], ignore_index=True)
    top = (df.model == "chn") & (df.noise_level == 0.1)
    df.loc[top, "success_rate"] = np.where(df.loc[top, "seed"] == 0, 0.9, 1.0)  # its t-band would pass 1
    drawn = experiment_figures(df, "capacity", tmp_path / "capacity", keep=True)
    try:
        dims = ["model", "beta", "similarity", "noise_level"]
        expected = {k: g.groupby("n_memories").success_rate.mean()
                    for k, g in df.groupby(dims, dropna=False)}
        lines = _series_lines(drawn)
        assert len(lines) == len(expected) == 14 == sum(d.series for d in drawn) == sum(d.configurations for d in drawn)
        matched = set()
        for line in lines:
            xs, ys = line.get_xdata(), line.get_ydata()
            hits = [k for k, m in expected.items() if list(m.index) == list(xs) and np.allclose(m.to_numpy(), ys)]
            assert len(hits) == 1, (xs, ys)
            matched.add(hits[0])
        assert len(matched) == 14
        bands = [c for d in drawn for ax in d.figure.axes for c in ax.collections]
        assert bands and max(p.get_paths()[0].vertices[:, 1].max() for p in bands) == 1.0  # clipped, not 1.0x
        assert min(p.get_paths()[0].vertices[:, 1].min() for p in bands) >= 0.0
        assert all(d.png.stat().st_size > 5000 for d in drawn)
    finally:
        _close(drawn)


def test_a_single_seed_draws_no_band(tmp_path):
    drawn = experiment_figures(_grid(seeds=(0,), noise_level=[0.1, 0.3], n_memories=[5, 10]), "capacity",
                               tmp_path / "c", keep=True)
    try:
        assert len(_series_lines(drawn)) == 2
        assert not [c for d in drawn for ax in d.figure.axes for c in ax.collections]
    finally:
        _close(drawn)


@pytest.mark.slow
def test_too_many_values_for_a_channel_go_to_facets_then_figures(tmp_path):
    df = _grid(seeds=(0, 1), beta=list(map(float, range(1, 10))), similarity=["dot", "l1", "l2"],
               noise_level=[0.0, 0.1, 0.2, 0.3, 0.4], n_memories=[5, 10])
    var = find_varying(df, "n_memories")
    lay = plan_layout(df, var.dims)
    # 9 β values are past 8 hues: they become wrapped facet columns; σ (5) the hue; 5 × 3 lines
    # would pass 12 a panel, so similarity gets separate figures
    assert (lay.hue, lay.style, lay.col, lay.row, lay.figures, lay.wrap) == \
        ("noise_level", None, "beta", None, ["similarity"], 4)
    drawn = experiment_figures(df, "capacity", tmp_path / "c", keep=True)
    try:
        assert len(drawn) == 3 and [d.png.name for d in drawn] == ["c.png", "c-2.png", "c-3.png"]
        assert all(sum(ax.get_visible() for ax in d.figure.axes) == 9 for d in drawn)
        assert len(_series_lines(drawn)) == 9 * 3 * 5 == sum(d.configurations for d in drawn)
    finally:
        _close(drawn)


@pytest.mark.slow
def test_more_than_16_panels_are_split_into_several_figures(tmp_path):
    df = _grid(seeds=(0,), beta=list(map(float, range(20))), n_memories=[5, 10], model=["dam-softmax"])
    df = df.assign(similarity=np.where(df.beta % 2 == 0, "dot", "l2"))  # follows β: no dimension of its own
    drawn = experiment_figures(df, "capacity", tmp_path / "c", keep=True)
    try:
        assert [sum(ax.get_visible() for ax in d.figure.axes) for d in drawn] == [16, 4]
        assert len(_series_lines(drawn)) == 20
    finally:
        _close(drawn)


THEORY_EXPERIMENT = '''
"""A test experiment with a theory hook."""
from typing import Literal

import ambench
from ambench.params import Field, Params as _Params


class Params(_Params):
    size: int = Field(1, ge=1, description="x")
    kind: Literal["a", "b"] = Field("a", description="a series")


def theory(rows):
    import numpy as np
    x = np.sort(rows["size"].unique()).astype(float)
    return {"2 size": (x, 2 * x)}


def run(cell, progress=lambda m: None):
    return {"score": 2.0 * cell["size"]}


ambench.register_experiment(__name__.rpartition(".")[2], params=Params, doc="toy", run=run, main_metric="score",
                            x_axis="size", theory=theory, metric_range=(0, 100))
'''


def test_theory_hook_is_drawn_per_panel_and_named(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "toy_theory.py").write_text(THEORY_EXPERIMENT)
    monkeypatch.setenv("AMBENCH_EXPERIMENTS", str(folder))
    df = _grid("toy_theory", metric="score", size=[1, 2, 4], kind=["a", "b"], dataset=["random", "mnist-5k"])
    df["score"] = 2.0 * df["size"] + 0.1 * df.seed
    drawn = experiment_figures(df, "toy_theory", tmp_path / "toy", keep=True)
    try:
        theory = [line for d in drawn for ax in d.figure.axes for line in ax.lines if line.get_gid() == "theory"]
        assert len(drawn) == 1 and drawn[0].theory == ["2 size"] and len(theory) == 2  # one per dataset panel
        assert list(theory[0].get_ydata()) == [2.0, 4.0, 8.0]
        assert len(_series_lines(drawn)) == 4  # kind × dataset; theory lines are not series
    finally:
        _close(drawn)
    for row in df.to_dict("records"):
        Store(tmp_path / "r").write_result(row["cell_key"], row)
    write_report(tmp_path / "r")
    page = (tmp_path / "r" / "report" / "report.html").read_text()
    assert "theory: 2 size" in page and "score in [0, 100]" in page
    (folder / "toy_broken.py").write_text(THEORY_EXPERIMENT.replace("return {", "raise ValueError('no law')\n    return {"))
    broken = experiment_figures(df.assign(experiment="toy_broken"), "toy_broken", tmp_path / "broken")
    assert len(broken) == 1 and broken[0].series == 4 and "theory() failed: ValueError: no law" in broken[0].notes


EXTRA_METRICS = ["hits_rate", "overlap", "cosine", "error", "exact_rate"]


def _beta_study(root, ks=(5, 10, 20, 40), *, extra_metrics=()):
    """A β × similarity × σ × K study (4 varying parameters, 3 seeds) as stored cells, with
    `extra_metrics` beside success_rate and steps."""
    df = _grid(beta=[1.0, 8.0, 64.0], similarity=["dot", "l2"], noise_level=[0.1, 0.3], n_memories=list(ks),
               dim=[64])
    for i, m in enumerate(extra_metrics):
        df[m] = df["success_rate"] * (i + 1) / 7
    store = Store(root)
    for row in df.to_dict("records"):
        store.write_result(row["cell_key"], row)
    return df


def test_header_and_tables_say_what_varies(tmp_path):
    df = _beta_study(tmp_path)
    write_report(tmp_path)
    md = (tmp_path / "report" / "report.md").read_text()
    assert "**varies**: x: n_memories (4: 5, 10, 20, 40); beta (3: 1, 8, 64); noise_level (2: 0.1, 0.3); " \
           "similarity (2: dot, l2)" in md
    assert "dim=64" in md.split("**constant**")[1] and "model=dam-softmax" in md
    table = md.split("in every cell")[1]
    header = next(line for line in table.splitlines() if line.startswith("|"))
    assert [c.strip() for c in header.strip("|").split("|")] == \
        ["beta", "noise_level", "similarity", "n_memories=5", "n_memories=10", "n_memories=20", "n_memories=40"]
    full = pd.read_csv(tmp_path / "report" / "capacity.csv")
    assert len(full) == 48 and list(full.columns[4:8]) == ["success_rate_mean", "success_rate_std",
                                                             "success_rate_ci95", "success_rate_n"]
    one = full[(full.beta == 8) & (full.similarity == "l2") & (full.noise_level == 0.3) & (full.n_memories == 20)]
    rows = df[(df.beta == 8) & (df.similarity == "l2") & (df.noise_level == 0.3) & (df.n_memories == 20)].success_rate
    assert one.success_rate_ci95.item() == pytest.approx(stats.t.ppf(0.975, 2) * rows.std() / math.sqrt(3))


def test_the_every_metric_table_is_narrow_tables_of_the_varying_parameters(tmp_path):
    """Not one table as wide as every metric times (mean, interval) plus every parameter: at
    most METRICS_PER_TABLE metrics a table, "mean ± half-width" in one cell, the varying
    parameters (not the constant or following ones) as row headers, headers in words, and
    together every metric that is not constant."""
    from ambench.report._pages import METRICS_PER_TABLE

    _beta_study(tmp_path, extra_metrics=EXTRA_METRICS)  # 7 metrics in all
    write_report(tmp_path)
    page = (tmp_path / "report" / "report.html").read_text()
    every = page.split("<details>")[1].split("</details>")[0]
    boxes = re.findall(r"<div class='scroll metrics' data-metrics='(\d+)'>(.*?)</div>", every, re.S)
    assert len(boxes) == 2 and [int(n) for n, _ in boxes] == [METRICS_PER_TABLE, 7 - METRICS_PER_TABLE]
    titles = [t for _, body in boxes for t in re.findall(r"<th title='([^']+)'>", body)]
    assert sorted(titles) == sorted(["success_rate", "steps", *EXTRA_METRICS])
    assert "<th title='success_rate'>success rate</th>" in every
    for _, body in boxes:
        names = re.findall(r"<th>([a-z_]+)</th>", body.split("</thead>")[0])
        assert names == ["beta", "noise_level", "similarity", "n_memories"]  # dim (constant) is in the header
        assert "_ci95" not in body and "_mean" not in body
        assert re.search(r"<td>0\.\d+ ± 0\.\d+</td>", body)


@pytest.mark.browser
@pytest.mark.slow
def test_html_report_offline_series_match_configurations_in_headless_chromium(tmp_path):
    chromium = require_chromium()
    df = _beta_study(tmp_path / "r", ks=[5 * 2**i for i in range(16)],  # a table wider than the page
                     extra_metrics=EXTRA_METRICS)  # and 7 metrics: a single every-metric table would scroll
    write_report(tmp_path / "r")
    page = tmp_path / "r" / "report" / "report.html"
    text = page.read_text()
    assert not re.search(r"""(src|href)=['"](https?:)?//""", text)  # nothing from the network
    probe = page.with_name("probe.html")
    probe.write_text(text.replace("</body>", (
        "<script>window.addEventListener('load',()=>{const b=document.body.dataset,imgs=[...document.images];"
        "b.rendered=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;b.images=imgs.length;"
        "b.series=[...document.querySelectorAll('figure')].map(f=>f.dataset.seriesCount+'/'+f.dataset.configurations).join(',');"
        "const s=document.querySelector('.scroll');b.scrolls=s.scrollWidth>s.clientWidth;"
        "document.querySelectorAll('details').forEach(d=>d.open=true);const m=[...document.querySelectorAll('.metrics')];"
        "b.metricsScroll=m.length+':'+m.filter(t=>t.scrollWidth>t.clientWidth).length;"
        "b.overflows=document.documentElement.scrollWidth>window.innerWidth;"
        "});</script></body>")))
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
             "--virtual-time-budget=5000", "--window-size=1400,2000"]
    dom = subprocess.run(flags + ["--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    configurations = len(df[["beta", "similarity", "noise_level"]].drop_duplicates())
    assert f'data-series="{configurations}/{configurations}"' in dom, dom[-800:]
    # the page shows what index.json says was drawn: each figure, its panels and its series
    index = json.loads((tmp_path / "r" / "report" / "index.json").read_text())["experiments"]
    figures = [f for figs in index.values() for f in figs]
    for f in figures:
        drawn = sum(len(p["series"]) for p in f["panels"])
        assert f"data-series-count=\"{drawn}\" " in dom and f"data-panels=\"{len(f['panels'])}\"" in dom
        assert f"data-png=\"{f['png']}\"" in dom
    assert dom.count("<figure ") == len(figures) == 1
    assert all(s["points"] == 16 and s["seeds"] == [3] for p in figures[0]["panels"] for s in p["series"])
    assert 'data-images="1"' in dom and 'data-rendered="1"' in dom
    assert 'data-scrolls="true"' in dom and 'data-overflows="false"' in dom  # the wide table scrolls in its box
    assert 'data-metrics-scroll="2:0"' in dom  # the every-metric table fits the page: nothing to scroll sideways
    shot = tmp_path / "shot.png"
    subprocess.run(flags + [f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000


def test_a_categorical_x_axis_is_drawn_at_evenly_spaced_labelled_positions(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "toy_categorical.py").write_text(THEORY_EXPERIMENT.replace('x_axis="size"', 'x_axis="kind"'))
    monkeypatch.setenv("AMBENCH_EXPERIMENTS", str(folder))
    df = _grid("toy_categorical", metric="score", size=[1, 2], kind=["b", "a", "c"])
    drawn = experiment_figures(df, "toy_categorical", tmp_path / "cat", keep=True)
    try:
        lines = _series_lines(drawn)
        assert len(lines) == 2 and list(lines[0].get_xdata()) == [0, 1, 2]
        assert [t.get_text() for t in drawn[0].figure.axes[0].get_xticklabels()] == ["a", "b", "c"]
    finally:
        _close(drawn)


def _family_study():
    """chn, dam (power: β takes no part) and dam-softmax at two β, on two datasets at two noise
    levels, as format-2 rows would load: β missing where it takes no part."""
    parts = [_grid(model=["chn"], dataset=["random", "mnist-5k"], noise_level=[0.1, 0.3], n_memories=[2, 5, 10]),
             _grid(model=["dam"], dataset=["random", "mnist-5k"], noise_level=[0.1, 0.3], n_memories=[2, 5, 10]),
             _grid(model=["dam-softmax"], dataset=["random", "mnist-5k"], noise_level=[0.1, 0.3],
                   n_memories=[2, 5, 10], beta=[1.0, 10.0])]
    return pd.concat(parts, ignore_index=True)


def test_the_default_picture_compares_every_family_in_each_panel(tmp_path):
    """One panel per (dataset, noise level), every family in each; β varies inside dam-softmax's
    series, never as a facet that separates chn and dam; labels in words."""
    drawn = experiment_figures(_family_study(), "capacity", tmp_path / "cmp", keep=True)
    try:
        assert len(drawn) == 1 and len(drawn[0].panels) == 4
        for panel in drawn[0].panels:
            assert set(panel["fixed"]) == {"dataset", "noise_level"}
            assert [s["label"] for s in panel["series"]] == ["chn", "dam", "dam-softmax, β = 1", "dam-softmax, β = 10"]
        ax = drawn[0].figure.axes[0]
        assert ax.get_xlabel() == "stored patterns K" and ax.get_ylabel() == "success rate"
    finally:
        _close(drawn)


def test_coinciding_series_stay_visible_and_are_named(tmp_path):
    df = _family_study()
    same = df.model == "dam"
    twin = df[(df.model == "dam-softmax") & (df.beta == 1.0)]
    df.loc[same, "success_rate"] = twin.success_rate.to_numpy()  # dam equal to dam-softmax β = 1 everywhere
    drawn = experiment_figures(df, "capacity", tmp_path / "same", keep=True)
    try:
        lines = _series_lines(drawn)
        assert len(lines) == 16
        hollow = [ln for ln in lines if ln.get_markerfacecolor() == "white"]
        assert len(hollow) == 4  # the later of the two, in each panel, offset along x
        assert any("“dam” = “dam-softmax, β = 1” (every panel)" in n for n in drawn[0].notes)
        legend = [t.get_text() for t in drawn[0].figure.legends[0].get_texts()]
        assert "dam-softmax, β = 1  (= dam)" in legend
    finally:
        _close(drawn)


def test_the_reader_chooses_axes_channels_and_rows(tmp_path):
    from ambench.report._pages import Choice

    choice = Choice(hue="model", col="beta", where=(("dataset", "mnist-5k"),))
    drawn = experiment_figures(_family_study(), "capacity", tmp_path / "pick", keep=True, choice=choice)
    try:
        assert all(p["fixed"].get("dataset", "mnist-5k") == "mnist-5k" for d in drawn for p in d.panels)
        assert {p["fixed"].get("beta") for d in drawn for p in d.panels} >= {1.0, 10.0}
    finally:
        _close(drawn)
    with pytest.raises(ValueError, match="--hue nope: no such column"):
        experiment_figures(_family_study(), "capacity", tmp_path / "bad", choice=Choice(hue="nope"))


def test_report_command_takes_the_readers_choice_and_a_sweep_files_report_section(tmp_path, capsys):
    from ambench import cli

    store = Store(tmp_path / "r")
    for row in _family_study().to_dict("records"):
        store.write_result(row["cell_key"], {k: v for k, v in row.items() if not (isinstance(v, float) and v != v)})
    sweep = tmp_path / "s.yaml"
    sweep.write_text("report: {col: dataset, row: noise_level, where: {noise_level: 0.3}}\n")
    assert cli.main(["report", str(tmp_path / "r"), "--sweep", str(sweep)]) == 0
    index = json.loads((tmp_path / "r" / "report" / "index.json").read_text())["experiments"]["capacity"]
    assert [p["fixed"] for p in index[0]["panels"]] == [{"dataset": "mnist-5k"}, {"dataset": "random"}]
    assert cli.main(["report", str(tmp_path / "r"), "--hue", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--hue nope: no such column here" in err and err.count("\n") == 1


@pytest.mark.slow
def test_where_filters_every_file_of_the_report_and_refuses_a_filter_that_keeps_nothing(tmp_path):
    """--where is the reader's subset: the header, aggregate.csv and rows.csv hold only its cells;
    one that matches no cell is a one-line error naming the values there."""
    from ambench.report._pages import Choice

    store = Store(tmp_path)
    for cell in expand("noise", ["chn", "dam-softmax"], ["random"], [0], {"dim": [16], "n_memories": [2]}):
        run_cell(cell, store)
    write_report(tmp_path, choice=Choice(where=(("model", "chn"),)))
    md = (tmp_path / "report" / "report.md").read_text()
    assert "1 cells in 1 experiment" in md
    assert list(pd.read_csv(tmp_path / "report" / "aggregate.csv").model) == ["chn"]
    assert list(pd.read_csv(tmp_path / "report" / "rows.csv").model) == ["chn"]
    with pytest.raises(ValueError, match=r"^--where model=foo: no cell has it; model here: chn, dam-softmax$"):
        write_report(tmp_path, choice=Choice(where=(("model", "foo"),)))
