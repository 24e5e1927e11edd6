"""Code versions of the code, not of its comments.

A component's version (`Component.version`, stored with each cell as `code_<kind>`) hashes the
*normalised syntax tree* of the source files that compute it: docstrings and comments removed,
formatting ignored (the AST has neither), so editing documentation marks no stored result
outdated while any change to what runs (an operator, a constant, a default) does.

Which files: `closure(module)` — the component's own module and, transitively, every module of
ambench or of its own top-level package (a plugin's) that it takes a name from. This
follows the objects actually bound in each module's namespace (their `__module__`), and the
modules imported inside functions, so a model built on `energy._layers` is versioned by that
file and not by an unrelated synapse added beside it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

FORMAT = b"ast-1"  # bump when the normalisation below changes (all versions move once)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normalised(source: str) -> str:
    """The source as a canonical dump of its AST without docstrings (comments and layout are
    not in the AST at all): two sources that run the same way give the same text."""
    return ast.dump(_strip_docstrings(ast.parse(source)), annotate_fields=False, include_attributes=False)


@functools.lru_cache(maxsize=4096)
def _digest(source: str) -> bytes:
    """SHA-256 of a source's normalised code, kept per source text (every component's closure
    shares most files: a sweep's ~30 versions parse ~40 files once each, not ~200 times)."""
    return hashlib.sha256(normalised(source).encode()).digest()


def code_hash(paths: Iterable[str | Path]) -> str:
    """A short hash of the normalised code of `paths` (order, repeats and location do not matter)."""
    # each file's digest, sorted: where the files lie (a checkout, an installed wheel) changes nothing
    files = sorted(_digest(Path(p).read_text(encoding="utf-8")) for p in {str(Path(p).resolve()) for p in paths})
    return hashlib.sha256(FORMAT + b"".join(files)).hexdigest()[:12]


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _lazy_imports(module: ModuleType) -> set[str]:
    """Modules imported inside functions (`from ..data import x` in a body): not in the namespace."""
    try:
        source = Path(module.__file__).read_text(encoding="utf-8")
    except (OSError, TypeError):
        return set()
    package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
    return set(_imports_in_functions(source, package))


@functools.lru_cache(maxsize=4096)
def _imports_in_functions(source: str, package: str) -> frozenset[str]:
    """`_lazy_imports` of a source text, kept per (text, package)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return frozenset()
    out = set()
    for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                    if node.level else node.module
                out.add(base)
                out.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import submodule`
    return frozenset(out)


# Machinery that never changes a number: registration, validation, the store, the reports.
MACHINERY = ("ambench", "ambench._source", "ambench._facts", "ambench._experiment",
             "ambench.params", "ambench.sweep", "ambench.report", "ambench.cli", "ambench.console")


def _excluded(name: str, exclude: tuple[str, ...]) -> bool:
    return any(name == e or name.startswith(e + ".") and e != "ambench" for e in (*MACHINERY, *exclude))


def closure(module: ModuleType, *, exclude: tuple[str, ...] = ()) -> list[Path]:
    """The source files of `module` and of every module of its own top-level package or of
    ambench that it uses, transitively, sorted; the `MACHINERY` modules and the packages in `exclude` are left out
    (an experiment leaves out `ambench.models` and `ambench.energy`: the model's own version
    covers them)."""
    within = {_top(module.__name__), "ambench"}
    seen: dict[str, ModuleType] = {}
    todo = [module]
    while todo:
        mod = todo.pop()
        if mod.__name__ in seen or not getattr(mod, "__file__", None):
            continue
        seen[mod.__name__] = mod
        names = {getattr(v, "__module__", None) for v in vars(mod).values() if not isinstance(v, ModuleType)}
        names |= {v.__name__ for v in vars(mod).values() if isinstance(v, ModuleType)}
        names |= _lazy_imports(mod)
        for name in names:
            if isinstance(name, str) and _top(name) in within and name not in seen and not _excluded(name, exclude):
                found = sys.modules.get(name)
                if found is None:
                    try:
                        found = importlib.import_module(name)
                    except ImportError:
                        continue  # `from pkg import function`: the name is not a module
                todo.append(found)
    return sorted(Path(m.__file__) for m in seen.values())


def module_version(module: ModuleType, *, exclude: tuple[str, ...] = ()) -> str:
    """The code version of a component defined in `module`: `code_hash(closure(module))`."""
    return code_hash(closure(module, exclude=exclude))


def caller_module() -> ModuleType:
    """The module whose top-level code is running the `register_*` call: the nearest enclosing
    frame that executes a module body (`<module>`), whatever wraps it (an import hook such as
    jaxtyping's). A module executed from a file (an experiment in the experiments folder) that
    is not in `sys.modules` is returned as a stand-in holding its globals."""
    frame = sys._getframe(1)
    try:
        while frame is not None and frame.f_code.co_name != "<module>":
            frame = frame.f_back
        if frame is None:
            raise ValueError("register_* must be called at the top level of the module that defines the component")
        name = frame.f_globals.get("__name__", "__main__")
        module = sys.modules.get(name)
        if module is None or getattr(module, "__dict__", None) is not frame.f_globals:
            module = ModuleType(name)
            module.__dict__.update(frame.f_globals)
        return module
    finally:
        del frame
