"""Comparing model families: one model's parameter varied beside another model's cells, and
rows that keep each component's parameters under its own name."""

import pytest

from ambench.sweep import ConfigError, expand
from ambench.sweep._spec import apply_overrides


def test_a_model_prefixed_value_varies_that_model_only():
    cells = expand("capacity", ["chn", "dam-softmax"], ["random"], [0],
                   {"dam-softmax.beta": [1, 5], "dim": [30], "n_memories": [3]})
    assert sorted((c["model"], c.get("beta")) for c in cells) == [("chn", None), ("dam-softmax", 1.0),
                                                                 ("dam-softmax", 5.0)]
    chn = next(c for c in cells if c["model"] == "chn")
    assert not any(k.startswith("model.beta") for k in chn.row_params())


def test_a_value_for_a_model_not_in_the_run_is_a_one_line_error():
    with pytest.raises(ConfigError, match="'dam-softmax' is not in this run") as err:
        expand("capacity", ["chn"], ["random"], [0], {"dam-softmax.beta": [1, 5]})
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="write --set dam-softmax.beta"):
        expand("capacity", ["chn", "dam-softmax"], ["random"], [0], {"beta": [5]})
    with pytest.raises(ConfigError, match="neither a component kind"):
        expand("capacity", ["chn"], ["random"], [0], {"no-such-model.beta": [5]})


def test_the_same_prefix_works_in_sweep_overrides():
    spec = apply_overrides({"experiment": "capacity", "models": ["chn", "dam-softmax"], "grid": {"dim": [30]}},
                           ["grid.dam-softmax.beta=[1,10]"])
    assert spec["grid"] == {"dim": [30], "dam-softmax.beta": [1, 10]}
    cells = expand("capacity", spec["models"], ["random"], [0], spec["grid"], hint="grid:")
    assert len(cells) == 3


def test_wandb_series_names_carry_only_what_varies():
    """'chn', not 'chn, beta=None, interaction=None, n=None, update=async': a parameter that
    takes no part is absent from the row and from the name; β names dam-softmax's lines only."""
    from ambench.sweep import parameter_names
    from ambench.sweep._wandb import metric_curves

    rows = [{"model": "chn", "dataset": "random", "experiment.n_memories": k, "model.update": "async",
             "success_rate": 1.0 / k} for k in (2, 4)]
    rows += [{"model": "dam-softmax", "dataset": "random", "experiment.n_memories": k, "model.beta": b,
              "model.similarity": "dot", "success_rate": b / (b + k)} for k in (2, 4) for b in (1.0, 10.0)]
    xs, ys, names = metric_curves(rows, "success_rate", "n_memories", tuple(sorted(parameter_names())))
    assert xs == [2, 4] and names == ["chn", "dam-softmax, β = 1", "dam-softmax, β = 10"]


def test_every_parameter_and_main_metric_declares_its_label_in_words():
    from ambench.data import DATASETS
    from ambench.models import MODELS
    from ambench.params import METRIC_LABELS, PARAM_LABELS, label, value_label
    from ambench.sweep import EXPERIMENTS

    missing = [f"{c.kind} {c.name}: {n}" for reg in (EXPERIMENTS, MODELS, DATASETS) for c in reg.values()
               for n in c.params.model_fields if n not in PARAM_LABELS]
    assert missing == []
    assert [e.main_metric for e in EXPERIMENTS.values() if e.main_metric not in METRIC_LABELS] == []
    assert label("n_memories") == "stored patterns K" and label("model.beta") == "inverse temperature β"
    assert label("success_rate") == "success rate" and value_label("beta", 10) == "β = 10"
    assert label("noise_level", noise_kind="gaussian") == "Gaussian noise σ"


def test_migrate_rewrites_a_committed_folder_in_format_2_under_the_same_keys(tmp_path, capsys):
    """On a copy of results/f3-khalf (60 format-1 cells): every cell rewritten with
    `<kind>.<name>` parameters under its own key, format.json written, the table unchanged in
    its flat view, and a second migrate changes nothing."""
    import json
    import shutil

    import pandas as pd
    from conftest import ROOT

    from ambench.report import flat_view, load_results
    from ambench.sweep._migrate import migrate

    folder = tmp_path / "f3-khalf"
    shutil.copytree(ROOT / "results" / "f3-khalf", folder)
    before = sorted(p.name for p in (folder / "cells").glob("*.json"))
    table = flat_view(load_results(folder)).sort_values("cell_key").reset_index(drop=True)
    assert migrate(tmp_path) == 0
    after = sorted(p.name for p in (folder / "cells").glob("*.json"))
    assert after == before and len(after) == 60
    rows = [json.loads(p.read_text()) for p in sorted((folder / "cells").glob("*.json"))]
    assert all("experiment.n_memories" in r and "n_memories" not in r for r in rows)
    assert all("model.beta" not in r for r in rows if r.get("model.interaction") == "power")
    assert json.loads((folder / "format.json").read_text())["format"] == 2
    again = flat_view(load_results(folder)).sort_values("cell_key").reset_index(drop=True)
    pd.testing.assert_frame_equal(again[table.columns], table)
    stamps = {p.name: p.stat().st_mtime_ns for p in (folder / "cells").glob("*.json")}
    assert migrate(tmp_path) == 0 and stamps == {p.name: p.stat().st_mtime_ns for p in (folder / "cells").glob("*.json")}


