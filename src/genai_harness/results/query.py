"""Which rows to read: a filter that every store applies inside its own query, not in pandas after loading.

The dispatcher, compare, report and the fleet read only the slice they need (this machine, this
model, this run) through :class:`ResultFilter`; a store turns it into a ``WHERE`` clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any

from genai_harness.errors import StoreError

Values = tuple[str, ...] | None

_FIELD_COLUMNS = {
    "run_ids": "run_id",
    "machine_fingerprints": "machine_fingerprint",
    "model_ids": "model_id",
    "model_hashes": "model_hash",
    "workload_ids": "workload_id",
    "frameworks": "framework",
    "devices": "device",
    "environments": "environment",
    "tasks": "task",
    "statuses": "status",
}


def _values(value: str | Sequence[str] | None, name: str) -> Values:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(v, str) for v in items):
        raise StoreError(f"result filter {name!r} takes strings, got {items!r}")
    return items


def _time(value: datetime | str | None, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise StoreError(f"result filter {name!r} takes an ISO-8601 time, got {value!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


@dataclass(frozen=True)
class ResultFilter:
    """Rows to read: every given field narrows the selection (None means any value).

    Each field but the times takes one string or several; ``since``/``until`` bound ``run_started_at``.
    """

    run_ids: Values = None
    machine_fingerprints: Values = None
    model_ids: Values = None
    model_hashes: Values = None
    workload_ids: Values = None
    frameworks: Values = None
    devices: Values = None
    environments: Values = None
    tasks: Values = None
    statuses: Values = None
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        for name in _FIELD_COLUMNS:
            object.__setattr__(self, name, _values(getattr(self, name), name))
        for name in ("since", "until"):
            object.__setattr__(self, name, _time(getattr(self, name), name))

    @property
    def is_empty(self) -> bool:
        """True when the filter selects every row."""
        return all(getattr(self, f.name) is None for f in fields(self))

    def where(self, placeholder: str = "?") -> tuple[str, list[Any]]:
        """The SQL condition (``""`` for none) and its parameters; ``placeholder`` is ``?`` or ``%s``."""
        clauses: list[str] = []
        params: list[Any] = []
        for name, column in _FIELD_COLUMNS.items():
            values = getattr(self, name)
            if values is None:
                continue
            if not values:
                clauses.append("1 = 0")
                continue
            clauses.append(f"{column} IN ({', '.join([placeholder] * len(values))})")
            params.extend(values)
        if self.since is not None:
            clauses.append(f"run_started_at >= {placeholder}")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"run_started_at <= {placeholder}")
            params.append(self.until)
        return " AND ".join(clauses), params

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether one row (a mapping of column to value) passes the filter (for stores without SQL)."""
        for name, column in _FIELD_COLUMNS.items():
            values = getattr(self, name)
            if values is not None and row.get(column) not in values:
                return False
        started = row.get("run_started_at")
        started = _time(started, "run_started_at") if started is not None else None
        if self.since is not None and (started is None or started < self.since):
            return False
        return not (self.until is not None and (started is None or started > self.until))


ALL_ROWS = ResultFilter()
"""The filter that selects every row."""
