"""Figure functions on results frames: full, missing metrics, one row, failed cells only, 20 devices."""

from __future__ import annotations

import io
import itertools
import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.backends.backend_svg import FigureCanvasSVG
from support.frames import results_frame

import genai_harness.dashboards as dashboards
from genai_harness.dashboards import (
    device_comparison,
    history,
    itl_by_position,
    itl_percentiles,
    itl_position_medians,
    latency_ecdf,
    pick_figure,
    relative_speed,
    relative_speed_matrix,
    summary_score,
    summary_scores,
    tpot_vs_context,
    ttft_vs_prompt,
)
from genai_harness.dashboards.common import caption_text
from genai_harness.dispatch.ranking import rank
from genai_harness.errors import ConfigurationError
from genai_harness.gate.compare import compare_frames


def texts(figure) -> str:
    return "\n".join(t.get_text() for t in figure.findobj(match=lambda a: hasattr(a, "get_text")))


def labelled_axes(figure) -> list:
    return [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]


def all_figures(df: pd.DataFrame) -> dict:
    return {"comparison": device_comparison(df, "ttft_ms"), "ttft": ttft_vs_prompt(df), "tpot": tpot_vs_context(df),
            "ecdf": latency_ecdf(df, "tpot_ms"), "itl": itl_percentiles(df), "matrix": relative_speed_matrix(df),
            "history": history(df, "ttft_ms"), "itl_by_position": itl_by_position(df)}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return results_frame(devices=3, runs=2, repetitions=6, slowdown_last_run=1.6)


def test_every_figure_has_units_and_the_caption(frame: pd.DataFrame) -> None:
    for name, figure in all_figures(frame).items():
        ax = labelled_axes(figure)[0]
        assert "(" in ax.get_xlabel() or name == "matrix", (name, ax.get_xlabel())
        caption = texts(figure)
        assert "Test CPU 9000" in caption and "onnxruntime 1.31.0" in caption, name
        assert "precision: f32" in caption and "threads: 2" in caption, name
    comparison = device_comparison(frame, "ttft_ms")
    assert labelled_axes(comparison)[0].get_xlabel().startswith("TTFT (ms)")
    assert "TPOT (ms)" in labelled_axes(tpot_vs_context(frame))[0].get_ylabel()
    assert labelled_axes(ttft_vs_prompt(frame))[0].get_xlabel() == "prompt length (tokens)"


def test_comparison_bars_are_the_medians_with_their_intervals(frame: pd.DataFrame) -> None:
    figure = device_comparison(frame[frame["workload_id"] == "text2text-p16"], "ttft_ms")
    bars = labelled_axes(figure)[0].patches
    ok = frame[(frame["status"] == "ok") & (frame["workload_id"] == "text2text-p16")]
    expected = sorted(ok.groupby(["framework", "device"])["ttft_ms"].median())
    assert sorted(b.get_width() for b in bars) == pytest.approx(expected)


def test_missing_metric_says_so_and_unknown_metric_is_an_error(frame: pd.DataFrame) -> None:
    no_energy = device_comparison(frame, "energy_j")
    assert "no energy recorded" in texts(no_energy)
    with pytest.raises(ConfigurationError, match="unknown metric 'watts'"):
        device_comparison(frame, "watts")
    images_only = frame[frame["task"] == "text2image"]
    assert "no TTFT recorded against prompt length" in texts(ttft_vs_prompt(images_only))
    assert "no inter-token latency recorded" in texts(itl_percentiles(images_only))


def test_one_row_and_failed_cells_only_draw_without_error(frame: pd.DataFrame) -> None:
    one = frame[frame["status"] == "ok"].head(1)
    for figure in all_figures(one).values():
        assert figure.axes
    failed = frame[frame["status"] == "failed"]
    assert len(failed)
    for name, figure in all_figures(failed).items():
        assert "no " in texts(figure), name
    scores, ratios = summary_scores(failed, str(failed["run_id"].iloc[0]))
    assert scores.empty and ratios.empty


