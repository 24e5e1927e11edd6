"""Code versions hash the code, not its documentation: the normalised syntax tree without
docstrings or comments (`ambench._source`), over the modules a component actually uses."""

import importlib
import sys
import textwrap

import pytest

from ambench._source import closure, code_hash, module_version

BASE = textwrap.dedent('''\
    """A module."""

    def energy(x, beta=2.0):
        """The energy."""
        return -beta * x * x  # a comment
    ''')


@pytest.mark.parametrize("edit", [
    lambda s: s.replace('"""The energy."""', '"""The energy, documented at length:\\n    E = -beta x^2."""'),
    lambda s: s.replace("# a comment", "# another comment") + "\n# trailing note\n",
    lambda s: s.replace('"""A module."""', "# no docstring now"),
    lambda s: s.replace("-beta * x * x", "-beta * x   *   x"),
])
def test_a_documentation_or_layout_edit_keeps_the_version(tmp_path, edit):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(BASE)
    b.write_text(edit(BASE))
    assert a.read_text() != b.read_text() and code_hash([a]) == code_hash([b])


@pytest.mark.parametrize("edit", [
    lambda s: s.replace("-beta * x * x", "-beta * x * x * x"),
    lambda s: s.replace("beta=2.0", "beta=2.5"),
    lambda s: s.replace("-beta", "+beta"),
    lambda s: s + "\nSCALE = 1\n",
])
def test_an_arithmetic_or_code_edit_moves_the_version(tmp_path, edit):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(BASE)
    b.write_text(edit(BASE))
    assert code_hash([a]) != code_hash([b])


def _package(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))


def test_a_version_covers_the_modules_used_and_not_an_unrelated_one(tmp_path, monkeypatch):
    _package(tmp_path, {
        "labpkg/__init__.py": "",
        "labpkg/layers.py": "def tanh_layer(x):\n    return x\n",
        "labpkg/unrelated.py": "def other(x):\n    return 2 * x\n",
        "labpkg/model.py": "from .layers import tanh_layer\n\ndef build(x):\n    from . import lazy\n    return tanh_layer(x)\n",
        "labpkg/lazy.py": "K = 3\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    model = importlib.import_module("labpkg.model")
    try:
        names = sorted(p.name for p in closure(model))
        assert names == ["__init__.py", "layers.py", "lazy.py", "model.py"]  # lazy: imported in a function
        before = module_version(model)
        (tmp_path / "labpkg" / "unrelated.py").write_text("def other(x):\n    return 3 * x\n")
        assert module_version(model) == before
        (tmp_path / "labpkg" / "layers.py").write_text("def tanh_layer(x):\n    return -x\n")
        assert module_version(model) != before
    finally:
        for name in [m for m in sys.modules if m == "labpkg" or m.startswith("labpkg.")]:
            del sys.modules[name]


def test_a_models_version_leaves_out_the_machinery_and_an_experiments_leaves_out_the_models():
    from ambench.sweep._cells import EXPERIMENTS

    import ambench.models._discrete as discrete

    files = {p.name for p in closure(discrete)}
    assert "_discrete.py" in files and "_base.py" in files and "_lagrangians.py" in files
    assert not files & {"params.py", "_register.py", "_cells.py", "_continuous.py", "_hams.py"}
    noise = EXPERIMENTS["noise"]
    used = {p.name for p in closure(noise.module, exclude=("ambench.models", "ambench.energy"))}
    assert {"noise.py", "protocol.py", "metrics.py"} <= used and not used & {"_discrete.py", "_layers.py"}


def test_kept_file_digests_give_the_versions_computed_afresh():
    """`code_hash` keeps each file's digest per source text: the hash equals the one computed
    from the files read and normalised anew, and an edited text gets a new digest."""
    import hashlib
    from pathlib import Path

    from ambench import _source

    paths = sorted(Path(_source.__file__).parent.glob("*.py"))
    fresh = sorted(hashlib.sha256(_source.normalised(p.read_text(encoding="utf-8")).encode()).digest() for p in paths)
    want = hashlib.sha256(_source.FORMAT + b"".join(fresh)).hexdigest()[:12]
    assert _source.code_hash(paths) == want == _source.code_hash(paths)
    text = paths[0].read_text(encoding="utf-8")
    assert _source._digest(text + "\nx = 1\n") != _source._digest(text)
