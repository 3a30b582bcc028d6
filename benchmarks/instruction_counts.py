"""Instruction counts (``--measure instructions``): their spread over separate runs, a change of known size, and
the counted gate's false alarms and catches with one run a side.

Measure (real): RUNS separate runs (each its own ``genai_harness.run``, each cell its own worker under callgrind)
of tiny-llm on onnxruntime-genai, ``instr-p32-g8`` (a 32-token prompt, 8 forced new tokens, 1 warm-up, 3
repetitions), and CHANGED runs of ``instr-p32-g9``: one generated token more, a change of known size (one
``instructions_per_token``, about 6 % of a call's count here).

Judge:

- spread: per instruction column, the median, min, max, (max - min) / median and the coefficient of variation of
  the runs' medians;
- known change: the g9 runs' ``instructions_call`` against the g8 runs', beside the size predicted from the g8
  runs' own ``instructions_per_token``; compare (``compare_frames``, the counted rule) must flag it;
- gate rates, one run a side: every ordered pair of distinct g8 runs is an A/A comparison (false alarm: any
  instruction column flagged); the same pairs with the current side's counts times 1.02 (a build that executes
  2 % more instructions, with its own run's noise) are the catches.

Run: ``nice -n 5 .venv/bin/python benchmarks/instruction_counts.py --runs 20 --changed 3 --store /tmp/ic.sqlite``
(measures, then judges), or ``--reuse`` to judge the rows already in ``--store`` (and ``--also`` stores).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import pandas as pd

from genai_harness.analysis.gate_rules import INSTRUCTION_RULE
from genai_harness.gate.compare import compare_frames
from genai_harness.results.store import ResultStore
from genai_harness.runner.benchmark import run

COLUMNS = ("instructions_load", "instructions_prefill", "instructions_per_token", "instructions_call")
WORKLOAD = """id = "instr-p32-g{g}"
version = 1
task = "text2text"
description = "instruction counts: 32-token prompt, {g} new tokens"
[input]
prompt_tokens = 32
new_tokens = {g}
[run]
warmup = 1
repetitions = 3
timeout_s = 60
"""


def measure(store: str, runs: int, changed: int) -> None:
    """RUNS runs of g8 and CHANGED runs of g9, interleaved (g9 after every few g8), rows into ``store``."""
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for g in (8, 9):
            files[g] = Path(tmp) / f"instr-p32-g{g}.toml"
            files[g].write_text(WORKLOAD.format(g=g))
        order = [8] * runs
        for i in range(changed):
            order.insert((i + 1) * len(order) // (changed + 1), 9)
        for index, g in enumerate(order):
            frame = run(str(files[g]), frameworks="onnxruntime_genai", models="tiny-llm", store=store, progress=False,
                        measure="instructions")
            print(f"run {index + 1}/{len(order)} g{g}: {frame['status'].tolist()} "
                  f"call {frame['instructions_call'].median():.0f}", flush=True)


def judge(stores: list[str]) -> None:
    """Print the spread, the known change and the gate's rates from the rows in ``stores``."""
    frame = pd.concat([ResultStore(store).read() for store in stores], ignore_index=True)
    frame = frame[(frame["status"] == "ok") & (frame["measure"] == "instructions")]
    base = frame[frame["workload_id"] == "instr-p32-g8"]
    more = frame[frame["workload_id"] == "instr-p32-g9"]
    per_run = base.groupby("run_id")[list(COLUMNS)].median()
    print(f"{len(per_run)} runs of instr-p32-g8 (tiny-llm, onnxruntime-genai, under callgrind)\n")
    print("| column | median | min | max | (max-min)/median | CV |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for column in COLUMNS:
        values = per_run[column]
        print(f"| {column} | {values.median():,.0f} | {values.min():,.0f} | {values.max():,.0f} | "
              f"{(values.max() - values.min()) / values.median():.3%} | {values.std() / values.mean():.3%} |")
    within = base.groupby("run_id")["instructions_call"].agg(lambda v: (v.max() - v.min()) / v.median())
    print(f"\nwithin a run (3 repetitions), instructions_call (max-min)/median: median {within.median():.3%}, "
          f"max {within.max():.3%}")
    if len(more):
        predicted = per_run["instructions_per_token"].median()
        grown = more.groupby("run_id")["instructions_call"].median().median() - per_run["instructions_call"].median()
        print(f"\none token more (g9, {more['run_id'].nunique()} runs): instructions_call grew by {grown:,.0f}; "
              f"predicted (one instructions_per_token) {predicted:,.0f}: {grown / predicted - 1:+.2%} off; "
              f"a {grown / per_run['instructions_call'].median():.2%} change")
        flagged = compare_frames(base, more, ignore=("workload_id",), metrics=["instructions_call"])
        print(f"compare g8 -> g9, instructions_call: {flagged['verdict'].iloc[0]} "
              f"(ratio {flagged['ratio'].iloc[0]:.4f})")
    runs = {run_id: group for run_id, group in base.groupby("run_id")}
    alarms = catches = pairs = 0
    for a, b in itertools.permutations(runs, 2):
        pairs += 1
        same = compare_frames(runs[a], runs[b], metrics=list(COLUMNS))
        alarms += bool((same["verdict"] == "regression").any() or (same["verdict"] == "improvement").any())
        grown = runs[b].copy()
        grown[list(COLUMNS)] = grown[list(COLUMNS)] * 1.02
        caught = compare_frames(runs[a], grown, metrics=list(COLUMNS))
        catches += bool((caught["verdict"] == "regression").all())
    print(f"\ncounted gate (threshold {INSTRUCTION_RULE.threshold}, noise {INSTRUCTION_RULE.noise}, flags from "
          f"{INSTRUCTION_RULE.flag_line:.4f}), one run a side, {pairs} ordered pairs of distinct runs:")
    print(f"A/A false alarms (any column flagged): {alarms}/{pairs} = {alarms / pairs:.2%}")
    print(f"2 % more instructions caught (every column flagged): {catches}/{pairs} = {catches / pairs:.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--changed", type=int, default=3)
    parser.add_argument("--store", default="/tmp/instruction-counts.sqlite")
    parser.add_argument("--reuse", action="store_true", help="judge the rows already in --store")
    parser.add_argument("--also", action="append", default=[], help="judge the rows of this store too (repeatable: "
                        "runs measured in parallel into separate stores)")
    args = parser.parse_args()
    if not args.reuse:
        measure(args.store, args.runs, args.changed)
    pd.set_option("display.width", 200)
    judge([args.store, *args.also])


if __name__ == "__main__":
    main()
