"""The package's import graph, read from the source (an ast walk, nothing imported): no cycle
between ambench's packages, and no upward import (a lower layer never imports a higher one),
including imports written inside functions, which hide loops from the interpreter."""

import ast
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src" / "ambench"

# Lower layers first: a module may import its own layer's or lower layers' modules only.
LAYERS = [
    {"_facts", "_source", "_resources", "params", "compile_cache", "_memo"},  # facts, paths and declarations, no JAX
    {"_experiment"},  # the experiment interface and its registry (no JAX either)
    {"energy"},
    {"models", "data", "metrics"},
    {"protocol", "timing"},
    {"_one_sweep"},  # the capacity search's shortcut, on the protocol's memories and queries
    {"sweep"},
    {"console", "report", "bench", "study_bench"},
    {"cli", "demo", "__init__"},
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _unit(module: str) -> str:
    """ambench.sweep._cells -> sweep; ambench._facts -> _facts; ambench -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported ambench module, line, lazy) for every import in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    lazy = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(f)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            targets = [target] + ([f"{target}.{a.name}" for a in node.names] if not node.module or node.level else [])
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for t in targets:
            if t.split(".")[0] == "ambench" and (SRC.parent / Path(*t.split("."))).with_suffix(".py").exists() \
                    or (SRC.parent / Path(*t.split("."))).is_dir():
                out.append((t, node.lineno, id(node) in lazy))
    return out


def _edges():
    for path in sorted(SRC.rglob("*.py")):
        src = _unit(_module_name(path))
        for target, line, lazy in _imports(path):
            if target == "ambench":
                continue  # `from .. import data` names a submodule; the package itself always runs first
            dst = _unit(target)
            if dst != src:
                yield src, dst, f"{path.relative_to(ROOT)}:{line}{' (inside a function)' if lazy else ''}"


def test_every_unit_has_a_layer():
    units = {_unit(_module_name(p)) for p in SRC.rglob("*.py")}
    assert units <= set(RANK), f"add {sorted(units - set(RANK))} to LAYERS"


# Upward imports and cycles left in the tree: none (the sweep engine's rework removed the last,
# sweep/_status.py importing the console). A new one fails the tests below.
KNOWN_UPWARD: set[str] = set()
KNOWN_CYCLES: set[str] = set()


def test_no_upward_import():
    upward = {f"{where.split(':')[0]}: {src} imports {dst}" for src, dst, where in _edges()
              if src != "__init__" and RANK[dst] > RANK[src]}
    assert upward == KNOWN_UPWARD


def test_no_cycle_between_units():
    graph: dict[str, set[str]] = {}
    for src, dst, _ in _edges():
        if src != "__init__":
            graph.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert {" -> ".join(c) for c in cycles} == KNOWN_CYCLES


def test_the_walk_sees_lazy_imports(tmp_path):
    assert any(lazy for *_, lazy in _imports(SRC / "bench.py"))  # bench imports timing inside functions
