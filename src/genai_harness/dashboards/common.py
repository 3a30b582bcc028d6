"""What every figure shares: the Agg backend, a figure or the caller's Axes, and the caption.

The caption says where the numbers come from: the machine (hostname, CPU), the runtime versions and
the numeric settings read back from the runtime (the ``precision`` and ``threads`` columns, and where recorded
``weight_precision`` and ``kv_cache_precision``).
"""

from __future__ import annotations

import functools
import json
import math
import textwrap
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import matplotlib
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter

from genai_harness.analysis.keys import short_weight_precision, text_value
from genai_harness.errors import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

WIDTH_IN = 8.0
"""Default figure width (inches); the report embeds figures at this size."""

PLAIN_TEXT: dict[str, Any] = {"text.parse_math": False}
"""The matplotlib settings every figure is built and drawn under: labels are data, shown as written, never
parsed as mathtext (a ``$`` in a model id is a dollar sign, not markup that can fail to parse)."""

_CAPTIONS: ContextVar[bool] = ContextVar("genai_harness_captions", default=True)

F = TypeVar("F", bound=Callable[..., Any])


def plain_text(function: F) -> F:
    """Decorate a figure function: every text it creates (titles, tick labels, legends) is plain text.

    The one path for the class: each public figure function carries it (``tests/dashboards`` checks), and the
    report draws under :data:`PLAIN_TEXT` as well (tick labels made lazily at draw time)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(PLAIN_TEXT):
            return function(*args, **kwargs)

    wrapper.plain_text = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


@contextmanager
def without_captions() -> Iterator[None]:
    """Figures made inside leave out the machine caption (the report shows the machine once, at its end)."""
    token = _CAPTIONS.set(False)
    try:
        yield
    finally:
        _CAPTIONS.reset(token)


def axes(ax: Axes | None, *, height: float = 4.5, width: float = WIDTH_IN) -> tuple[Figure, Axes]:
    """The caller's Axes and its Figure, or a new Figure on an Agg canvas and its Axes.

    The new Figure is not registered with pyplot (nothing to close, no GUI window) and the process's
    matplotlib backend is left as it is (a notebook keeps its own)."""
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _json(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text_value(text) or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _distinct(df: pd.DataFrame, column: str) -> list[str]:
    if column not in df.columns:
        return []
    return sorted({text_value(v) for v in df[column].dropna().unique()} - {""})


def caption_text(df: pd.DataFrame) -> str:
    """Machine, runtime versions and numeric settings of ``df``'s rows, as one caption (pure)."""
    machines = []
    if "machine_profile" in df.columns and len(df):
        for profile in df["machine_profile"].dropna().unique()[:3]:
            p = _json(profile)
            cpu = p.get("cpu") if isinstance(p.get("cpu"), str) else (p.get("cpu") or {}).get("brand", "")
            machines.append(" ".join(str(x) for x in (p.get("hostname", ""), cpu or p.get("cpu_brand", "")) if x))
    if not machines:
        machines = _distinct(df, "hostname")
    versions: dict[str, str] = {}
    if "runtime_versions" in df.columns:
        for text in df["runtime_versions"].dropna().unique()[:20]:
            for name, version in _json(text).items():
                if isinstance(version, str | int | float):
                    versions.setdefault(name, str(version))
    precision, threads = _distinct(df, "precision"), _distinct(df, "threads")
    parts = [
        "machine: " + ("; ".join(m for m in machines if m) or "not recorded"),
        "runtimes: " + (", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or "not recorded"),
        "precision: " + (", ".join(precision) or "not recorded"),
        "threads: " + (", ".join(threads) or "not recorded"),
    ]
    # what the weights and the KV cache are (schema 5 on; absent from older stores' rows)
    weights, kv_cache = _distinct(df, "weight_precision"), _distinct(df, "kv_cache_precision")
    if weights:
        parts.append("weights: " + ", ".join(short_weight_precision(w) for w in weights))
    if kv_cache:
        parts.append("KV cache: " + ", ".join(kv_cache))
    return "\n".join(textwrap.fill(p, 150) for p in parts)


def short_label(text: Any, limit: int = 48) -> str:
    """``text`` cut to ``limit`` characters by an ellipsis in its middle (both ends stay readable) (pure)."""
    value = text_value(text)
    if len(value) <= limit:
        return value
    keep = limit - 1
    return value[: keep - keep // 2] + "\u2026" + value[len(value) - keep // 2:]


def label_inches(labels: Iterable[Any], fontsize: float) -> float:
    """About how many inches the longest of ``labels`` takes at ``fontsize`` (0.6 em a character)."""
    longest = max((len(text_value(label)) for label in labels), default=0)
    return math.ceil(longest * fontsize * 0.6) / 72  # whole points: the page states a figure's size in points


def fit_axis_labels(figure: Figure) -> None:
    """Wrap every axis title onto as many lines as it needs to fit beside its axis (never cut off), and cut
    category tick labels and legend entries longer than :func:`short_label` allows (long ids would squeeze the
    plot to nothing)."""
    width_pt, height_pt = (v * 72 for v in figure.get_size_inches())
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if isinstance(axis.get_major_locator(), FixedLocator):  # category labels (``set_yticks(at, labels)``)
                given = axis.get_major_formatter()
                axis.set_major_formatter(FuncFormatter(lambda x, pos, given=given: short_label(given(x, pos))))
        legend = ax.get_legend()
        for text in legend.get_texts() if legend is not None else []:
            text.set_text(short_label(text.get_text()))
        for label, room in ((ax.xaxis.label, width_pt * 0.9), (ax.yaxis.label, height_pt * 0.8)):
            text = label.get_text()
            chars = max(12, int(room / (label.get_fontsize() * 0.58)))
            if len(text) > chars:
                label.set_text(textwrap.fill(text, chars))


def finish(figure: Figure, df: pd.DataFrame, title: str) -> Figure:
    """Title the figure and put the caption (machine, runtimes, numerics) beneath it (inside
    :func:`without_captions`: no caption); axis titles wrapped to fit (:func:`fit_axis_labels`)."""
    fit_axis_labels(figure)
    figure.suptitle(title, fontsize=11)
    if not _CAPTIONS.get():
        return figure
    caption = caption_text(df)
    figure.text(0.01, 0.005, caption, fontsize=6.5, va="bottom", ha="left", color="#444444")
    engine = figure.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        lines = caption.count("\n") + 1
        share = min(0.5, (lines * 8.5 + 6) / (figure.get_size_inches()[1] * 72))
        engine.set(rect=(0, share, 1, 1 - share))
    return figure


def empty(ax: Axes, message: str) -> None:
    """Say on the Axes why there is nothing to plot (a figure is never silently blank)."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def require_columns(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    """A DataFrame without the results columns a figure needs is a ConfigurationError naming them."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigurationError(f"{what} needs the results columns {', '.join(missing)}; pass a DataFrame read "
                                 "with genai_harness.results.load_results or ResultStore.read")


LINESTYLES: tuple[Any, ...] = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)),
                               (0, (8, 3, 2, 3)))
