"""Storage has one door: outside :mod:`genai_harness.results`, code reaches a store through
:mod:`genai_harness.results.store` (open_store, open_for_writing, iter_stores, load_results), never through the
implementations in :mod:`genai_harness.results.stores`."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "genai_harness"
BEHIND_THE_DOOR = "genai_harness.results.stores"


def _imported(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def test_only_the_results_package_opens_the_stores_module() -> None:
    inside = PACKAGE / "results"
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if inside in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if any(name == BEHIND_THE_DOOR or name.startswith(f"{BEHIND_THE_DOOR}.") for name in _imported(node)):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == [], "import these from genai_harness.results.store instead:\n" + "\n".join(found)
