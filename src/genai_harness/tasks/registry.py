"""Which :class:`~genai_harness.tasks.base.TaskKind` serves each task: the one line to add for a new task."""

from __future__ import annotations

from genai_harness.errors import TaskNotSupportedError
from genai_harness.interface.tasks import Task
from genai_harness.tasks.base import TaskKind
from genai_harness.tasks.classification import ClassificationTask
from genai_harness.tasks.text2image import Text2ImageTask
from genai_harness.tasks.text2text import Text2TextTask

TASK_KINDS: dict[Task, TaskKind] = {kind.task: kind for kind in (Text2TextTask(), Text2ImageTask(),
                                                                  ClassificationTask())}
"""Every task the harness measures, in display order."""


def task_kind(task: str) -> TaskKind:
    """The :class:`TaskKind` of ``task`` (a :class:`Task` or its name); an unknown name names the known ones."""
    try:
        return TASK_KINDS[Task(task)]
    except ValueError:
        raise TaskNotSupportedError(f"unknown task {task!r}; tasks: {', '.join(TASK_KINDS)}") from None