def test_twenty_devices_matrix_is_readable() -> None:
    df = results_frame(devices=20, runs=1, repetitions=3, failed=0)
    matrix = relative_speed(df)
    assert matrix.shape[1] == 20
    assert matrix.max(axis=1).tolist() == pytest.approx([1.0] * len(matrix))
    assert matrix.min().min() > 0 and matrix.max().max() <= 1.0 + 1e-12
    figure = relative_speed_matrix(df)
    ax = labelled_axes(figure)[0]
    assert len(ax.get_xticklabels()) == 20
    width, _height = figure.get_size_inches()
    assert width >= 0.45 * 20  # room for 20 rotated labels
    figure.canvas.draw()
    boxes = [label.get_window_extent() for label in ax.get_xticklabels()]
    overlaps = sum(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    assert overlaps == 0
    comparison = device_comparison(df, "image_ms")
    assert len(labelled_axes(comparison)[0].get_yticklabels()) == 20


def test_summary_score_is_the_geometric_mean_of_ratios_against_the_baseline() -> None:
    df = results_frame(devices=3, runs=1, repetitions=5, failed=0)
    baseline = "onnxruntime CPU f32 x2"
    scores, ratios = summary_scores(df, baseline)
    base_row = scores[scores["target"] == baseline].iloc[0]
    assert base_row["score"] == pytest.approx(1.0)
    gpu = ratios[ratios["target"] == "onnxruntime_genai GPU f32 x2"]
    assert len(gpu) == 4  # two prompt lengths, one image, one classification workload
    assert scores.set_index("target").loc["onnxruntime_genai GPU f32 x2", "score"] == pytest.approx(
        math.exp(gpu["ratio"].apply(math.log).mean()))
    assert (gpu["ratio"] < 1).all()  # the synthetic GPU is slower than the CPU
    assert "tokens equal to reference" in scores.columns
    figure = summary_score(df, baseline)
    assert "per-cell ratio" in texts(figure)
    with pytest.raises(ConfigurationError, match="neither a target nor a run id"):
        summary_scores(df, "no-such-device")
    by_run, _ = summary_scores(results_frame(devices=2, runs=2, repetitions=4, failed=0), "run-000")
    assert len(by_run) == 2


def test_history_marks_the_regressions_compare_found() -> None:
    frame = results_frame(devices=3, runs=5, repetitions=6, slowdown_last_run=1.6)
    comparison = compare_frames(frame[frame["run_id"] != "run-004"], frame[frame["run_id"] == "run-004"])
    assert (comparison["verdict"] == "regression").any()  # the last run against the history of four
    figure = history(frame, "ttft_ms", comparison)
    assert "regression (compare)" in texts(figure)
    clean = history(frame, "ttft_ms", comparison.assign(verdict="unchanged"))
    assert "regression (compare)" not in texts(clean)


def test_pick_figure_shows_winner_and_runners_up(frame: pd.DataFrame) -> None:
    decision = rank(frame, task="text2text", model="tiny-llama", objective="ttft", allow_stale=True)
    figure = pick_figure(decision, frame)
    ax = labelled_axes(figure)[0]
    assert len(ax.patches) == 1 + len(decision.alternatives) >= 2
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == decision.winner.target
    assert "winner" in texts(figure) and "(ms)" in ax.get_xlabel()


def test_figures_draw_into_a_given_axes(frame: pd.DataFrame) -> None:
    figure, (left, right) = plt.subplots(1, 2)
    assert device_comparison(frame, "tpot_ms", ax=left) is figure
    assert latency_ecdf(frame, "ttft_ms", ax=right) is figure
    plt.close(figure)


def test_caption_without_profile_says_not_recorded() -> None:
    text = caption_text(pd.DataFrame({"status": ["ok"], "ttft_ms": [1.0]}))
    assert "machine: not recorded" in text and "precision: not recorded" in text


def test_itl_by_position_draws_the_per_position_medians_of_one_workload(frame: pd.DataFrame) -> None:
    medians = itl_position_medians(frame)
    assert set(medians["workload_id"]) == {"text2text-p16", "text2text-p64"}
    assert medians.groupby(["target", "workload_id"])["position"].max().eq(15).all()
    # the median over the two runs of each run's value (the second run is 1.6x slower)
    gpu = medians[(medians["target"] == "onnxruntime_genai GPU f32 x2") & (medians["workload_id"] == "text2text-p16")]
    tpot = 4.0 * 1.35 * (1 + 16 / 512)
    expected = [(tpot * (0.9 + 0.02 * i) + 1.6 * tpot * (0.9 + 0.02 * i)) / 2 for i in range(15)]
    assert gpu["gap_ms"].tolist() == pytest.approx(expected, rel=1e-4)
    assert gpu["runs"].eq(2).all() and gpu["position"].tolist() == list(range(1, 16))
    figure = itl_by_position(frame, workload="text2text-p16")
    ax = labelled_axes(figure)[0]
    assert "(ms)" in ax.get_ylabel() and "token position" in ax.get_xlabel()
    assert "text2text-p16 | tiny-llama" in texts(figure) and "Test CPU 9000" in texts(figure)
    lines = ax.get_lines()
    assert len(lines) == 3  # one per target
    part = medians[medians["workload_id"] == "text2text-p16"]
    drawn = sorted((list(line.get_xdata()), [round(y, 6) for y in line.get_ydata()]) for line in lines)
    want = sorted((g["position"].tolist(), [round(y, 6) for y in g["gap_ms"]]) for _, g in part.groupby("target"))
    assert drawn == want


def test_itl_by_position_says_when_nothing_was_recorded(frame: pd.DataFrame) -> None:
    older = frame.drop(columns=["itl_by_position_ms"])  # a store before schema 4
    nulls = frame.assign(itl_by_position_ms=None)  # non-text cells, or a runtime that gave no token times
    for df in (older, nulls, frame[frame["task"] == "text2image"], frame[frame["status"] == "failed"]):
        figure = itl_by_position(df)
        assert "no per-position times recorded" in texts(figure)
        assert itl_position_medians(df).empty
    assert "no per-position times recorded for nope" in texts(itl_by_position(frame, workload="nope"))
    # a mix: older rows without values beside newer rows with them draw the newer ones
    mixed = pd.concat([nulls[nulls["run_id"] == "run-000"], frame[frame["run_id"] == "run-001"]])
    assert itl_position_medians(mixed)["runs"].eq(1).all()
    assert labelled_axes(itl_by_position(mixed))[0].get_lines()


def test_itl_by_position_reads_lists_and_skips_unreadable_values() -> None:
    base = {"status": "ok", "framework": "onnxruntime_genai", "device": "CPU", "task": "text2text",
            "workload_id": "w", "model_id": "m", "run_id": "r1"}
    df = pd.DataFrame([{**base, "itl_by_position_ms": [1.0, 2.0, 3.0]},
                       {**base, "run_id": "r2", "itl_by_position_ms": "[3.0, 4.0]"},
                       {**base, "run_id": "r3", "itl_by_position_ms": "not json"},
                       {**base, "run_id": "r4", "itl_by_position_ms": "[]"}])
    medians = itl_position_medians(df)
    assert medians["gap_ms"].tolist() == [2.0, 3.0, 3.0] and medians["runs"].tolist() == [2, 2, 1]


def test_figures_drawn_in_forked_workers_are_the_same_svg(frame: pd.DataFrame) -> None:
    """The report's parallel path (forked workers return SVG text) writes exactly what one process writes,
    in the same order; only the in-process path keeps the Figures (for --png)."""
    from genai_harness.dashboards.report_figures import report_figures
    from genai_harness.dashboards.report_html import figure_blocks, report_statistics

    specs = report_figures(frame, stats=report_statistics(frame))
    assert len(specs) >= 5
    serial, figures = figure_blocks(specs, 1)
    parallel, none = figure_blocks(specs, 2)
    assert parallel == serial and "<svg" in parallel[0]
    assert sorted(figures) == sorted(s.name for s in specs) and none == {}


def test_a_figure_worker_that_dies_costs_nothing_the_figures_are_drawn_here(frame: pd.DataFrame) -> None:
    import dataclasses
    import os

    from genai_harness.dashboards.report_figures import report_figures
    from genai_harness.dashboards.report_html import figure_blocks, report_statistics

    parent = os.getpid()
    specs = report_figures(frame, stats=report_statistics(frame))[:3]

    def dies_in_a_worker(draw):  # a worker killed mid-figure (OOM killer, a native crash)
        return lambda: os._exit(9) if os.getpid() != parent else draw()

    fragile = [dataclasses.replace(s, draw=dies_in_a_worker(s.draw)) for s in specs]
    blocks, figures = figure_blocks(fragile, 2)
    assert blocks == figure_blocks(specs, 1)[0] and sorted(figures) == sorted(s.name for s in specs)


MATH = "w$\\frac{$x"


def test_every_figure_function_shows_labels_as_plain_text() -> None:
    """Labels are data: a mathtext fragment in every id and label draws as written, in every public figure
    (each carries the one plain-text path), instead of failing to parse."""
    functions = [getattr(dashboards, name) for name in dashboards.__all__]
    figure_functions = [f for f in functions if "Figure" in str(f.__annotations__.get("return", ""))]
    assert len(figure_functions) == 10
    assert all(getattr(f, "plain_text", False) for f in figure_functions), figure_functions
    df = results_frame(devices=2, runs=2, repetitions=3, prompts=(16,))
    for column in ("workload_id", "model_id", "framework", "device", "environment"):
        df[column] = df[column].astype(str) + MATH
    target = f"onnxruntime{MATH} CPU{MATH}@default{MATH} f32 x2"
    text_rows = df[df["task"] == "text2text"]
    figures = [*all_figures(df).values(), summary_score(df, target),
               pick_figure(rank(text_rows, task="text2text", model=f"tiny-llama{MATH}", objective="ttft"), df)]
    for figure in figures:
        buffer = io.StringIO()
        FigureCanvasSVG(figure).print_svg(buffer)  # drawn outside any rc_context: the texts carry the setting
        assert "\\frac{" in buffer.getvalue()
