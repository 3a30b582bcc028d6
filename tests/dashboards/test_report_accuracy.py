"""The report's accuracy and client-assistant sections, from rows shaped like a store read."""

from __future__ import annotations

import pandas as pd
from support.frames import results_frame

from genai_harness.dashboards.report_html import accuracy_section, assistant_section, build_report


def _with_checks(frame: pd.DataFrame) -> pd.DataFrame:
    text = frame["task"] == "text2text"
    frame = frame.assign(ref_source=None, ref_error=None, ref_answer_share=float("nan"), family=None,
                         model_weights=None)
    frame.loc[text, "ref_source"] = "float32 checkpoint (transformers)"
    frame.loc[text, "ref_answer_share"] = 0.75
    frame.loc[text, "family"] = "smollm2-135m"
    frame.loc[text & (frame["framework"] == "openvino_genai"), "ref_error"] = "NumericsError: <refused> & why"
    return frame


def test_accuracy_section_lists_checked_cells_and_escapes_errors() -> None:
    html = accuracy_section(_with_checks(results_frame(runs=1)))
    assert "Accuracy beside speed" in html and "smollm2-135m" in html and "0.75" in html
    assert "NumericsError: &lt;refused&gt; &amp; why" in html and "<refused>" not in html
    assert accuracy_section(results_frame(runs=1)) == ""


def test_assistant_section_shows_the_score_and_its_categories() -> None:
    frame = results_frame(runs=1, tasks=("text2text",), prompts=(16, 64))
    frame["workload_id"] = frame["n_input_tokens"].map(lambda n: f"assistant-cat{n}")
    html = assistant_section(frame)
    assert "Client assistant score" in html and "overall (2 categories" in html
    assert "cat16" in html and "cat64" in html
    assert assistant_section(results_frame(runs=1)) == ""
    page = build_report(_with_checks(frame), source="t").html
    assert "Client assistant score" in page and "Accuracy beside speed" in page


def test_cold_start_section_shows_the_targets_that_compile_and_escapes_their_cache_keys() -> None:
    from genai_harness.dashboards.report_html import cold_start_section

    frame = results_frame(runs=1, tasks=("classification",), failed=0)
    assert cold_start_section(frame) == ""  # nothing compiled: no section
    gpu = frame["device"] == "GPU"
    frame = frame.assign(cache_key=None, compile_s=float("nan"), load_cold_s=float("nan"),
                         load_warm_s=float("nan"), cache_mib=float("nan"), cache_hit=None)
    frame.loc[gpu, ["cache_key", "compile_s", "load_cold_s", "load_warm_s", "cache_mib", "cache_hit"]] = [
        "openvino <2026>/GPU & driver/tiny-vit", 7.5, 8.25, 0.5, 12.0, 1]
    html = cold_start_section(frame)
    assert "Cold start (1 targets that compile)" in html and "8.25" in html and "1 of 1" in html
    assert "openvino &lt;2026&gt;/GPU &amp; driver/tiny-vit" in html and "<2026>" not in html
    assert "Cold start" in build_report(frame, source="t").html
