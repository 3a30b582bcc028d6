"""The probe: with no evidence in the store, measure a model's short workload on every usable target here, within a
time budget, and store the rows, so the next start decides at once."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from genai_harness.results.stores import open_store
from genai_harness.runner.cell_loop import new_run_context, run_plan
from genai_harness.runner.plan import Plan
from genai_harness.runner.prepare import prepare_run
from genai_harness.runner.progress import Progress
from genai_harness.tasks.registry import task_kind


def probe(task: str, model: str, store: str | Path | None, budget_s: float, *,
          config: str | Path | None = None) -> None:
    """Measure ``model`` on every usable target of this environment with a short workload, within ``budget_s``.

    Cells run one by one in isolated workers and are stored as they end; cells that do not fit in the
    budget are not started.
    """
    deadline = time.monotonic() + budget_s
    folder = Path(tempfile.mkdtemp(prefix="genai-probe-"))
    workload = folder / "probe.toml"
    workload.write_text(_toml(task_kind(task).probe_workload(max(5, math.ceil(budget_s)))))
    suite = folder / "suite.toml"
    suite.write_text(f'id = "probe"\n[[entries]]\nworkload = "{workload}"\nmodels = ["{model}"]\n')
    prepared = prepare_run(str(suite), pythons=(), config=config, environments_only=("default",))
    result_store = open_store(store)
    result_store.check_writable()
    context = new_run_context(prepared.profile, prepared.env_versions)
    meter = Progress(len(prepared.plan.cells), None, False)
    written: list[dict[str, Any]] = []
    for cell in prepared.plan.cells:
        if time.monotonic() >= deadline:
            break
        run_plan(Plan([cell], []), result_store, context, meter, written)


def _toml(tables: dict[str, Any]) -> str:
    """A workload file's text from its tables (only what a probe workload holds: numbers, strings, tables)."""
    lines = [f"{k} = {_value(v)}" for k, v in tables.items() if not isinstance(v, dict)]
    for name, table in tables.items():
        if isinstance(table, dict):
            lines += [f"[{name}]", *(f"{k} = {_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