"""Line styles that tell workloads apart (cycled beyond eight)."""


@dataclass(frozen=True)
class CellStyles:
    """Colour per target and line style per workload: 20 targets on 4 workloads need 24 legend entries,
    not 80, and a line's colour means the same target in every figure of one frame."""

    colors: dict[str, Any]
    linestyles: dict[str, Any]

    def legend(self, ax: Axes, *, fontsize: float = 6) -> None:
        """One legend beside the Axes (right, outside the data): the targets by colour, then the workloads
        by line style (only when there are several)."""
        handles = [Line2D([], [], color=c, lw=2, label=t) for t, c in self.colors.items()]
        if len(self.linestyles) > 1:
            handles += [Line2D([], [], color="#333333", ls=s, lw=1.2, label=w) for w, s in self.linestyles.items()]
        rows = 34
        ax.legend(handles=handles, fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0, ncols=max(1, -(-len(handles) // rows)), frameon=False)


def cell_styles(targets: Iterable[str], workloads: Iterable[str]) -> CellStyles:
    """Colours (tab20, cycled) for ``targets`` and line styles for ``workloads``, each in sorted order."""
    cmap = colormaps["tab20"]
    targets, workloads = sorted({str(t) for t in _unique(targets)}), sorted({str(w) for w in _unique(workloads)})
    return CellStyles({t: cmap(i % 20) for i, t in enumerate(targets)},
                      {w: LINESTYLES[i % len(LINESTYLES)] for i, w in enumerate(workloads)})


def _unique(values: Iterable[Any]) -> Iterable[Any]:
    unique = getattr(values, "unique", None)  # a pandas Series: its distinct values, not every row
    return unique() if callable(unique) else values


def legend_width(styles: CellStyles) -> float:
    """Inches to add to a figure's width for :meth:`CellStyles.legend` beside its Axes."""
    entries = len(styles.colors) + (len(styles.linestyles) if len(styles.linestyles) > 1 else 0)
    longest = max((len(short_label(k)) for k in (*styles.colors, *styles.linestyles)), default=10)
    inches = (-(-entries // 34)) * (0.45 + 0.045 * longest)
    return math.ceil(inches * 72) / 72  # whole points: the page states a figure's size in points
