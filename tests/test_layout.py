"""The package layout holds (docs/design.md, "Layout"): stages import only downwards, no import
circles, the plugin is a thin adapter, and importing it stays cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "nested_sweeper"

# A package may import from packages of a lower rank only (its own modules aside). migrate and
# search share a rank: neither may import the other. The floor modules (rank 0) may import each
# other; the circle test keeps that acyclic.
RANK = {"errors": 0, "records": 0, "text": 0, "schema": 0, "storage": 0,
        "space": 1, "spec": 2, "migrate": 3, "search": 3, "engine": 4, "summary": 5, "cli": 6}
HEAVY = ("torch", "optuna", "matplotlib", "rich")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside a function (lazy ones count)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in LIB.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def _stage(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def test_stages_import_only_downwards() -> None:
    upward = []
    for src, targets in _graph().items():
        if _stage(src) == "__init__":
            continue  # the package's lazy exports (Searcher, report) sit above every stage
        for dst in targets:
            a, b = _stage(src), _stage(dst)
            if a != b and (b == "__init__" or RANK[b] > RANK[a] or RANK[b] == RANK[a] > 0):
                upward.append(f"{src} -> {dst}")
    assert not upward, upward


def test_no_import_circles() -> None:
    graph = _graph()
    graph = {m: {d for d in ds if not d.endswith("__init__")} for m, ds in graph.items()}
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the path, 2 done
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state[nxt] == 1:
                circles.append([*path[path.index(nxt):], nxt])
            elif state[nxt] == 0:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if state[module] == 0:
            visit(module, [module])
    # A package importing its own submodule is not a circle of stages.
    circles = [c for c in circles if not any(b.startswith(a + ".") for a, b in zip(c, c[1:]))]
    assert not circles, circles


def test_every_module_has_a_stage() -> None:
    stages = {_stage(m) for m in _graph()} - {"__init__"}
    assert stages <= set(RANK), sorted(stages - set(RANK))


def test_the_plugin_imports_only_the_library() -> None:
    ours = {"nested_sweeper", "hydra_plugins", "train", "tests", "bench", "devops"}
    plugin = ROOT / "hydra_plugins" / "nested_sweeper"
    used = {m.split(".")[0] for p in plugin.rglob("*.py") for m in _imports(p)}
    assert used & ours <= {"nested_sweeper", "hydra_plugins"}, used & ours
    lines = sum(len(p.read_text().splitlines()) for p in plugin.rglob("*.py"))
    assert lines < 200, f"the plugin holds {lines} lines: the library belongs in nested_sweeper/"


def test_nothing_imports_the_cli() -> None:
    users = [src for src, targets in _graph().items() if "nested_sweeper.cli" in targets]
    assert users == [], users


def test_importing_the_plugin_and_the_library_loads_no_heavy_library() -> None:
    """Hydra imports the plugin at every app start, and users import the library for Searcher."""
    code = ("import sys, hydra_plugins.nested_sweeper, hydra_plugins.nested_sweeper.nested_sweeper, "
            "hydra_plugins.nested_sweeper.config, nested_sweeper; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
