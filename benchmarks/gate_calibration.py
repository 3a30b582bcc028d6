"""Calibrating the regression gate: false-alarm and detection rates, measured, beside asv's rule.

Runs one small real cell per runtime (tiny-llm, 128-token prompt, 32 forced tokens, the default
repetitions of ``text-p128-g32``) RUNS times, each run its own worker process, alternating the
runtimes, exactly as ``genai-harness run`` does. Then, on that data:

- separate runs (a CI baseline against a later run): every pair of runs is an A/A comparison
  (false alarms), and the same pairs with the later run stretched by 1.05 and 1.10 (what
  ``--inject-slowdown`` records) give the detection rates;
- ``ab`` (5 rounds, ABBA): sides made of 5 runs each taken in ABBA order from consecutive runs,
  TRIALS random windows; same three questions;
- each judged by our rule (factor 1.10 and Mann-Whitney p < 0.05, bootstrap CI reported) and by
  asv's (factor 1.10 and Mann-Whitney p < 0.002).

A comparison alarms when any of TPOT, TTFT, e2e regresses. Run:
``.venv/bin/python benchmarks/gate_calibration.py [--runs 30] [--trials 200]``
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from genai_harness.analysis.metric_info import stretch
from genai_harness.analysis.statistics import rank_test, ratio_of_medians
from genai_harness.config import load_config
from genai_harness.gate.compare import ALPHA, MIN_REPETITIONS, THRESHOLD, compare_frames
from genai_harness.gate.verdicts import verdict
from genai_harness.host.fingerprint import machine_profile
from genai_harness.results.store import ResultStore
from genai_harness.runner.cell_loop import new_run_context, run_plan
from genai_harness.runner.environments import configured_environments
from genai_harness.runner.inventory import collect_inventory
from genai_harness.runner.plan import Plan, make_plan
from genai_harness.runner.progress import Progress
from genai_harness.workloads.catalog import Catalog
from genai_harness.workloads.suites import load_suite

METRICS = ("tpot_ms", "ttft_ms", "e2e_ms")
ASV_P = 0.002


def measure(runs: int, store: ResultStore) -> pd.DataFrame:
    """RUNS runs of text-p128-g32 on tiny-llm through onnxruntime-genai and openvino-genai, alternating."""
    cfg = load_config(None)
    inventories = collect_inventory(configured_environments(cfg, []))
    catalog = Catalog(cfg)
    smoke = load_suite("smoke")
    suite = dataclasses.replace(smoke, entries=tuple(e for e in smoke.entries if e.workload.id == "text-p128-g32"))
    plan = make_plan(suite, inventories, catalog, ["onnxruntime_genai", "openvino.genai"], ["CPU"], ["tiny-llm"])
    env_versions = {inv.environment.name: inv.versions() for inv in inventories}
    profile = machine_profile({k: v for k, v in env_versions.items() if k != "default"})
    meter = Progress(runs * len(plan.cells), sys.stderr, False)
    rows: list[dict[str, Any]] = []
    for index in range(runs):
        for cell in plan.cells:
            context = new_run_context(profile, env_versions)
            context.run_id = f"cal-{index:03d}-{cell.framework}"
            run_plan(Plan([cell], []), store, context, meter, rows)
        print(f"  run {index + 1}/{runs} done", file=sys.stderr)
    return pd.DataFrame(rows)


def slowed(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    """``frame`` as ``--inject-slowdown factor`` would have recorded it."""
    if factor == 1.0:
        return frame
    return pd.DataFrame([stretch(r, factor) for r in frame.to_dict("records")])


def ours(base: pd.DataFrame, cur: pd.DataFrame) -> bool:
    """Our gate: does any metric regress? The statistics and :func:`verdict` compare_frames applies (the
    three metrics are lower-is-better, so the slowdown is the ratio of medians; with MIN_REPETITIONS runs a
    side the rank test takes one median per run)."""
    for name in METRICS:
        b, c = base[name].dropna().tolist(), cur[name].dropna().tolist()
        b_runs = base.groupby("run_id")[name].median().tolist()
        c_runs = cur.groupby("run_id")[name].median().tolist()
        runs = len(b_runs) >= MIN_REPETITIONS and len(c_runs) >= MIN_REPETITIONS
        b_test, c_test = (b_runs, c_runs) if runs else (b, c)
        # regression: significant and beyond the factor (the interval only decides "equivalent", unused here)
        if verdict(ratio_of_medians(b, c), rank_test(b_test, c_test), math.nan, math.nan, threshold=THRESHOLD,
                   alpha=ALPHA) == "regression":
            return True
    return False


def asv(base: pd.DataFrame, cur: pd.DataFrame) -> bool:
    """asv's rule on the same samples: ratio of medians above 1.10 and Mann-Whitney p < 0.002."""
    for name in METRICS:
        b, c = base[name].dropna().tolist(), cur[name].dropna().tolist()
        if ratio_of_medians(b, c) >= 1.10 and rank_test(b, c) < ASV_P:
            return True
    return False


