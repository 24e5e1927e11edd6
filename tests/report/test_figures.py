"""`ambench figures` redraws every registered figure from stored results, deterministically,
without running an experiment; the HTML report renders in a real browser."""

import hashlib
import shutil
import subprocess

import pytest

from ambench.report.figures import FIGURES
from conftest import ROOT, require_chromium


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def _cells():
    return {p: p.stat().st_mtime_ns for p in (ROOT / "results").glob("**/cells/*.json")}


@pytest.mark.slow
def test_every_figure_from_committed_results_without_running_anything(cli, tmp_path):
    before = _cells()
    out = cli("figures", "--out", tmp_path / "a")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert _cells() == before  # nothing was measured or rewritten
    for fig in FIGURES.values():
        for ext in ("pdf", "png"):
            assert (tmp_path / "a" / f"{fig.name}-{fig.sweep}.{ext}").stat().st_size > 1000
    again = cli("figures", "--only", "F1,F2", "--out", tmp_path / "b")
    assert again.returncode == 0
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert all(a[k] == b[k] for k in b)  # byte-for-byte reproducible


@pytest.mark.slow
def test_missing_results_name_the_sweep_to_run(cli, tmp_path):
    out = cli("figures", "--only", "F2", "--results", tmp_path, "--out", tmp_path / "f")
    assert out.returncode == 1 and "ambench sweep figures/f2-attractors/sweep.yaml" in out.stdout
    assert len(out.stdout.strip().splitlines()) == 1, out.stdout  # one line, however narrow the terminal
    nowhere = cli("figures", "--only", "F2,F3", "--results", tmp_path / "nope", "--out", tmp_path / "f")
    lines = nowhere.stdout.strip().splitlines()
    assert nowhere.returncode == 1 and len(lines) == 1 and f"no results folder {tmp_path / 'nope'}" in lines[0] \
        and "--results DIR" in lines[0], nowhere.stdout


@pytest.mark.slow
def test_unknown_figure_is_a_one_line_error(cli):
    out = cli("figures", "--only", "F99")
    assert out.returncode == 2 and "registered: F1" in out.stderr


@pytest.mark.browser
@pytest.mark.slow
def test_html_report_renders_tables_and_images_in_headless_chromium(cli, tmp_path):
    chromium = require_chromium()
    shutil.copytree(ROOT / "results" / "smoke" / "f5-noise", tmp_path / "r")
    out = cli("report", tmp_path / "r")
    assert out.returncode == 0, out.stderr
    page = tmp_path / "r" / "report" / "report.html"
    checked = tmp_path / "checked.html"  # the page plus a probe that records what really rendered
    checked.write_text(page.read_text().replace("</body>", (
        "<script>window.addEventListener('load',()=>{const imgs=[...document.images];"
        "document.body.dataset.images=imgs.length;"
        "document.body.dataset.rendered=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;"
        "document.body.dataset.tables=document.querySelectorAll('table tr').length;});</script></body>")))
    run = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                          "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()],
                         capture_output=True, text=True, timeout=120)
    dom = run.stdout
    assert 'data-images="1"' in dom and 'data-rendered="1"' in dom, dom[-500:]
    rows = int(dom.split('data-tables="')[1].split('"')[0])
    assert rows >= 2
    console_errors = [line for line in run.stderr.splitlines() if "CONSOLE" in line and "rror" in line]
    assert not console_errors, console_errors


NEW_FIGURE = '''
import matplotlib.pyplot as plt

import ambench
from ambench.report import SINGLE, label, model_colour


def plot(df):
    fig, ax = plt.subplots(figsize=SINGLE)
    table = df.groupby(["model", "n_memories"]).success_rate.mean().reset_index()
    for model, part in table.groupby("model"):
        ax.plot(part.n_memories, part.success_rate, marker="o", color=model_colour(model), label=model)
    ax.set(xlabel=label("n_memories"), ylabel="success rate")
    return fig, table, "a new folder"


ambench.register_figure("Fnew", title="a figure dropped into the figures folder", plot=plot)
'''
NEW_SWEEP = """name: fnew-capacity
experiment: capacity
models: [chn]
datasets: [random]
seeds: [0]
grid: {dim: [16], n_memories: [2, 4], n_queries: [4]}
smoke:
  grid: {dim: [16], n_memories: [2], n_queries: [4]}
"""


@pytest.mark.slow  # a two-cell sweep and a figure
def test_a_new_figure_folder_is_discovered_swept_and_drawn(tmp_path, monkeypatch, capsys):
    """A figure is one folder (figure.py, sweep.yaml): dropped into the figures folder it is
    registered with its sweep's name and file, `ambench sweep` takes the folder, and `ambench
    figures` draws it; nothing else is edited."""
    from ambench import cli
    from ambench.report.figures import sweep_path

    folder = tmp_path / "figures" / "f99-new"
    folder.mkdir(parents=True)
    (folder / "figure.py").write_text(NEW_FIGURE)
    (folder / "sweep.yaml").write_text(NEW_SWEEP)
    monkeypatch.setenv("AMBENCH_FIGURES", str(tmp_path / "figures"))
    assert list(FIGURES) == ["Fnew"]  # the folder variable is seen at once; the shipped ones are not read
    fig = FIGURES["Fnew"]
    assert fig.sweep == "fnew-capacity" and sweep_path(fig) == folder / "sweep.yaml"
    results = tmp_path / "results"
    assert cli.main(["sweep", str(folder), "--smoke", "--out", str(results / "smoke" / "fnew-capacity")]) == 0
    assert cli.main(["figures", "--only", "Fnew", "--results", str(results), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "Fnew-fnew-capacity.png").stat().st_size > 1000
    assert "a figure dropped into the figures folder" in capsys.readouterr().out
    monkeypatch.delenv("AMBENCH_FIGURES")
    assert "Fnew" not in FIGURES and {"F1", "F2", "F12"} <= set(FIGURES)


def test_a_figure_folder_whose_sweep_name_disagrees_is_a_one_line_error(tmp_path, monkeypatch):
    from ambench.params import ConfigError

    folder = tmp_path / "f99-new"
    folder.mkdir()
    (folder / "figure.py").write_text(NEW_FIGURE.replace('plot=plot)', 'plot=plot, sweep="other")'))
    (folder / "sweep.yaml").write_text(NEW_SWEEP)
    monkeypatch.setenv("AMBENCH_FIGURES", str(tmp_path))
    with pytest.raises(ConfigError, match="sweep='other' but its sweep file .* is named 'fnew-capacity'"):
        list(FIGURES)
    monkeypatch.delenv("AMBENCH_FIGURES")
