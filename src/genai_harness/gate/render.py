"""A comparison as text: a terminal table, Markdown (a CI step summary) and JUnit XML (CI test reports)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from genai_harness.analysis.metric_info import METRICS
from genai_harness.gate.compare import UNTESTED
from genai_harness.gate.outcome import FAILING_COLUMN, ON_INCONCLUSIVE_DEFAULT, flagged
from genai_harness.tables import format_table

if TYPE_CHECKING:
    import pandas as pd

HEADERS = ("verdict", "target", "workload", "model", "metric", "baseline", "current", "ratio [95% CI]", "p",
           "tested on", "catches")
"""``verdict``: ``inconclusive !`` marks an unresolved row (at or beyond its threshold), ``inconclusive !!`` a
blind one (its runs could hide a 1.5x slowdown: its interval reaches it, or it is untested);
``p``: the p-value adjusted for every row of the comparison (Holm: ``p_family``; a rate and the latency it inverts,
decode and TPOT, count once), what the verdict uses;
``tested on``: what the test counted (paired rounds, runs, runs pooled over cells, one run a side) and its df;
``catches``: the smallest slowdown those units, at their measured spread, catch 95 % of the time
(``detectable``; "nothing" with no spread to judge by)."""
ORDER = {"regression": 0, "inconclusive": 1, "improvement": 2, "only in baseline": 3, "only in current": 4,
         "equivalent": 5}


def _number(value: float, fmt: str = "{:.3g}") -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def _rows(comparison: pd.DataFrame) -> list[tuple[str, ...]]:
    rows = []
    marks = flagged(comparison, "unresolved").astype(int) + flagged(comparison, "blind").astype(int)
    rank = comparison["verdict"].map(ORDER) - marks * 0.25
    ranked = comparison.assign(_order=rank).sort_values("_order", kind="stable")
    for r in ranked.to_dict("records"):
        info = METRICS[r["metric"]]
        interval = (f"{_number(r['ratio'], '{:.3f}')} [{_number(r['ratio_ci_low'], '{:.3f}')}-"
                    f"{_number(r['ratio_ci_high'], '{:.3f}')}]") if not math.isnan(r["ratio"]) else ""
        tested = r.get("tested_on") or ""
        if tested and math.isfinite(r.get("df", math.nan)):
            tested += f" (df {r['df']:.3g})"
        catches = _number(r.get("detectable", math.nan), ">= {:.2f}x")
        if not catches and r.get("tested_on") in UNTESTED:
            catches = "nothing"
        mark = " !!" if r.get("blind") else " !" if r.get("unresolved") else ""
        rows.append((r["verdict"] + mark, r["target"], r["workload_id"],
                     r["model_id"], info.title, info.format(r["baseline_median"]), info.format(r["current_median"]),
                     interval, _number(r.get("p_family", r["p_value"]), "{:.3g}"), tested, catches))
    return rows


def counts_line(comparison: pd.DataFrame) -> str:
    """``N regression, N inconclusive (M unresolved, B could hide 1.5x), N equivalent, ...``: every verdict
    present, in :data:`ORDER`."""
    counts = comparison["verdict"].value_counts()
    parts = []
    for verdict in sorted(counts.index, key=lambda v: ORDER.get(v, 9)):
        text = f"{int(counts[verdict])} {verdict}"
        if verdict == "inconclusive":
            blind = int(flagged(comparison, "blind").sum())
            text += f" ({int(flagged(comparison, 'unresolved').sum())} unresolved"
            text += f", {blind} could hide 1.5x)" if blind else ")"
        parts.append(text)
    return ", ".join(parts)


def to_table(comparison: pd.DataFrame) -> str:
    """The comparison as a terminal table, regressions first, with a closing count line."""
    return format_table(HEADERS, _rows(comparison), max_width=48) + "\n" + counts_line(comparison)


def to_markdown(comparison: pd.DataFrame, title: str = "genai-harness compare") -> str:
    """The comparison as a Markdown section (for ``$GITHUB_STEP_SUMMARY``)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"### {title}", "", counts_line(comparison), "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in _rows(comparison)]
    return "\n".join(lines) + "\n"


def to_junit(comparison: pd.DataFrame, suite: str = "genai-harness.compare", *,
             on_inconclusive: str = ON_INCONCLUSIVE_DEFAULT) -> str:
    """JUnit XML: one test case per cell and metric; a regression is a failure, and so is an unresolved
    inconclusive row that fails the gate under ``on_inconclusive`` (any with ``fail``, a ``blind`` one with
    ``auto``, the default as for ``compare``); other inconclusive rows and cells on one side are skips."""
    cases = comparison.to_dict("records")
    failing_column = FAILING_COLUMN.get(on_inconclusive)

    def failing(case: dict[str, object]) -> bool:
        return case["verdict"] == "regression" or bool(failing_column and case.get(failing_column))

    root = ElementTree.Element("testsuite", name=suite, tests=str(len(cases)),
                               failures=str(sum(failing(c) for c in cases)),
                               skipped=str(sum(not failing(c) and c["verdict"] not in ("improvement", "equivalent")
                                               for c in cases)))
    for case in cases:
        element = ElementTree.SubElement(root, "testcase", classname=f"{case['target']}.{case['workload_id']}",
                                         name=f"{case['model_id']}.{case['metric']}")
        text = (f"ratio {_number(case['ratio'], '{:.3f}')} (95% CI {_number(case['ratio_ci_low'], '{:.3f}')}-"
                f"{_number(case['ratio_ci_high'], '{:.3f}')}), p {_number(case['p_value'])} "
                f"(over the comparison {_number(case.get('p_family', math.nan))}), "
                f"threshold {case['threshold']:.2f}")
        if failing(case):
            ElementTree.SubElement(element, "failure", message=f"{case['verdict']}: {text}").text = text
        elif case["verdict"] not in ("improvement", "equivalent"):
            ElementTree.SubElement(element, "skipped", message=f"{case['verdict']}: {text}")
        else:
            ElementTree.SubElement(element, "system-out").text = f"{case['verdict']}: {text}"
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)
