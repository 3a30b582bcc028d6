"""Where the A/A offset of ``ab --rounds-per-worker`` comes from: the environment or the side's role?

The second sessions pool (benchmarks/RESULTS.md, "`ab` cheaper, second pool") showed a TPOT offset between the
two workers of a session (``env:twin`` against ``env:default``, the same interpreter): -2.0 % on
onnxruntime-genai, +2.6 % on openvino-genai. This pool runs sessions only, the sides swapped every block: in even
blocks ``env:default`` is side A (run id of role A) and ``env:twin`` side B, in odd blocks the other way round.
Per session and metric the mean log of each worker's rounds is taken; the offset is then read two ways over the
sessions: twin against default (follows the environment) and B against A (follows the role: which worker the
parent starts and journals first, which run id it writes). Each is a one-sample t over the sessions.

Run: ``nice -n 5 .venv/bin/python benchmarks/ab_sessions_roles.py --store ROLES.sqlite --blocks 40`` (pool, then
judge) or ``--blocks 0`` (judge an existing pool).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
from ab_sessions_pool import FRAMEWORKS, SUITE, pool_arguments
from scipy import stats

from genai_harness.gate.ab import Side, pair_cells
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import ResultStore
from genai_harness.runner.cell_loop import new_run_context
from genai_harness.runner.prepare import prepare_run
from genai_harness.runner.progress import Progress
from genai_harness.runner.round_loop import SessionRunner

METRICS = ("tpot_ms", "ttft_ms", "load_s")


def measure(store: str, blocks: int, per_worker: int, frameworks: list[str]) -> None:
    """``blocks`` sessions of ``per_worker`` rounds per framework, the sides swapped every block."""
    suite = Path(store).with_suffix(".suite.toml")
    suite.write_text(SUITE)
    sides = [Side.parse("env:default"), Side.parse("env:twin")]
    prepared = prepare_run(str(suite), [s.selection(frameworks, ["CPU"], None) for s in sides],
                           pythons=[f"twin={sys.executable}"], store=store, out=sys.stderr)
    pairs = pair_cells(prepared.plans[0].cells, prepared.plans[1].cells, "env")
    roles = [new_run_context(prepared.profile, prepared.env_versions) for _ in range(2)]  # run id = role A, B
    runner = SessionRunner(prepared.store, roles, Progress(0, sys.stderr, False), [])
    print(f"roles: A {roles[0].run_id}, B {roles[1].run_id}", file=sys.stderr, flush=True)
    for block in range(blocks):
        for pair in pairs:
            swapped = block % 2 == 1
            runner.run((pair[1], pair[0]) if swapped else pair, block * per_worker, per_worker)
            print(f"block {block} {pair[0].framework} swapped={swapped} load {os.getloadavg()[0]:.1f}",
                  file=sys.stderr, flush=True)


def judge(store: str) -> None:
    """Per framework and metric: the mean log offset twin/default and B/A over the sessions, with its t test."""
    frame = ResultStore(store, create=False).read(ResultFilter(statuses="ok"))
    roles = list(dict.fromkeys(frame.sort_values("recorded_at", kind="stable")["run_id"]))
    print("| runtime | metric | sessions | twin / default | p | B / A (role) | p |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for framework, rows in frame.groupby("framework", sort=False):
        for metric in METRICS:
            per_worker = (rows.assign(log=np.log(rows[metric].astype(float)))
                          .groupby(["worker_session", "run_id", "environment"], sort=False)["log"].mean()
                          .reset_index())
            per_worker["block"] = per_worker.groupby("run_id").cumcount()
            wide = per_worker.pivot(index="block", columns="run_id", values="log").dropna()
            env_of = per_worker.pivot(index="block", columns="run_id", values="environment").loc[wide.index]
            role = wide[roles[1]] - wide[roles[0]]
            env = np.where(env_of[roles[1]] == "twin", role, -role)
            cells = [f"{100 * (math.exp(float(np.mean(d))) - 1):+.1f} %" for d in (env, role)]
            p_values = [f"{float(stats.ttest_1samp(d, 0.0).pvalue):.3f}" for d in (env, role)]
            print(f"| {framework} | {metric} | {len(wide)} | {cells[0]} | {p_values[0]} | {cells[1]} | "
                  f"{p_values[1]} |")


def main() -> None:
    args = pool_arguments(__doc__.splitlines()[0], blocks=40)
    if args.blocks:
        measure(args.store, args.blocks, args.per_worker, args.framework or list(FRAMEWORKS))
    judge(args.store)


if __name__ == "__main__":
    main()
