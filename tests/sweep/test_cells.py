"""Cells and their keys: each component's parameters keyed on their own, defaults left out, so a
new defaulted parameter keeps every stored key; changed code is visible as outdated."""

import dataclasses
import json
import re

import pytest
from conftest import ROOT, run_cli

from ambench.data import DATASETS
from ambench.params import Field
from ambench.sweep import ConfigError, Store, cell_from_row, outdated_reason, resolve_cell, run_cell

COMMITTED = sorted((ROOT / "results").glob("**/cells/*.json"))


def _rows():
    return [json.loads(p.read_text()) for p in COMMITTED]


def test_every_committed_cell_is_found_under_its_key():
    rows = _rows()
    assert len(rows) > 4000
    assert all(cell_from_row(r).key == r["cell_key"] == p.stem for r, p in zip(rows, COMMITTED))


def test_committed_cells_are_rebuilt_without_their_data_files_which_only_computing_needs(monkeypatch, tmp_path):
    """A bare machine (no Fashion-MNIST folder here, whatever is installed) rebuilds every
    committed fashion_mnist-idx cell under its key; only `check_available`, run before cells are
    computed, looks for the files."""
    from ambench.data import _sources
    from ambench.sweep import check_available

    monkeypatch.setitem(_sources.IDX_DEFAULT_DIRS, "fashion_mnist-idx", str(tmp_path / "absent"))
    rows = [r for r in _rows() if r["dataset"] == "fashion_mnist-idx"]
    assert len(rows) > 100
    cells = [cell_from_row(r) for r in rows]
    assert [c.key for c in cells] == [r["cell_key"] for r in rows]
    with pytest.raises(ConfigError, match="fashion_mnist-idx: no IDX folder at .*absent.*dataset-fashion-mnist"):
        check_available(cells)


def test_adding_a_defaulted_dataset_parameter_keeps_every_committed_key(monkeypatch):
    """A new option whose default reproduces the old behaviour (here `contrast=1.0` on every
    dataset the committed results use) changes no key: 0 of them moved."""
    rows = _rows()
    for name in sorted({r["dataset"] for r in rows}):
        spec = DATASETS[name]
        extended = type(f"{spec.params.__name__}WithContrast", (spec.params,),
                        {"__annotations__": {"contrast": float},
                         "contrast": Field(1.0, gt=0, description="a new option; 1 is the old behaviour")})
        monkeypatch.setitem(DATASETS.items, name, dataclasses.replace(spec, params=extended))
    moved = [r["cell_key"] for r in rows if cell_from_row(r).key != r["cell_key"]]
    assert moved == []
    changed = resolve_cell("noise", "chn", "random", 0, {"contrast": 2.0})  # a non-default value is keyed
    assert changed.key != resolve_cell("noise", "chn", "random", 0, {}).key


def test_the_key_ignores_how_a_value_was_written_but_not_what_it_is():
    a = resolve_cell("noise", "dam-softmax", "random", 0, {"beta": 2, "encoding": "auto"})
    b = resolve_cell("noise", "dam-softmax", "random", 0, {"model.beta": 2.0, "encoding": "binary"})
    assert a.key == b.key and a["encoding"] == "binary"  # auto resolved before keying
    assert resolve_cell("noise", "dam-softmax", "random", 1, {"beta": 2.0}).key != a.key
    with pytest.raises(ConfigError, match="give seeds with --seeds"):
        resolve_cell("noise", "dam-softmax", "random", 0, {"seed": 1})


def test_a_cell_pickles_by_its_description():
    import pickle

    cell = resolve_cell("capacity", "dam", "random", 3, {"n": 4, "dim": 40})
    again = pickle.loads(pickle.dumps(cell))
    assert again == cell and again.key == cell.key and again["n"] == 4


@pytest.mark.slow
def test_changed_model_code_shows_its_cells_as_outdated(tmp_path, monkeypatch):
    from ambench.models import MODELS
    from ambench.sweep.driver import sweep_status

    store = Store(tmp_path)
    for n in (2, 3):
        run_cell(resolve_cell("capacity", "chn", "random", 0, {"dim": 16, "n_memories": n}), store)
    run_cell(resolve_cell("capacity", "dam", "random", 0, {"dim": 16, "n_memories": 2}), store)
    assert sweep_status(tmp_path)[0]["outdated"] == 0
    monkeypatch.setitem(MODELS.items, "chn", dataclasses.replace(MODELS["chn"], version="edited"))
    rows = store.rows()
    assert sorted(bool(outdated_reason(r)) for r in rows) == [False, True, True]
    assert "model chn code" in outdated_reason(next(r for r in rows if r["model"] == "chn"))
    assert sweep_status(tmp_path)[0]["outdated"] == 2


