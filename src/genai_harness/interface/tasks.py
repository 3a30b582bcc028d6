"""The task vocabulary: the one place that names the tasks of the common interface."""

from __future__ import annotations

from enum import StrEnum


class Task(StrEnum):
    """A task of the common interface; its value is the name stored in results and written in workload files.

    A ``StrEnum``: each member equals its plain string (``Task.TEXT2TEXT == "text2text"``), so rows,
    workload files and JSON messages keep the strings they always had.
    """

    TEXT2TEXT = "text2text"
    TEXT2IMAGE = "text2image"
    CLASSIFICATION = "classification"


ALL_TASKS: tuple[Task, ...] = tuple(Task)
"""Every task, in display order."""
