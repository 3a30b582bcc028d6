"""An onnxruntime EP selection delegate ordered by this machine's measurements, not a fixed NPU, GPU, CPU order."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genai_harness.dispatch.evidence import EVIDENCE_COLUMNS
from genai_harness.dispatch.ranking import rank
from genai_harness.errors import NoEvidenceError
from genai_harness.host.fingerprint import machine_profile
from genai_harness.interface.tasks import Task
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import open_store


def ort_policy_delegate(objective: str = "batch", store: str | Path | None = None, *, model: str | None = None,
                        task: str = Task.CLASSIFICATION) -> Callable[[Sequence[Any], Any, Any, int], list[Any]]:
    """A delegate for onnxruntime's ``SessionOptions.set_provider_selection_policy_delegate``.

    It orders the ``OrtEpDevice``s onnxruntime offers by this machine's measurements of onnxruntime
    targets (``model``, or every model of ``task`` in the store): the EP of the best measured target
    first; EPs never measured keep onnxruntime's order after the measured ones. Returns at most
    ``max_selections`` devices.
    """
    frame = open_store(store, create=False).read(
        ResultFilter(frameworks="onnxruntime", tasks=task, statuses="ok", model_ids=model), columns=EVIDENCE_COLUMNS)
    models = [model] if model else sorted(set(frame["model_id"].dropna()))
    scores: dict[str, list[int]] = {}
    machine = machine_profile()
    for name in models:
        try:
            decision = rank(frame, task=task, model=name, objective=objective, machine=machine, allow_stale=True)
        except NoEvidenceError:
            continue
        for position, candidate in enumerate(decision.ranked):
            if candidate.environment == "default" and candidate.execution_provider:
                scores.setdefault(candidate.execution_provider, []).append(position)
    order = {ep: sum(p) / len(p) for ep, p in scores.items()}

    def delegate(ep_devices: Sequence[Any], model_metadata: Any, runtime_metadata: Any,
                 max_selections: int) -> list[Any]:
        indexed = list(enumerate(ep_devices))
        indexed.sort(key=lambda item: (order.get(item[1].ep_name, math.inf), item[0]))
        return [device for _, device in indexed[:max(1, int(max_selections))]]

    delegate.measured_order = order  # type: ignore[attr-defined]
    return delegate
