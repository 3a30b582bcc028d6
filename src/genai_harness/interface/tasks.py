"""The task vocabulary: the one place that names the tasks of the common interface."""

from __future__ import annotations

from enum import Enum


class Task(str, Enum):
    """A task of the common interface; its value is the name stored in results and written in workload files.

    Each member is its plain string (``Task.TEXT2TEXT == "text2text"``, ``str()`` and f-strings give the name),
    so rows, workload files and JSON messages keep the strings they always had (``enum.StrEnum`` is Python 3.11+).
    """

    TEXT2TEXT = "text2text"
    TEXT2IMAGE = "text2image"
    CLASSIFICATION = "classification"

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


ALL_TASKS: tuple[Task, ...] = tuple(Task)
"""Every task, in display order."""