def rates(pairs: list[tuple[pd.DataFrame, pd.DataFrame]], rule: Callable[[pd.DataFrame, pd.DataFrame], bool]
          ) -> dict[str, float]:
    """False-alarm rate (A/A) and detection rates of 5 % and 10 % slowdowns over ``pairs``."""
    out = {}
    for label, factor in (("A/A false alarms", 1.0), ("5 % caught", 1.05), ("10 % caught", 1.10)):
        out[label] = sum(rule(base, slowed(cur, factor)) for base, cur in pairs) / len(pairs)
    return out


def ab_sides(runs: list[pd.DataFrame], trials: int, rng: random.Random, rounds: int = 5
             ) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Sides of ``rounds``-round ABBA A/B runs drawn from windows of 2 x rounds consecutive runs."""
    pattern = [side for r in range(rounds) for side in ((0, 1) if r % 2 == 0 else (1, 0))]
    sides = []
    for _ in range(trials):
        start = rng.randrange(0, len(runs) - len(pattern) + 1)
        window = runs[start:start + len(pattern)]
        a = pd.concat([run for run, side in zip(window, pattern, strict=True) if side == 0])
        b = pd.concat([run for run, side in zip(window, pattern, strict=True) if side == 1])
        sides.append((a, b))
    return sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--store", default="/tmp/gate-calibration.sqlite")
    parser.add_argument("--reuse", action="store_true", help="judge the rows already in --store")
    args = parser.parse_args()
    store = ResultStore(args.store)
    started = time.monotonic()
    frame = store.read() if args.reuse else measure(args.runs, store)
    frame = frame[frame["status"] == "ok"]
    print(f"measured {frame['run_id'].nunique()} runs, {len(frame)} rows in {time.monotonic() - started:.0f} s")
    rng = random.Random(20261129)
    table = []
    for framework, per_framework in frame.groupby("framework"):
        runs = [g for _, g in sorted(per_framework.groupby("run_id"), key=lambda item: item[0])]
        within = per_framework.groupby("run_id")["tpot_ms"].agg(lambda s: s.std() / s.mean()).median()
        between = per_framework.groupby("run_id")["tpot_ms"].median()
        print(f"{framework}: TPOT CV within a run (median over runs) {within:.3f}; CV of run medians "
              f"{between.std() / between.mean():.3f}; {len(runs)} runs")
        separate = list(itertools.combinations(runs, 2))
        if len(separate) > args.trials:
            separate = rng.sample(separate, args.trials)
        ab = ab_sides(runs, args.trials, rng)
        for scheme, pairs in (("separate runs, 10 reps each", separate), ("ab, 5 ABBA rounds", ab)):
            for rule_name, rule in (("ours (1.10, p<0.05)", ours), ("asv (1.10, p<0.002)", asv)):
                table.append({"framework": framework, "scheme": scheme, "rule": rule_name,
                              "comparisons": len(pairs), **rates(pairs, rule)})
    result = pd.DataFrame(table)
    pd.set_option("display.width", 200)
    print(result.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    first = frame[frame["framework"] == frame["framework"].iloc[0]]
    run_ids = sorted(first["run_id"].unique())
    check = compare_frames(first[first["run_id"] == run_ids[0]], first[first["run_id"] == run_ids[1]],
                           metrics=list(METRICS))
    print(f"(compare_frames on one real pair, for reference: {check['verdict'].tolist()})")
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
