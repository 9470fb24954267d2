"""The package's import graph: no cycles among module-level imports, and the config layer imports no
reward code (it is read by every subsystem, so it must sit below them)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rlar_jax"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module_level: bool, modules: set[str] | None = None) -> set[str]:
    """rlar_jax modules `path` imports: at module level only (not inside functions or under
    `if TYPE_CHECKING:`), or anywhere. `from pkg import name` counts `pkg.name` when that is a module
    (one of `modules`), else `pkg` (importing a submodule runs its package first, which is no cycle)."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = _module_name(path).split(".") if is_pkg else _module_name(path).split(".")[:-1]
    nodes = tree.body if module_level else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("rlar_jax")}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(base[:len(base) - node.level + 1] + ([mod] if mod else []))
            if not mod.startswith("rlar_jax"):
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if modules is not None and sub in modules else mod)
    return out


def _graph(module_level: bool = True) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path, module_level, set(files)) if m in files and m != name}
            for name, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycles_in_the_package():
    graph = _graph()
    assert len(graph) > 50 and "rlar_jax.models.transformer" in graph["rlar_jax.models.assemble"]
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_config_imports_no_reward_code():
    config = PACKAGE / "config.py"
    imported = _imports(config, module_level=False)  # also the imports inside functions
    assert not {m for m in imported if m.startswith("rlar_jax.rewards")}, imported
    assert "rlar_jax.schema" in imported
