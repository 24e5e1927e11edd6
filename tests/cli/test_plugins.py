"""Components from another installed package, through entry points: the example lab package in
tests/plugin_example is pip-installed into a temporary folder, and its model, dataset, experiment and
figure appear in the listings, run in a sweep and draw."""

import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(ROOT / "tests" / "plugin_example")],
                   check=True, capture_output=True, text=True, timeout=300, cwd=build)
    return site


def _env(site):
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.slow
def test_a_plugin_model_and_experiment_are_listed_and_run_in_a_sweep(plugin_site, tmp_path):
    env = _env(plugin_site)
    models = run_cli("models", env=env)
    assert models.returncode == 0 and "lab-clipped-dam" in models.stdout and "upper clip" in models.stdout
    assert "lab_overlap" in run_cli("experiments", env=env).stdout
    sweep = tmp_path / "lab.yaml"
    sweep.write_text("name: lab\nexperiment: lab_overlap\nmodels: [lab-clipped-dam, dam-softmax]\n"
                     "datasets: [random]\nseeds: [0, 1]\n"
                     "grid: {dim: [16], n_memories: [4], noise_kind: [flip], noise_level: [0.1], n_queries: [4]}\n")
    out = tmp_path / "r"
    done = run_cli("sweep", sweep, "--out", out, env=env)
    assert done.returncode == 0, done.stderr
    assert "4/4 cells done" in done.stdout
    assert "lab-bars" in run_cli("datasets", env=env).stdout
    bars = run_cli("run", "noise", "--model", "dam-softmax", "--dataset", "lab-bars", "--set", "n_memories=16",
                   "--set", "noise_kind=mask_rows", "--set", "noise_level=0.25", "--out", tmp_path / "bars", env=env)
    assert bars.returncode == 0, bars.stderr
    assert "lab-bars" in bars.stdout and "run" in bars.stdout
    bad = run_cli("run", "lab_overlap", "--model", "lab-clipped-dam", "--dataset", "random", "--set", "high=nope",
                  "--out", tmp_path / "b", env=env)
    assert bad.returncode == 2 and "model lab-clipped-dam: high='nope'" in bad.stderr
    assert "lab-clipped-dam" not in run_cli("models").stdout  # not installed: not there


@pytest.mark.slow
def test_a_plugin_figure_is_drawn_from_its_own_sweep_file(plugin_site, tmp_path):
    env = _env(plugin_site)
    drawn = run_cli("figures", "--only", "lab-overlap", "--rerun-smoke", "--results", tmp_path / "results",
                    "--out", tmp_path / "figures", env=env)
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "results" / "smoke" / "lab-overlap" / "results.parquet").exists()
    table = pd.read_csv(tmp_path / "figures" / "lab-overlap-lab-overlap.csv")
    assert sorted(table.model.unique()) == ["dam-softmax", "lab-clipped-dam"] and len(table) == 4
    assert (tmp_path / "figures" / "lab-overlap-lab-overlap.png").stat().st_size > 1000
    assert run_cli("figures", "--only", "lab-overlap").returncode == 2  # not installed: unknown figure


