"""The package's house rules, read from the code: no import circles, imports that only run down the layers,
a reason beside every import inside a function, a docstring on every folder, files of one concept.

Imports inside functions and under ``TYPE_CHECKING`` count: they are dependencies all the same.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "genai_harness"

LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("commands",),
    ("dashboards",),
    ("gate", "dispatch"),
    ("runner",),
    ("worker", "analysis", "results"),
    ("workloads",),
    ("tasks",),
    ("factories",),
    ("backends",),
    ("interface", "host"),
    ("trust",),
    ("config", "tables", "hashing", "clock", "version", "cache_home"),
    ("atomic",),
    ("errors",),
]
"""Top-level rooms of ``genai_harness``, top to bottom: a room imports only rooms below it (siblings on one line
never import each other). The package root (the lazy public API) stands above them all."""

MAX_LINES = 400
"""A module longer than this holds more than one concept."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, ast.stmt, bool]]:
    """(imported genai_harness module, the statement, whether it sits inside a function) of ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _target(module, node, path.name == "__init__.py")
            names = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES]
            names = names or [target]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.append((name, node, id(node) in in_function))
    return found


GRAPH = {module: {target for target, _node, _inner in _imports(module)} for module in MODULES}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(room: str) -> int:
    for index, rooms in enumerate(LAYERS):
        if room in rooms:
            return index
    raise AssertionError(f"room {room!r} of genai_harness is in no layer of LAYERS: add it where it belongs")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
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


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    assert _cycles(GRAPH) == []


def test_no_module_imports_the_package_root() -> None:
    climbing = sorted(m for m, targets in GRAPH.items() if "genai_harness" in targets and m != "genai_harness")
    assert climbing == [], "the root is the public API at the top; import from the module that defines the name"


def test_imports_run_down_the_layers() -> None:
    upward = []
    for module, targets in GRAPH.items():
        if module == "genai_harness":
            continue
        room = _room(module)
        for target in targets:
            other = _room(target)
            if other and other != room and _layer(other) <= _layer(room):
                upward.append(f"{module} -> {target}")
    assert sorted(upward) == []


def _commented_lines(source: str) -> set[int]:
    """The (0-based) numbers of the lines that carry a comment."""
    return {token.start[0] - 1 for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type == tokenize.COMMENT}


def test_every_import_inside_a_function_says_why() -> None:
    """Allowed only to keep ``import genai_harness`` light, pandas out of the worker, or an optional runtime or
    dependency out of the way; a comment on the import block (or the line above it) says which."""
    silent = []
    for path in MODULES.values():
        source = path.read_text()
        commented = _commented_lines(source)
        tree = ast.parse(source)
        for function in (f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))):
            block_end = -1
            imports = sorted((n for n in ast.walk(function) if isinstance(n, (ast.Import, ast.ImportFrom))),
                             key=lambda n: n.lineno)
            # a block: imports on adjacent lines, each as many lines as its statement spans (a parenthesized one)
            first_of = {n.end_lineno - 1: n.lineno - 1 for n in imports}
            last_of = {n.lineno - 1: n.end_lineno - 1 for n in imports}
            for node in imports:
                if node.lineno - 1 <= block_end:
                    continue
                start, end = node.lineno - 1, node.end_lineno - 1
                while start - 1 in first_of:
                    start = first_of[start - 1]
                while end + 1 in last_of:
                    end = last_of[end + 1]
                block_end = end
                if not commented & set(range(start - 1, end + 1)):
                    silent.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert silent == [], "\n".join(silent)


def test_every_folder_says_its_job() -> None:
    silent = [str(p.parent.relative_to(PACKAGE)) for p in PACKAGE.rglob("__init__.py")
              if not ast.get_docstring(ast.parse(p.read_text()))]
    missing = [str(d.relative_to(PACKAGE)) for d in PACKAGE.rglob("*") if d.is_dir()
               and any(d.glob("*.py")) and not (d / "__init__.py").exists()]
    assert (silent, missing) == ([], [])


def test_modules_hold_one_concept() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in MODULES.values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("room", sorted({_room(m) for m in MODULES} - {""}))
def test_each_room_is_placed(room: str) -> None:
    assert _layer(room) >= 0


def test_the_worker_side_imports_no_pandas() -> None:
    """The worker runs in bare environments that hold one runtime: nothing it imports may need pandas."""
    reachable, todo = set(), ["genai_harness.worker.main"]
    while todo:
        module = todo.pop()
        if module in reachable:
            continue
        reachable.add(module)
        todo += GRAPH[module]
    heavy = sorted(m for m in reachable if re.search(r"^\s*(import pandas|from pandas)", MODULES[m].read_text(), re.M))
    assert heavy == []



def test_storage_has_one_door() -> None:
    """Outside ``results/``, code reaches a store through ``results.store`` (open_store, open_for_writing, iter_stores,
    load_results), never through the implementations in ``results.stores``."""
    behind = "genai_harness.results.stores"
    through_the_wall = sorted(f"{module} -> {target}" for module, targets in GRAPH.items() for target in targets
                              if not module.startswith("genai_harness.results")
                              and (target == behind or target.startswith(f"{behind}.")))
    assert through_the_wall == [], "import these from genai_harness.results.store instead"
