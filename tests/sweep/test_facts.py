"""One source for each fact: the identity and provenance columns are `_facts`', which imports no
JAX, and a stored row is made of exactly those, the parameters, declared metrics and the code versions."""

import json
import subprocess
import sys

import pytest

from ambench import _facts, cli
from ambench.sweep._run import provenance
from ambench.sweep._store import Store
from conftest import ROOT


def test_the_facts_module_imports_neither_jax_nor_pandas():
    code = ("import sys, ambench._facts, ambench._resources; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'pandas', 'numpy'))))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert json.loads(out.stdout) == []


def test_a_run_records_exactly_the_run_provenance():
    assert set(provenance(1.5)) == set(_facts.RUN_PROVENANCE)
    assert set(_facts.RUN_PROVENANCE) <= set(_facts.PROVENANCE)
    assert all(_facts.is_provenance(c) for c in (*_facts.PROVENANCE, "code_model"))


@pytest.mark.slow  # one capacity cell
def test_a_stored_row_is_identity_parameters_metrics_versions_and_provenance(tmp_path):
    out = tmp_path / "r"
    assert cli.main(["run", "capacity", "--model", "chn", "--dataset", "random", "--set", "dim=16",
                     "--set", "n_memories=2", "--set", "n_queries=4", "--out", str(out)]) == 0
    (row,) = Store(out).rows()
    assert set(_facts.IDENTITY) <= set(row)
    rest = set(row) - set(_facts.IDENTITY)
    provenance_cols = {c for c in rest if _facts.is_provenance(c)}
    assert provenance_cols == set(_facts.RUN_PROVENANCE) | {f"{_facts.CODE_PREFIX}{k}" for k in _facts.KINDS}
    params = {c for c in rest if c.split(".", 1)[0] in _facts.KINDS}
    from ambench._experiment import experiment

    declared = {m.name for m in experiment("capacity").metrics}
    stored = rest - provenance_cols - params
    assert {"success_rate", "wrong_bits", "pattern_dim"} <= stored <= declared  # every metric is declared
    assert declared - stored == {"capacity", "capacity_ratio", "threshold_rate", "mse"}  # search and real-valued only


def test_an_experiment_shows_only_metrics_it_declares():
    from ambench import Params, count, register_experiment

    with pytest.raises(ValueError, match=r"shown_metrics \['hit'\] are not among its declared metrics"):
        register_experiment("t-facts", params=Params, doc="d", run=lambda cell: {}, main_metric="hits", x_axis="seed",
                            metrics=[count("hits", "hits")], shown_metrics=["hit"])


def test_the_protocol_spells_no_declared_default_again():
    """protocol.py reads a missing retrieval parameter's default from its declaration
    (`protocol.declared`), never as a literal beside `cell.get`."""
    import ast

    from ambench.protocol import RetrievalParams

    tree = ast.parse((ROOT / "src" / "ambench" / "protocol.py").read_text())
    literal = [ast.unparse(n) for n in ast.walk(tree)
               if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "get" and len(n.args) == 2
               and isinstance(n.args[0], ast.Constant) and n.args[0].value in RetrievalParams.model_fields
               and isinstance(n.args[1], ast.Constant)]
    assert literal == []
