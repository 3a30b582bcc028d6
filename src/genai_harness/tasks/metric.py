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
    minimum: float | None = None
    """The smallest value the metric can take (None: any); a value below it is not a measurement."""
    minimum_excluded: bool = False
    """The minimum itself is out of the domain (a rate of zero: nothing was produced)."""
    reciprocal_of: str | None = None
    """The metric this one is a fixed multiple of the reciprocal of, call by call (``decode_tps`` = 1000 /
    ``tpot_ms``): a test of either is a test of the other, so a gate's family counts the two as one hypothesis."""

    def in_domain(self, value: float) -> bool:
        """Whether ``value`` can be a measurement of this metric (NaN counts as missing, not out of domain)."""
        if self.minimum is None or value != value:
            return True
        return value > self.minimum if self.minimum_excluded else value >= self.minimum

    @property
    def domain(self) -> str:
        """The domain in words, e.g. ``> 0`` or ``>= 0`` ('' for any value)."""
        if self.minimum is None:
            return ""
        return f"{'>' if self.minimum_excluded else '>='} {self.minimum:g}"

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

    @property
    def hypothesis(self) -> str:
        """The metric whose hypothesis a test of this one tests: :attr:`reciprocal_of`, else this one."""
        return self.reciprocal_of or self.name


def metric_info(name: str, label: str, unit: str, tasks: tuple[str, ...], better: str, headline: bool = False,
                fmt: str = "{:.3g}", kind: str = "speed", scope: str = "", *,
                reciprocal_of: str | None = None) -> MetricInfo:
    """A metric; agreement with the reference is checked once per cell, so its scope defaults to ``cell``.

    Its domain follows from its unit: a rate (``.../s``) is above zero, a duration, memory, energy or count is zero
    or more; an accuracy measure declares none here."""
    minimum, excluded = (None, False) if kind == "accuracy" else (0.0, unit.endswith("/s"))
    return MetricInfo(name, label, unit, tasks, better, headline, fmt, kind,
                      scope or ("cell" if kind == "accuracy" else "repetition"), minimum, excluded, reciprocal_of)


COMMON_METRICS: tuple[MetricInfo, ...] = (
    metric_info("load_s", "load", "s", (), "lower", True, "{:.2f}", scope="cell"),
    metric_info("load_cpu_s", "load CPU", "s", (), "lower", False, "{:.3f}", scope="cell"),
    metric_info("peak_rss_mb", "peak RSS", "MiB", (), "lower", True, "{:.0f}", "memory", scope="cell"),
    metric_info("energy_j", "energy", "J", (), "lower", False, "{:.3g}", "energy"),
    # cold start (issue 22): null where the target does not compile
    metric_info("compile_s", "compile", "s", (), "lower", False, "{:.2f}", scope="cell"),
    metric_info("load_cold_s", "load, empty cache", "s", (), "lower", False, "{:.2f}", scope="cell"),
    metric_info("load_warm_s", "load, warm cache", "s", (), "lower", False, "{:.2f}", scope="cell"),
    metric_info("cache_mib", "compiled cache", "MiB", (), "lower", False, "{:.1f}", "memory", scope="cell"),
)
"""The metrics every row has, whatever its task (the analysis table lists them under every task)."""