LAB = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "labx"
        version = "0.0.1"

        [project.entry-points."ambench.models"]
        labx = "labx.model"
        [project.entry-points."ambench.datasets"]
        labx = "labx.data"
        [project.entry-points."ambench.experiments"]
        labx = "labx.experiment"
        [project.entry-points."ambench.figures"]
        labx = "labx.figure"

        [tool.setuptools]
        packages = ["labx"]
        [tool.setuptools.package-data]
        labx = ["*.yaml"]
        """,
    "labx/__init__.py": "",
    "labx/model.py": '''
        """Two softmax DAMs with a scaled read-out: the ninth and tenth model."""
        import ambench
        from ambench.models import ContinuousDAM


        class ScaledParams(ambench.Params):
            beta: float = ambench.Field(8.0, gt=0, description="inverse temperature")


        def build(p, patterns, *, labels, image_shape, key, mask):
            return ContinuousDAM(patterns, beta=p.beta, similarity="dot", mask=mask)


        ambench.register_model("labx-a", params=ScaledParams, doc="lab model a", build=build, maskable=True)
        ambench.register_model("labx-b", params=ScaledParams, doc="lab model b", build=build, maskable=True)
        ''',
    "labx/data.py": '''
        """Twelve 4 x 4 checkerboard-like ±1 images (three classes)."""
        import numpy as np

        import ambench
        from ambench.data import Dataset, ImageParams


        def images(p):
            x = np.random.default_rng(7).choice([0.0, 1.0], size=(12, 16)).astype(np.float32)
            return Dataset("labx-boards", x, np.arange(12) % 3, (1, 4, 4), 3)


        ambench.register_dataset("labx-boards", params=ImageParams, doc="lab boards", images=images,
                                 size=lambda p: 12, dim=lambda p: 16)
        ''',
    "labx/experiment.py": '''
        """Success and overlap after retrieval, through the shared protocol."""
        import ambench
        from ambench.protocol import RetrievalParams, measure_retrieval


        class Params(RetrievalParams):
            n_memories: int = ambench.Field(4, ge=1, description="K")


        def run(cell, progress=lambda message: None):
            out = measure_retrieval(cell)
            return {"labx_rate": out["success_rate"], "nearest_rate": out["nearest_rate"]}


        ambench.register_experiment("labx_recall", params=Params, doc="lab recall", run=run,
                                    main_metric="labx_rate", x_axis="n_memories",
                                    metrics=[ambench.rate("labx_rate", "lab success rate"),
                                             ambench.rate("nearest_rate", "nearest stored pattern")])
        ''',
    "labx/figure.py": '''
        """Lab recall vs K, one line per model in its colour."""
        from pathlib import Path

        import matplotlib.pyplot as plt

        import ambench
        from ambench.report import SINGLE, model_colour


        def plot(df):
            fig, ax = plt.subplots(figsize=SINGLE)
            table = df.groupby(["model", "n_memories"]).labx_rate.mean().reset_index()
            for model, part in table.groupby("model"):
                ax.plot(part.n_memories, part.labx_rate, marker="o", label=model, color=model_colour(model))
            ax.legend()
            return fig, table.assign(colour=table.model.map(model_colour)), ""


        ambench.register_figure("labx-fig", sweep="labx", title="lab recall", plot=plot,
                                sweep_file=Path(__file__).with_name("labx.yaml"))
        ''',
    "labx/labx.yaml": """
        name: labx
        experiment: labx_recall
        models: [labx-a, labx-b, dam-softmax]
        datasets: [labx-boards]
        seeds: [0]
        grid: {n_memories: [2, 4], noise_kind: [gaussian], noise_level: [0.1], n_queries: [2]}
        smoke:
          seeds: [0]
        """,
}


@pytest.mark.slow
def test_a_new_package_adds_a_model_an_experiment_a_dataset_and_a_figure_one_file_each(tmp_path):
    """Written here from nothing, installed (pip --no-deps into a folder on the path, removed with
    tmp_path), then run together: one sweep (through `figures --rerun-smoke`) and one figure
    whose ninth and tenth models have their own colours, distinct from all and never black."""
    import textwrap

    src = tmp_path / "labx-src"
    for name, text in LAB.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(textwrap.dedent(text).lstrip())
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(src)], check=True, capture_output=True, text=True, timeout=300,
                   cwd=tmp_path)
    env = _env(site)
    drawn = run_cli("figures", "--only", "labx-fig", "--rerun-smoke", "--results", tmp_path / "results",
                    "--out", tmp_path / "figures", env=env)
    assert drawn.returncode == 0, drawn.stdout[-2000:] + drawn.stderr[-2000:]
    table = pd.read_csv(tmp_path / "figures" / "labx-fig-labx.csv")
    assert sorted(table.model.unique()) == ["dam-softmax", "labx-a", "labx-b"] and len(table) == 6
    assert table.labx_rate.between(0, 1).all()
    colours = table.drop_duplicates("model").set_index("model").colour
    assert colours.nunique() == 3 and "#000000" not in set(colours)
    assert (tmp_path / "figures" / "labx-fig-labx.png").stat().st_size > 1000
    check = ("from ambench.models import MODELS; from ambench.report import model_colour; "
             "names = sorted(MODELS); cs = [model_colour(n) for n in names]; "
             "assert len(names) >= 10 and len(set(cs)) == len(cs), (names, cs); "
             "assert all(c != '#000000' for n, c in zip(names, cs) if n != 'uhn'); print(len(names))")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300,
                         env={**os.environ, **env})
    assert out.returncode == 0, out.stderr[-2000:]
    listed = run_cli("experiments", env=env)
    assert "labx_recall" in listed.stdout and "labx-boards" in run_cli("datasets", env=env).stdout