@pytest.mark.slow
def test_editing_an_experiment_file_is_seen_by_status_and_rerun_outdated_reruns_exactly_those(tmp_path):
    """A real edit of a real file, through the command line: 2 cells stored; a docstring edit
    outdates nothing; the experiment's code changed, `status` counts 2 outdated, `--rerun-outdated` recomputes those 2 only."""
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    source = (ROOT / "experiments" / "noise.py").read_text()
    (experiments / "noise.py").write_text(source)
    sweep = tmp_path / "s.yaml"
    sweep.write_text("name: t\nexperiment: noise\nmodels: [chn]\ndatasets: [random]\nseeds: [0]\n"
                     "grid: {dim: [16], n_memories: [2, 3], noise_kind: [flip], noise_level: [0.1], n_queries: [4]}\n")
    out = tmp_path / "r"
    env = {"AMBENCH_EXPERIMENTS": str(experiments)}
    assert run_cli("sweep", sweep, "--out", out, env=env).returncode == 0
    status = run_cli("status", out, env=env)
    assert "outdated" in status.stdout and "computed by code that has changed" not in status.stdout
    (experiments / "noise.py").write_text(source.replace('"""Retrieval under', '"""Edited. Retrieval under'))
    status = run_cli("status", out, env=env)  # documentation only: the code version stays
    assert "computed by code that has changed" not in status.stdout
    (experiments / "noise.py").write_text(source + "\nSCALE = 2 * 3  # new code\n")
    status = run_cli("status", out, env=env)
    assert "2 of 2 done cells were computed by code that has changed since" in status.stdout
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}
    again = run_cli("sweep", sweep, "--out", out, "--rerun-outdated", env=env)
    assert again.returncode == 0 and "re-running 2 cells" in again.stderr
    assert all(p.stat().st_mtime_ns != stamps[p.name] for p in (out / "cells").glob("*.json"))
    assert "computed by code that has changed" not in run_cli("status", out, env=env).stdout


def test_component_tables_are_generated_from_the_declarations():
    """The documentation's components page (docs/hooks.py) is `markdown_tables()`: one row per
    declared parameter of every registered model, dataset and experiment."""
    from ambench.cli import _listing, markdown_tables
    from ambench.params import param_rows

    text = markdown_tables()
    for kind in ("models", "datasets", "experiments"):
        for comp in _listing(kind).values():
            assert f"| `{comp.name}` |" in text, comp.name
            for name, *_ in param_rows(comp):
                assert f"| `{name}` |" in text, (comp.name, name)


@pytest.mark.parametrize("model, params, message", [
    ("uhn", {"beta": 5.0, "separation": "max"}, "beta=5.0 is used only with separation=softmax"),
    ("dam", {"beta": 2.0}, "beta=2.0 is used only with interaction=exp"),
    ("dam", {"n": 4, "interaction": "exp"}, "n=4 is used only with interaction=power|rectified"),
    ("chn", {"update": "sync", "order": "fixed"}, "order='fixed' is used only with update=async"),
    ("dam-softmax", {"dt": 0.1}, "dt=0.1 is used only with method=flow"),
])
def test_a_given_value_the_cell_would_not_use_is_refused(model, params, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_cell("noise", model, "random", 0, params)
    used = {"uhn": {"separation": "softmax"}, "dam": {"interaction": "exp" if "beta" in params else "power"},
            "chn": {"update": "async"}, "dam-softmax": {"method": "flow"}}[model]
    assert resolve_cell("noise", model, "random", 0, {**params, **used})  # where it takes part it is accepted


def test_every_only_with_condition_names_a_parameter_and_values_it_can_take():
    from typing import Literal, get_args, get_origin

    from ambench.models import MODELS
    from ambench.params import only_with
    from ambench.sweep import EXPERIMENTS

    seen = 0
    for registry in (MODELS, DATASETS, EXPERIMENTS):
        for comp in registry.values():
            fields = comp.params.model_fields
            for name, spec in fields.items():
                for other, allowed in only_with(spec).items():
                    seen += 1
                    assert other in fields and other != name, (comp.name, name, other)
                    ann = fields[other].annotation
                    if get_origin(ann) is Literal:
                        assert set(allowed) <= set(get_args(ann)), (comp.name, name, allowed)
    assert seen >= 5


@pytest.mark.slow
def test_every_committed_cell_keeps_its_key_in_the_namespaced_format():
    """Format 2 (`model.beta`, `experiment.n_memories`, ...; unused parameters absent) read back
    gives the same cell: every committed key is unchanged by the conversion `ambench migrate` does."""
    from ambench.sweep._cells import is_namespaced, namespaced_row

    moved = []
    for r in _rows():
        new = namespaced_row(r)  # resolves the cell and refuses a row whose key would change
        assert is_namespaced(new) and not any(k in new for k in ("beta", "n_memories", "dim"))
        if cell_from_row(new).key != r["cell_key"]:
            moved.append(r["cell_key"])
    assert moved == []


def test_a_stored_row_keeps_each_component_parameter_under_its_kind_and_only_those_used(tmp_path):
    store = Store(tmp_path)
    dam = resolve_cell("capacity", "dam", "random", 0, {"dim": 20, "n_memories": 2})
    soft = resolve_cell("capacity", "dam-softmax", "random", 0, {"dim": 20, "n_memories": 2, "beta": 5.0})
    for cell in (dam, soft):
        run_cell(cell, store)
    rows = {r["model"]: r for r in store.rows()}
    assert rows["dam"]["model.n"] == 3 and "model.beta" not in rows["dam"]  # β takes no part in x^n
    assert rows["dam-softmax"]["model.beta"] == 5.0 and "model.n" not in rows["dam-softmax"]
    assert rows["dam"]["experiment.n_memories"] == 2 and rows["dam"]["data.dim"] == 20
    assert not any(k in rows["dam"] for k in ("beta", "n_memories", "dim"))
    assert "experiment.success_threshold" not in rows["dam"]  # only with search=True
    assert json.loads((tmp_path / "format.json").read_text())["format"] == 2
    assert {cell_from_row(r).key for r in rows.values()} == {dam.key, soft.key}
