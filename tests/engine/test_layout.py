"""The engine's shape, checked: grouped by layer, no import cycles, short files and functions.

The rules come from issue #11 and docs/architecture.md: at most six modules
at engine/'s top level (the core everyone uses), no import cycle between
engine modules (counting imports inside functions too: a lazy import still
ties two modules together), no file over 400 lines and no function over 50
lines outside the compiled ``*_kernels.py`` files.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
CORE = {"catalog", "checkpoints", "device", "events", "errors"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ENGINE.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> set[str]:
    """Engine modules ``path`` imports anywhere in the file (module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("engine"):
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            found |= subs or ({node.module} & known)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names} & known
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_engine_top_level_holds_only_the_core():
    top = {p.stem for p in ENGINE.glob("*.py")} - {"__init__", "__main__"}
    assert top <= CORE and len(top) <= 6, f"modules at engine/'s top level: {sorted(top)}"


def test_no_import_cycles_in_the_engine():
    modules = _modules()
    known = set(modules)
    # a package imports its parent's __init__ implicitly; only explicit edges count
    graph = {name: _imports(path, known) - {name} for name, path in modules.items()}
    assert _cycles(graph) == []


def test_cycle_finder_can_fail():
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


@pytest.mark.parametrize("path", sorted(ENGINE.rglob("*.py")), ids=lambda p: str(p.relative_to(ENGINE)))
def test_short_files_and_functions(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 400, f"{path.name} has {len(text.splitlines())} lines"
    if path.name.endswith("_kernels.py"):
        return  # compiled numba kernels: one loop nest per function by design
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 50]
    assert not long, f"functions over 50 lines in {path.name}: {long}"
