"""One table of metric metadata: name, unit, task, which direction is better, headline or not.

The run summary, ``results``, compare, report and the dispatcher all read this table; nothing else
keeps its own list of headline metrics or units. Memory is MiB (2^20 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

from genai_harness.errors import ConfigurationError

TEXT, IMAGE, CLASSIFY, OPERATOR = "text2text", "text2image", "classification", "operator"
ALL = (TEXT, IMAGE, CLASSIFY, OPERATOR)


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


def _m(name: str, label: str, unit: str, tasks: tuple[str, ...], better: str, headline: bool = False,
       fmt: str = "{:.3g}", kind: str = "speed", scope: str = "") -> MetricInfo:
    """A metric; agreement with the reference is checked once per cell, so its scope defaults to ``cell``."""
    return MetricInfo(name, label, unit, tasks, better, headline, fmt, kind,
                      scope or ("cell" if kind == "accuracy" else "repetition"))


METRICS: dict[str, MetricInfo] = {m.name: m for m in (
    _m("ttft_ms", "TTFT", "ms", (TEXT,), "lower", True, "{:.2f}"),
    _m("tpot_ms", "TPOT", "ms", (TEXT,), "lower", True, "{:.3f}"),
    _m("decode_tps", "decode", "tokens/s", (TEXT,), "higher", True, "{:.0f}"),
    _m("prefill_tps", "prefill", "tokens/s", (TEXT,), "higher", False, "{:.0f}"),
    _m("itl_p50_ms", "ITL p50", "ms", (TEXT,), "lower", False, "{:.3f}"),
    _m("itl_p90_ms", "ITL p90", "ms", (TEXT,), "lower", False, "{:.3f}"),
    _m("e2e_ms", "end to end", "ms", (TEXT,), "lower", False, "{:.1f}"),
    _m("image_ms", "image", "ms", (IMAGE,), "lower", True, "{:.0f}"),
    _m("step_ms", "step", "ms", (IMAGE,), "lower", True, "{:.1f}"),
    _m("inference_ms", "batch", "ms", (CLASSIFY, OPERATOR), "lower", True, "{:.2f}"),
    _m("items_per_s", "throughput", "items/s", (CLASSIFY,), "higher", True, "{:.1f}"),
    _m("gflops_per_s", "compute", "GFLOP/s", (OPERATOR,), "higher", True, "{:.1f}"),
    _m("peak_fraction", "of matmul peak", "fraction", (OPERATOR,), "higher", False, "{:.2f}"),
    _m("load_s", "load", "s", ALL, "lower", True, "{:.2f}", scope="cell"),
    _m("peak_rss_mb", "peak RSS", "MiB", ALL, "lower", True, "{:.0f}", "memory", scope="cell"),
    _m("energy_j", "energy", "J", ALL, "lower", False, "{:.3g}", "energy"),
    _m("energy_per_token_j", "energy per token", "J/token", (TEXT,), "lower", False, "{:.3g}", "energy"),
    _m("energy_per_image_j", "energy per image", "J/image", (IMAGE,), "lower", False, "{:.3g}", "energy"),
    _m("ref_token_agreement", "tokens equal to reference", "share", (TEXT,), "higher", False, "{:.3f}", "accuracy"),
    _m("ref_first_divergence", "first divergence", "token", (TEXT,), "higher", False, "{:.0f}", "accuracy"),
    _m("ref_logits_max_diff", "logits max diff", "", (TEXT,), "lower", False, "{:.3g}", "accuracy"),
    _m("ref_psnr_db", "PSNR vs reference", "dB", (IMAGE,), "higher", False, "{:.1f}", "accuracy"),
    _m("ref_top1_agreement", "top-1 agreement", "share", (CLASSIFY,), "higher", False, "{:.3f}", "accuracy"),
    _m("ref_max_score_diff", "max score diff", "", (CLASSIFY,), "lower", False, "{:.3g}", "accuracy"),
    _m("ref_max_abs_error", "max abs error", "", (OPERATOR,), "lower", False, "{:.3g}", "accuracy"),
    _m("ref_max_rel_error", "max rel error", "", (OPERATOR,), "lower", False, "{:.3g}", "accuracy"),
)}
"""Every metric column, in display order."""


def metric(name: str) -> MetricInfo:
    """The metadata of metric ``name``; an unknown name is a :class:`ConfigurationError` listing the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise ConfigurationError(f"unknown metric {name!r}; known metrics: {', '.join(METRICS)}") from None


def headline_metrics(task: str | None = None) -> tuple[MetricInfo, ...]:
    """The headline metrics (of ``task``, or of every task), in display order."""
    return tuple(m for m in METRICS.values() if m.headline and (task is None or task in m.tasks))


def metrics_for(task: str | None = None, kind: str | None = None) -> tuple[MetricInfo, ...]:
    """Every metric of ``task`` (or all) and of ``kind`` (or all), in display order."""
    return tuple(m for m in METRICS.values()
                 if (task is None or task in m.tasks) and (kind is None or m.kind == kind))
