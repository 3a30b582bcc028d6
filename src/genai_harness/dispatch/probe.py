"""The probe: with no evidence in the store, measure a model's short workload on every usable target here, within a
time budget, and store the rows, so the next start decides at once."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from genai_harness.runner.cell_loop import new_run_context, run_plan
from genai_harness.runner.plan import Plan
from genai_harness.runner.prepare import prepare_run
from genai_harness.runner.progress import Progress
from genai_harness.tasks.registry import task_kind
from genai_harness.workloads.suites import suite_in_memory


def probe(task: str, model: str, store: str | Path | None, budget_s: float, *,
          config: str | Path | None = None) -> None:
    """Measure ``model`` on every usable target of this environment with a short workload, within ``budget_s``.

    Cells run one by one in isolated workers and are stored as they end; cells that do not fit in the
    budget are not started. The store is upgraded (or refused) first, as a run's is.
    """
    deadline = time.monotonic() + budget_s
    workload = task_kind(task).probe_workload(max(5, math.ceil(budget_s)))
    suite = suite_in_memory("probe", [(workload, [model])])
    prepared = prepare_run(suite, config=config, environments_only=("default",), store=store)
    context = new_run_context(prepared.profile, prepared.env_versions)
    meter = Progress(len(prepared.plan.cells), None, False)
    written: list[dict[str, Any]] = []
    for cell in prepared.plan.cells:
        if time.monotonic() >= deadline:
            break
        run_plan(Plan([cell], []), prepared.store, context, meter, written)
