"""Property-based tests of the report (hypothesis): arbitrary text in every id and label a store row carries
(model, workload, framework, device, environment). Whatever the text, the report is written, its HTML parses,
no element or attribute appears that the report did not write, and ids stay unique."""

from __future__ import annotations

import contextlib
import io
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from support.frames import results_frame

from genai_harness import cli
from genai_harness.dashboards.markup import escape
from genai_harness.results.store import ResultStore

LABELS = ("model_id", "workload_id", "framework", "device", "environment")
HOSTILE = st.sampled_from([
    "q\"><img src=x onerror=alert(1)>", "w$\\frac{$x", "</svg><script>alert(1)</script>", "a'b\"c", "&amp;&lt;",
    "$", "$$", "\\", "{{x}}", "x\ny", "\t", "_nolegend_", "ü é 中文 🙂", "javascript:alert(1)", "<!--", "]]>",
])
TEXT = st.one_of(HOSTILE, st.text(min_size=1, max_size=24), HOSTILE.map(lambda h: h * 8))


class Elements(HTMLParser):
    """Every start tag with its attribute names, and the ids the report writes (outside matplotlib's SVGs, whose
    own ids ``figure_1``, ``patch_1`` repeat from figure to figure), of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[tuple[str, str]] = set()
        self.ids: list[str] = []
        self.in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {(tag, name) for name, _ in attrs}
        self.in_svg += tag == "svg"
        if not self.in_svg:
            self.ids += [value or "" for name, value in attrs if name == "id"]

    def handle_endtag(self, tag: str) -> None:
        self.in_svg -= tag == "svg" and self.in_svg > 0


def small_frame(labels: dict[str, str]) -> pd.DataFrame:
    """Two targets on one text workload, three repetitions: every kind of text figure, in little time."""
    frame = results_frame(devices=2, runs=1, repetitions=3, prompts=(16,), tasks=("text2text",), positions=4)
    for column, value in labels.items():
        frame[column] = frame[column].astype(str) + value  # the targets stay two, the cells apart
    return frame


def report_of(frame: pd.DataFrame, folder: Path) -> tuple[int, str, str]:
    """``genai-harness report`` of ``frame`` written through the store API, run in this process."""
    store = ResultStore(folder / "s.sqlite")
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for target in sorted({r["device"] for r in records}):
        store.append([r for r in records if r["device"] == target])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["report", "--store", str(folder / "s.sqlite"), "--out", str(folder / "out"), "--jobs", "1"])
    page = folder / "out" / "report.html"
    return code, page.read_text(encoding="utf-8") if page.exists() else "", err.getvalue()


def parsed(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    parser.close()
    return parser


with tempfile.TemporaryDirectory() as _folder:
    _code, _page, _ = report_of(small_frame({}), Path(_folder))
    assert _code == 0, "the plain report must be written"
    WRITTEN = parsed(_page)
    """What the report writes for plain labels: every tag and attribute a report of this shape may hold."""


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],  # a report takes seconds: no shrinking, the failing example shown
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(labels=st.fixed_dictionaries({column: TEXT for column in LABELS}))
def test_any_label_gives_a_report_with_only_its_own_markup(labels: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        code, page, err = report_of(small_frame(labels), Path(folder))
    assert code == 0, err
    assert "Traceback" not in err and "constrained_layout" not in err, err
    found = parsed(page)
    assert found.tags <= WRITTEN.tags, found.tags - WRITTEN.tags
    assert found.attributes <= WRITTEN.attributes, found.attributes - WRITTEN.attributes
    assert len(found.ids) == len(set(found.ids)) and len(found.ids) == len(WRITTEN.ids), sorted(found.ids)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    model = small_frame(labels)["model_id"].iloc[0]
    assert escape(model.replace("\r", "")) in page.replace("\r", "")  # the model id, shown as written
