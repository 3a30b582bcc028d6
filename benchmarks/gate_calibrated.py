"""Calibrating the machine-speed kernel (issue 23, point 3): does ``calib_ms`` track the load, and what does the
kernel-adjusted gate of separate runs gain over today's rule on the same runs?

Pool (real, ``--measure N``): N separate ``genai-harness run`` invocations of ``gate_honest.SUITE`` (four cells:
tiny-llm ``text-p128-g32`` on onnxruntime-genai and openvino-genai, squeezenet ``classify-b1`` on onnxruntime and
openvino-genai), one after the other under ``nice -n 5``, each its own run id, the load average logged beside each
run (``POOL.load``). Every row carries ``calib_ms`` (``worker.calibration``).

1. Tracking: per cell and speed metric, the correlation across runs of the log run median with the log kernel,
   and the run-to-run SD of the log run medians before and after the adjustment fitted on the whole pool.
2. Judge: for 3 and 5 runs a side, TRIALS A/A comparisons each draw 2n distinct runs of the pool, and the first
   CATCH_TRIALS of the same draws are judged again with the current side stretched by each FACTOR
   (``analysis.metric_info.stretch``, what ``--inject-slowdown`` records; the kernel is not stretched, as in a real
   ``--inject-slowdown`` run). Each draw is judged by ``compare_long`` with its defaults twice: BEFORE
   (``calibrate=False``, the rule before this change) and AFTER (``calibrate=True``, kernel-adjusted).
   Exit codes as under ``--on-inconclusive fail`` (1 regression, 16 unresolved, 0 pass) and under ``auto``
   (16 only on a blind row: ``gate.compare.inconclusive_fails``).

Run: ``nice -n 5 .venv/bin/python benchmarks/gate_calibrated.py --measure 50 --store POOL`` (pool, then judge) or
``--store POOL`` alone (judge an existing pool). ``GATE_DRAW=consecutive`` draws each side as n runs in a row (as a
CI job takes them) instead of anywhere in the pool; ``GATE_SIZES=5,10`` picks the sizes; ``GATE_FIRST_RUN=K``
judges the runs from the K-th on. ``GATE_DRAW=jobs`` draws as a CI gate with a kept history does
(``gate_honest.draw_jobs``: the current side one job of n runs in a row, the
baseline ``GATE_HISTORY`` (5) other jobs of n runs in a row, every run naming its job) and then BEFORE counts runs
(``by_job=False``) and AFTER jobs (``by_job=True``, the default), both kernel-adjusted.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd
from gate_honest import (
    CONFIRM,
    JOBS,
    KEY_COLUMNS,
    confirm_block,
    draw_job_sides,
    draw_jobs,
    draw_runs,
    draw_sides,
    pool_arguments,
    pooled_rules,
)

from genai_harness.analysis.long_view import LONG_KEEP, long_view
from genai_harness.analysis.metric_info import METRICS, stretch
from genai_harness.gate.calibration import CALIB_COLUMN, adjust_cells
from genai_harness.gate.compare import ALPHA, THRESHOLD, compare_long, default_metrics
from genai_harness.gate.outcome import gate_fails, gate_outcome, inconclusive_fails
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import ResultStore

SIZES = tuple(int(s) for s in os.environ.get("GATE_SIZES", "3,5,10").split(","))
FACTORS = tuple(float(f) for f in os.environ.get("GATE_FACTORS", "1.0,1.10,1.25,1.5,2.0").split(","))
FIRST_RUN = int(os.environ.get("GATE_FIRST_RUN", "1"))
"""``GATE_FIRST_RUN=K``: judge the pool from its K-th run on, in time order (a stretch its load log shows was not
quiet, at the start, is left out and said so)."""


def tracking(longs: list[pd.DataFrame], metrics: list[str]) -> list[str]:
    """Markdown rows: per cell and speed metric, corr(log kernel, log run median) and the log SD before/after."""
    frame = pd.concat(longs, ignore_index=True)
    lines = []
    for name in metrics:
        if METRICS[name].kind != "speed":
            continue
        sides, kernels = {}, {}
        for key, group in frame[frame["metric"] == name].groupby(list(KEY_COLUMNS), sort=False):
            per_run = group.groupby("run_id", sort=False)[["value", CALIB_COLUMN]].median()
            per_run = per_run[(per_run > 0).all(axis=1)]
            sides[(*key, name)] = (dict(np.log(per_run["value"])), {})
            kernels[(*key, name)] = (dict(np.log(per_run[CALIB_COLUMN])), {})
        adjusted, used = adjust_cells(sides, kernels, [name])
        for key, (values, _) in sides.items():
            y, x = np.array(list(values.values())), np.array(list(kernels[key][0].values()))
            after = np.array(list(adjusted[key][0].values()))
            slope = used[key][0] if key in used else None
            lines.append(f"| {key[0]} {key[1]} | {name} | {len(y)} | {np.corrcoef(x, y)[0, 1]:.2f} | "
                         f"{y.std(ddof=1):.3f} | {after.std(ddof=1):.3f} | "
                         f"{f'{slope.slope:.2f} +- {slope.se:.2f}' if slope else 'not used'} |")
    return lines


def judge(longs: list[pd.DataFrame], trials: int, catch_trials: int, metrics: list[str]) -> list[dict[str, object]]:
    """Per (runs a side, factor): exit-code rates BEFORE and AFTER, rows equivalent, median df and detectable."""
    rng = np.random.default_rng(20261206)
    factors = {m: THRESHOLD for m in metrics}
    rows: list[dict[str, object]] = []
    blockers: dict[tuple[int, str], int] = {}
    for n in SIZES:
        draws = [draw_jobs(rng, len(longs), n) if JOBS else draw_runs(rng, len(longs), n) for _ in range(trials)]
        for factor in FACTORS:
            scale = {m: float(stretch({m: 1.0}, factor)[m]) for m in metrics}
            tally: dict[str, list[float]] = {}
            for draw in draws if factor == 1.0 else draws[:catch_trials]:
                base, cur = draw_job_sides(longs, draw, scale) if JOBS else draw_sides(longs, draw, n, scale)
                for label, after in (("before", False), ("after", True)):
                    options = {"calibrate": True, "by_job": after} if JOBS else {"calibrate": after}
                    result = compare_long(base, cur, names=metrics, factors=factors, threshold=THRESHOLD,
                                          alpha=ALPHA, **options)
                    outcome = gate_outcome(result)
                    for code, name in (("1", "regression"), ("16", "unresolved"), ("0", "pass")):
                        tally.setdefault(f"{label} exit {code}", []).append(outcome == name)
                    blind = outcome == "unresolved" and inconclusive_fails(result, "auto")
                    tally.setdefault(f"{label} auto exit 16", []).append(blind)
                    tally.setdefault(f"{label} auto exit 0", []).append(outcome != "regression" and not blind)
                    moved = result[result["metric"].map(scale) != 1.0]
                    tally.setdefault(f"{label} equivalent (moved rows)", []).append(
                        float((moved["verdict"] == "equivalent").sum()) if factor > 1.0 else 0.0)
                    tally.setdefault(f"{label} df", []).append(float(result["df"].median()))
                    tally.setdefault(f"{label} detectable", []).append(float(result["detectable"].median()))
                    if after:
                        tally.setdefault("adjusted rows", []).append(
                            float(result["tested_on"].str.contains("adjusted").mean()))
                        if factor == 1.0:  # which rows hold an unchanged build back (exit 16)
                            for cell in result[result["unresolved"].astype(bool)].itertuples():
                                where = f"{cell.workload_id} {cell.target} {cell.metric}"
                                blockers[(n, where)] = blockers.get((n, where), 0) + 1
                if JOBS and CONFIRM:  # ``result`` is the job-level (after) comparison of this draw
                    confirmed = confirmed_outcome(longs, draw, n, scale, metrics, factors, base, result)
                    for code, name in (("1", "regression"), ("16", "unresolved"), ("0", "pass")):
                        tally.setdefault(f"confirmed auto exit {code}", []).append(confirmed == name)
                    tally.setdefault("confirm reruns", []).append(float(gate_fails(result, "auto")))
                asv, pyperf = pooled_rules(base, cur)
                tally.setdefault("asv", []).append(asv)
                tally.setdefault("pyperf", []).append(pyperf)
            row: dict[str, object] = {"runs a side": n, "factor": factor, "trials": len(tally["before exit 1"])}
            for key, values in tally.items():
                median = key.endswith(("df", "detectable"))
                row[key] = (float(np.sum(values)) if "equivalent" in key else
                            float(np.nanmedian(values)) if median else float(np.mean(values)))
            row["load"] = os.getloadavg()[0]
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    for (n, label), count in sorted(blockers.items(), key=lambda item: (item[0][0], -item[1])):
        print(f"{n} runs a side, A/A, after: {label} unresolved in {count} of {trials} comparisons")
    return rows


def auto_outcome(result: pd.DataFrame) -> str:
    """What a comparison does under ``auto``: "regression" (exit 1), "unresolved" (a blind row, exit 16) or "pass"."""
    if not gate_fails(result, "auto"):
        return "pass"
    return "regression" if gate_outcome(result) == "regression" else "unresolved"


def confirmed_outcome(longs: list[pd.DataFrame], draw: list[np.ndarray], n: int, scale: dict[str, float],
                      metrics: list[str], factors: dict[str, float], base: pd.DataFrame, first: pd.DataFrame) -> str:
    """The :func:`auto_outcome` of a job-level comparison (``first``) that re-measures once before it fails
    (``CONFIRM``): a second job from :func:`gate_honest.confirm_block` joins the current side and both are judged."""
    second = confirm_block(draw, len(longs), n) if gate_fails(first, "auto") else None
    if second is None:
        return auto_outcome(first)
    cur = pd.concat([draw_job_sides(longs, [*draw[:-1], block], scale)[1].assign(job_id=f"current {i}")
                     for i, block in enumerate((draw[-1], second))], ignore_index=True)
    return auto_outcome(compare_long(base, cur, names=metrics, factors=factors, threshold=THRESHOLD, alpha=ALPHA,
                                     calibrate=True, by_job=True))


def caught(rows: list[dict[str, object]], column: str, n: int, at: float = 0.95) -> str:
    """The smallest factor of :data:`FACTORS` whose ``column`` rate reaches ``at`` with ``n`` runs a side."""
    hits = [float(r["factor"]) for r in rows  # type: ignore[arg-type]
            if r["runs a side"] == n and float(r["factor"]) > 1 and float(r[column]) >= at]  # type: ignore[arg-type]
    return f"{min(hits):.2f}" if hits else f"> {FACTORS[-1]:.2f}"


def main() -> None:
    args = pool_arguments(__doc__.splitlines()[0], catch_trials=40)
    started = time.monotonic()
    frame = ResultStore(args.store, create=False).read(ResultFilter(statuses="ok"))
    frame = frame[frame[CALIB_COLUMN].notna()]
    cells = frame.groupby("run_id")["workload_id"].transform(lambda w: frame.loc[w.index, ["framework", "workload_id"]]
                                                             .drop_duplicates().shape[0])
    frame = frame[cells == cells.max()]  # whole runs only (a run interrupted mid-suite is left out)
    metrics = [m for m in default_metrics() if m in frame.columns and frame[m].notna().any()]
    longs = [long_view(group, metrics, keep=(*LONG_KEEP, CALIB_COLUMN))
             for _, group in frame.sort_values("run_started_at", kind="stable")
             .groupby("run_id", sort=False)]  # in time order: GATE_DRAW=consecutive draws runs in a row
    whole = pd.concat(longs, ignore_index=True).groupby(list(KEY_COLUMNS))["run_id"].nunique()
    common = set(whole[whole >= len(longs) / 2].index)  # a cell a stray run alone had (another config) is left out
    longs = [g[[k in common for k in zip(*(g[c] for c in KEY_COLUMNS), strict=True)]] for g in longs]
    longs = longs[FIRST_RUN - 1:]
    print(f"pool: {len(longs)} runs (from run {FIRST_RUN}); load at start {os.getloadavg()}", file=sys.stderr)
    print("| cell | metric | runs | corr(log kernel, log run median) | log SD before | after | slope |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    print("\n".join(tracking(longs, metrics)))
    rows = judge(longs, args.trials, args.catch_trials, metrics)
    columns = ["runs a side", "factor", "trials", "before exit 1", "before exit 16", "before exit 0", "after exit 1",
               "after exit 16", "after exit 0", "before auto exit 16", "before auto exit 0", "after auto exit 16",
               "after auto exit 0", "before equivalent (moved rows)", "after equivalent (moved rows)",
               "adjusted rows", "asv", "pyperf", "before df", "after df", "before detectable", "after detectable",
               "load"]
    if JOBS and CONFIRM:
        columns[-1:-1] = ["confirm reruns", "confirmed auto exit 1", "confirmed auto exit 16", "confirmed auto exit 0"]
    print("\n| " + " | ".join(columns) + " |\n|" + " --- |" * len(columns))
    for row in rows:
        print("| " + " | ".join(f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in columns) + " |")
    for n in SIZES:
        found = {k: caught(rows, k, n) for k in ("before exit 1", "after exit 1", "asv", "pyperf",
                                                  *(("confirmed auto exit 1",) if JOBS and CONFIRM else ()))}
        fails = {k: caught(rows, k, n) for k in ("before exit 0", "after exit 0")}
        print(f"\n{n} runs a side: smallest factor caught as a regression 95 % of the time {found}; "
              f"(exit 0 rates per factor in the table: {fails})")
    print(f"\njudged in {time.monotonic() - started:.0f} s; load at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
