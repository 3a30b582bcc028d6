"""What one metric column measures and how to read it (each task declares its own; analysis assembles the table)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """What one metric column measures and how to read it."""

    name: str
    label: str
    unit: str
    tasks: tuple[str, ...]
    better: str  # "lower" or "higher"
    headline: bool = False
    fmt: str = "{:.3g}"
    kind: str = "speed"  # speed | memory | energy | accuracy
    scope: str = "repetition"  # repetition: a value per measured call; cell: one value per cell, repeated per row

    @property
    def lower_is_better(self) -> bool:
        """True when a smaller value is better (latencies, memory, energy, error)."""
        return self.better == "lower"

    @property
    def title(self) -> str:
        """Axis or column title with its unit, e.g. ``TTFT (ms)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def format(self, value: float | None) -> str:
        """The value in this metric's display format ('' for a missing value)."""
        if value is None or value != value:
            return ""
        return self.fmt.format(value)


def metric_info(name: str, label: str, unit: str, tasks: tuple[str, ...], better: str, headline: bool = False,
                fmt: str = "{:.3g}", kind: str = "speed", scope: str = "") -> MetricInfo:
    """A metric; agreement with the reference is checked once per cell, so its scope defaults to ``cell``."""
    return MetricInfo(name, label, unit, tasks, better, headline, fmt, kind,
                      scope or ("cell" if kind == "accuracy" else "repetition"))
