"""The product's layers (docs/ARCHITECTURE.md): every import points down or sideways, never up, and no
modules import each other in a circle.

Imports are read from the source (``ast``), wherever they stand: at the top of a module, inside a
function, under ``TYPE_CHECKING``. A module that no layer names fails the test, so a new part of the
product is placed on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("omr", "db", "web", "samples")

# bottom to top: a module may import its own layer and the layers below it
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("settings and vocabulary", ("omr", "omr.config", "omr.vocab", "omr.values")),
    ("sheet geometry: forms, fonts, layout, QR identity, PDF", ("omr.sheet",)),
    ("the pure reader", ("omr.detect",)),
    ("storage", ("db",)),
    ("use cases, and the sample stacks made with them", ("omr.services", "samples")),
    ("exports and the register of issued reports", ("omr.reports",)),
    ("commands, web application, queue workers", ("omr.cli", "omr.queue", "web")),
)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The module of this tree that importing ``name`` loads (its longest known prefix)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in MODULES:
            return candidate
    return None


def _imports(name: str, path: Path) -> set[str]:
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, base] if base else here)
            # ``from pkg import sub`` imports the module pkg.sub when there is one
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out |= {t for n in names if (t := _target(n)) is not None and t != name}
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > best[0]):
                best = (len(p), i)
    return None if best is None else best[1]


def test_every_module_has_a_layer():
    assert sorted(m for m in MODULES if _layer(m) is None) == []


def test_no_import_points_up():
    upward = []
    for module, imported in GRAPH.items():
        here = _layer(module)
        for other in sorted(imported):
            there = _layer(other)
            if here is not None and there is not None and there > here:
                upward.append(f"{module} ({LAYERS[here][0]}) -> {other} ({LAYERS[there][0]})")
    assert upward == []


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return circles


def test_no_modules_import_each_other_in_a_circle():
    assert _circles(GRAPH) == []


def test_the_checks_see_what_they_check():
    """The graph is read right: known imports are found, and a planted circle and upward arrow are
    caught (so the tests above cannot pass by reading nothing)."""
    assert "db.models" in GRAPH["omr.services.storing"]
    assert "omr.sheet.layout" in GRAPH["omr.detect.measure"]
    assert "omr.cli.common" in GRAPH["omr.cli.scan"]
    planted = {**GRAPH, "omr.config": GRAPH["omr.config"] | {"db.session"}}
    assert ["db.session", "omr.config"] in _circles(planted)
    assert _layer("omr.config") < _layer("db.session")  # type: ignore[operator]