def test_a_components_declared_label_names_its_own_parameter(tmp_path):
    """The Energy Transformer declares `dim` as "token size D": its figures, its series and the
    listings say so; an axis over several models, or another model's `dim`, keeps the shared
    vocabulary's "neurons N"."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from ambench.models import MODELS
    from ambench.params import label, param_rows, value_label
    from ambench.report._pages import Choice, experiment_figures

    et = "energy-transformer"
    assert label("dim", components=[et]) == "token size D" and value_label("model.dim", 32, components=[et]) == "D = 32"
    assert label("dim") == label("dim", components=["chn"]) == "neurons N"
    assert label("n_memories", components=[et]) == "stored patterns K"  # ET declares none for it: the vocabulary
    assert "drawn as “token size D”" in dict((r[0], r[3]) for r in param_rows(MODELS[et]))["dim"]
    assert not any("drawn as" in r[3] for r in param_rows(MODELS["chn"]))

    def rows(model, dims):
        return [{"experiment": "capacity", "model": model, "dataset": "random", "seed": s, "cell_key": f"{model}{d}{k}{s}",
                 "n_memories": k, "dim": d, "success_rate": 1 / (k + s + 1)} for d in dims for k in (2, 4) for s in (0, 1)]

    only_et = pd.DataFrame(rows(et, [16, 32]))
    drawn = experiment_figures(only_et, "capacity", tmp_path / "et", keep=True, choice=Choice(x="dim"))
    assert drawn[0].figure.axes[0].get_xlabel() == "token size D"
    plt.close(drawn[0].figure)
    mixed = pd.DataFrame(rows(et, [16, 32]) + [{**r, "dim": None} for r in rows("chn", [0])])
    drawn = experiment_figures(mixed, "capacity", tmp_path / "mixed", keep=True)
    assert [s["label"] for s in drawn[0].panels[0]["series"]] == ["chn", f"{et}, D = 16", f"{et}, D = 32"]
    assert drawn[0].figure.axes[0].get_xlabel() == "stored patterns K"
    plt.close(drawn[0].figure)
    both = pd.DataFrame(rows(et, [16, 32]) + rows("chn", [16, 32]))
    drawn = experiment_figures(both, "capacity", tmp_path / "both", keep=True, choice=Choice(x="dim"))
    assert drawn[0].figure.axes[0].get_xlabel() == "neurons N"  # an axis over two models: the vocabulary
    plt.close(drawn[0].figure)


def test_f12_names_its_datasets_in_words():
    """Every built-in dataset has its name in words; F12's panel titles use them ("MNIST (5k)",
    "Fashion-MNIST"), not the registry's identifiers."""
    import itertools

    import matplotlib.pyplot as plt
    import pandas as pd

    from ambench.data import DATASETS
    from ambench.params import DATASET_LABELS, dataset_label
    from ambench.report.figures import FIGURES

    assert [n for n in DATASETS if n not in DATASET_LABELS] == []
    assert dataset_label("lab-bars") == "lab-bars"  # a plugin's dataset without words keeps its name
    rows = [{"dataset": d, "model": m, "noise_kind": k, "noise_level": lvl, "seed": s, "nearest_rate": 0.5 + 0.1 * s,
             "mse": 0.01 * (1 + s), "max_steps": steps if m == "dam-softmax" else None}
            for d, m, k, lvl, s, steps in itertools.product(["mnist-5k", "fashion_mnist-idx"], ["dam-softmax", "uhn"],
                                                            ["mask_patches", "mask_rows"], [0.25, 0.5], [0, 1], [5, 20])]
    fig, _, _ = FIGURES["F12"].plot(pd.DataFrame(rows))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    plt.close(fig)
    assert titles and all(t.startswith(("MNIST (5k)", "Fashion-MNIST")) for t in titles), titles
    assert not any("mnist-5k" in t or "fashion_mnist" in t for t in titles)
