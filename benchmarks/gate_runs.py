"""Calibrating ``genai-harness compare`` of separate runs (the CI workflow, the pytest plugin) on real runs.

Pool (real): the worker calls of one long A/A ``ab`` job (``benchmarks/gate_paired.py --rounds N --store
POOL``): every call is its own process running tiny-llm ``text-p128-g32`` with the default repetitions
(2 warm-ups, 10 timed), which is what one ``genai-harness run`` of that cell is. Both sides ran the same code.

Judge: each of TRIALS comparisons draws BASELINE + CURRENT distinct calls, gives each its own run id, and
asks ``compare.compare_frames`` (the default metrics, factors and alpha; an alarm is any metric
regressing) as A/A and with the current runs stretched by 1.05 and 1.10 (``analysis.metric_info.stretch``, what
``run --inject-slowdown`` records), at the default alpha and at 0.05. Beside it on the same draws: the rule
compare used before (factor 1.10, Mann-Whitney p < 0.05 on the pooled repetitions) and asv's (factor 1.10,
Mann-Whitney p < 0.002, repetitions pooled).

Run: ``.venv/bin/python benchmarks/gate_runs.py --store POOL --trials 200``
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from gate_paired import FRAMEWORKS
from gate_selfsized import FACTORS, pool_arguments, pool_sides, pooled_alarm, print_table, stretched

from genai_harness.gate.compare import ALPHA, THRESHOLD, compare_frames, default_metrics
from genai_harness.gate.outcome import has_regression
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import ResultStore

SCHEMES = ((1, 1), (3, 3), (15, 3), (15, 1))
"""(baseline runs, current runs): one run a side; the plugin's default; the CI workflow's (5 jobs of 3 runs
against one job of 3); one run against that history."""


def as_runs(calls: list[pd.DataFrame], prefix: str) -> pd.DataFrame:
    """The calls as separate runs (a run id each), as ``genai-harness run`` would have stored them."""
    return pd.concat([call.assign(run_id=f"{prefix}{k}") for k, call in enumerate(calls)], ignore_index=True)


def main() -> None:
    args = pool_arguments(__doc__.splitlines()[0]).parse_args()
    started = time.monotonic()
    frame = ResultStore(args.store, create=False).read(ResultFilter(statuses="ok"))
    rng = np.random.default_rng(20261130)
    metrics = [m for m in default_metrics() if m in frame.columns]
    rows = []
    for framework in args.framework or FRAMEWORKS:
        side_a, side_b = pool_sides(frame, framework)
        calls = side_a + [c.assign(environment="default") for c in side_b]
        for n_base, n_cur in SCHEMES:
            draws = [rng.choice(len(calls), n_base + n_cur, replace=False) for _ in range(args.trials)]
            for label, factor in FACTORS:
                ours, loose, before, asv, detectable = [], [], [], [], []
                for draw in draws:
                    base = [calls[i] for i in draw[:n_base]]
                    cur = stretched([calls[i] for i in draw[n_base:]], factor)
                    base_runs, cur_runs = as_runs(base, "b"), as_runs(cur, "c")
                    result = compare_frames(base_runs, cur_runs)
                    ours.append(has_regression(result))
                    loose.append(has_regression(compare_frames(base_runs, cur_runs, alpha=0.05)))
                    detectable.append(float(result["detectable"].max()))
                    before.append(pooled_alarm(base, cur, metrics, factor=THRESHOLD, alpha=0.05))
                    asv.append(pooled_alarm(base, cur, metrics))
                rows.append({"framework": framework, "baseline runs": n_base, "current runs": n_cur, "rate": label,
                             f"compare (alpha {ALPHA})": float(np.mean(ours)),
                             "compare (alpha 0.05)": float(np.mean(loose)),
                             "compare before (pooled)": float(np.mean(before)),
                             "asv": float(np.mean(asv)), "catches (median, worst metric)": float(np.nanmedian(
                                 detectable)) if not all(np.isnan(detectable)) else float("nan")})
                print(rows[-1], f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"{args.trials} comparisons a row; metrics {', '.join(metrics)}")
    print_table(rows, started)


if __name__ == "__main__":
    main()
