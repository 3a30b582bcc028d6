"""The contract of a task: everything that differs by task, in one class per task.

A cell, a direct call, the reference check, the workload file's ``[input]`` table, the metric columns, the
dispatcher's objectives and its probe all ask the task's :class:`TaskKind` instead of branching on the task's
name. Adding a task is one module that subclasses it plus a line in :mod:`genai_harness.tasks.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from genai_harness.interface.tasks import Task
from genai_harness.tasks.instructions import Count, call_counts
from genai_harness.tasks.metric import MetricInfo

REQUIRED = object()
"""The default of an ``[input]`` field that a workload file must give."""
OPTIONAL = object()
"""The default of an ``[input]`` field that is left out of the inputs (and their hash) when a file omits it."""

InputField = tuple[type, Any, float | None]
"""An ``[input]`` field: (type, default or :data:`REQUIRED`, lowest allowed value or None)."""


@dataclass(frozen=True)
class Objective:
    """What the dispatcher can optimise for a task: a metric column's samples, in a unit, better lower or higher.

    ``samples`` names how a target's rows become samples (see :mod:`genai_harness.dispatch.objectives`):
    ``values`` (every row's ``column``), ``per_run`` (one value per run: cell-scope metrics), ``ttft``
    (interpolated at a prompt length), ``latency`` (TTFT plus N x TPOT) or ``cold`` (load plus N calls).
    """

    name: str
    unit: str
    better: str
    column: str
    samples: str = "values"


@dataclass
class MeasuredCall:
    """How a cell measures its task: one timed call returning a record, the last call's output, the batch run."""

    once: Callable[[], dict[str, Any]]
    last_output: Callable[[], Any]
    batch: dict[str, Any] = field(default_factory=dict)


class TaskKind(ABC):
    """One task of the common interface, as the harness measures, checks and dispatches it."""

    task: ClassVar[Task]
    inputs: ClassVar[Mapping[str, InputField]]
    """The workload file's ``[input]`` fields."""
    highest: ClassVar[Mapping[str, float]] = {}
    """Highest allowed value per ``[input]`` field (beyond it a value is refused, never cut)."""
    metrics: ClassVar[tuple[MetricInfo, ...]]
    """The metric columns of this task's rows (besides those every task has)."""
    objectives: ClassVar[tuple[Objective, ...]]
    """What the dispatcher can optimise for this task (besides ``memory`` and ``cold``)."""
    call_metric: ClassVar[str]
    """The metric of one whole call (what the ``cold`` objective counts N of)."""
    probe_id: ClassVar[str]
    """The probe workload's id (what its stored rows are called)."""
    probe_inputs: ClassVar[Mapping[str, Any]]
    """The ``[input]`` table of the short workload a dispatcher probe measures."""
    probe_repetitions: ClassVar[int] = 5

    def check_inputs(self, inputs: Mapping[str, Any], where: str) -> None:
        """Checks across ``[input]`` fields beyond each field's own type and range (none by default)."""
        return

    @abstractmethod
    def measured_call(self, inputs: Mapping[str, Any], pipeline: Any) -> MeasuredCall:
        """The timed call a cell repeats on ``pipeline`` for a workload's ``inputs``."""

    def instruction_counts(self, stamps: Mapping[str, Any], count: Count) -> dict[str, float | None]:
        """The ``instructions_*`` columns of one measured call from its clock readings (``stamps``, what ``once``
        returned under that key), each mapped by ``count`` to the instructions executed by then (pure); the whole
        call by default."""
        return call_counts(stamps, count)

    def energy_per_unit(self, record: Mapping[str, Any], joules: float) -> dict[str, float]:
        """Energy per produced unit (token, image) of one measured call; nothing by default."""
        return {}

    @abstractmethod
    def agreement(self, inputs: Mapping[str, Any], output: Any, reference: Any, measured: Any,
                  reference_pipeline: Any) -> dict[str, Any]:
        """The ``ref_*`` columns: the cell's last output against the reference pipeline's for the same inputs."""

    @abstractmethod
    def direct_call(self, pipeline: Any, params: Mapping[str, Any], load_s: float) -> dict[str, Any]:
        """One call for the ``generate``/``imagine``/``classify`` commands: the answer they print."""

    @abstractmethod
    def probe_output(self, pipeline: Any) -> Any:
        """A short deterministic output of ``pipeline``, compared with the CPU's before a device is trusted."""

    @abstractmethod
    def probe_agrees(self, output: Any, reference: Any) -> tuple[bool, str]:
        """Whether a probe output agrees with the CPU reference's, and how far apart (pure)."""

    def probe_workload(self, timeout_s: float) -> dict[str, Any]:
        """The dispatcher probe's workload, as a workload file's tables."""
        return {"id": self.probe_id, "version": 1, "task": str(self.task), "input": dict(self.probe_inputs),
                "run": {"warmup": 1, "repetitions": self.probe_repetitions, "timeout_s": float(timeout_s)}}
