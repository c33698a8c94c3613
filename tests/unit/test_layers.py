"""The layers point one way (ARCHITECTURE.md): imports read with ``ast``, nothing imported or run.

Every import statement counts, at module level or inside a function: a lazy import still ties the two
modules together, and it is how import circles hide.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

from tests.support import REPO

# Imports of training/ that product code still makes, each with the issue that removes it. The list
# only shrinks: an entry that no longer imports training/ fails the test until it is struck off.
STILL_IMPORTING_TRAINING: dict[str, str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((REPO / package).rglob("*.py"))}


def imports(name: str, path: Path, known: frozenset[str] = frozenset()) -> set[str]:
    """What ``name`` imports: ``from a.b import c`` is ``a.b.c`` when that is a module in ``known``, else ``a.b``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circle_in_backend():
    known = modules("backend")
    graph = {name: {m for m in imports(name, path, frozenset(known)) if m in known and m != name}
             for name, path in known.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_backend_and_export_do_not_import_training():
    importing = {name for package in ("backend", "export") for name, path in modules(package).items()
                 if any(m == "training" or m.startswith("training.") for m in imports(name, path))}
    assert importing == set(STILL_IMPORTING_TRAINING), (
        "backend/ and export/ must not import training/ (ARCHITECTURE.md: dependencies point one way); "
        f"new: {sorted(importing - set(STILL_IMPORTING_TRAINING))}, "
        f"fixed (strike them off STILL_IMPORTING_TRAINING): {sorted(set(STILL_IMPORTING_TRAINING) - importing)}")


def test_deid_keeps_its_core_at_the_root_and_the_rest_in_rooms():
    root = sorted(p.name for p in (REPO / "clinical" / "deid").glob("*.py"))
    assert len(root) <= 12, root
    rooms = {p.name for p in (REPO / "clinical" / "deid").iterdir() if (p / "__init__.py").exists()}
    assert rooms >= {"recognizers", "names", "places", "crf", "corpus"}


def test_the_analyzer_passes_are_one_named_ordered_list():
    from clinical.deid.analyzer import PASSES

    names = [p.name for p in PASSES]
    assert len(set(names)) == len(names)
    assert names.index("merge spans") < names.index("fix organisations") < names.index("keep readable")


def test_the_server_does_not_import_corpus_tooling_or_training():
    # A fresh interpreter: what importing the app loads, not what other tests loaded here.
    code = ("import sys, backend.app; print('\\n'.join(m for m in sys.modules if m.startswith("
            "('clinical.deid.corpus', 'clinical.deid.crf.training', 'clinical.deid.names.gazetteer_build', "
            "'clinical.deid.places.geo_build', 'training'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.split() == []


def test_the_backend_cli_reaches_into_training_nowhere():
    # vllm-command reads training configs, so it is training's command (python -m training vllm-command).
    found = imports("backend.cli", REPO / "backend/cli.py")
    assert {m for m in found if m == "training" or m.startswith("training.")} == set()
    tree = ast.parse((REPO / "backend/cli.py").read_text(encoding="utf-8"))
    every = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    every |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and m.split(".")[0] == "training" for m in every)


def test_benchmarks_do_not_import_test_support():
    importing = sorted(name for name, path in modules("benchmarks").items()
                       if any(m == "tests.support" or m.startswith("tests.support.") for m in imports(name, path)))
    assert importing == [], "benchmarks share tooling with the tests through devtools/, not tests.support"


def test_no_backend_module_is_over_400_lines():
    """STYLE.md: a module over ~400 lines is usually two (issue 19 holds backend/ to it)."""
    long = {str(p.relative_to(REPO)): n for p in sorted((REPO / "backend").rglob("*.py"))
            if "migrations" not in p.parts and (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}, long


def test_routes_leave_reviews_and_the_fallback_chain_to_services():
    """Thin routes (STYLE.md): the record review (clinical.checks) and the engines' fallback chain are
    called by services; a route calls a service and frames its answer."""
    known = frozenset(modules("backend"))
    reaching = {name: sorted(m for m in imports(name, path, known)
                             if m == "clinical.checks" or m.startswith("clinical.checks.")
                             or m == "backend.services.fallback")
                for name, path in modules("backend").items() if name.startswith("backend.api.routes.")}
    assert {name: found for name, found in reaching.items() if found} == {}


def test_no_engine_is_told_apart_by_its_overridden_methods():
    """Engines declare what they do (``tasks``, ``chat_tasks``, the RecordWriter interface); nothing in
    backend/ compares a subclass's method with the base class's to guess it."""
    guessing = []
    for name, path in modules("backend").items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Compare) and any(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
                sides = [node.left, *node.comparators]
                if all(isinstance(side, ast.Attribute) for side in sides) and \
                        any(isinstance(s.value, ast.Call | ast.Name) and _is_type_of(s.value) for s in sides):
                    guessing.append(f"{name}:{node.lineno}")
    assert guessing == []


def _is_type_of(node: ast.expr) -> bool:
    """``type(x)`` or a class name (capitalised) as the owner of an attribute compared by identity."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "type"
    return isinstance(node, ast.Name) and node.id[:1].isupper()
