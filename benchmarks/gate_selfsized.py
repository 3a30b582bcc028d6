"""Calibrating ``ab`` as it runs by default: self-sized jobs (``--max-rounds``) on real A/A rounds.

Pool (real): the rounds of one long A/A ``ab`` job of the same code on both sides, measured by
``benchmarks/gate_paired.py --rounds N --store POOL`` (``env:default`` against ``env:twin``, tiny-llm
``text-p128-g32``, onnxruntime-genai and openvino-genai, every call its own worker process).

Judge: each of TRIALS simulated jobs takes the pool's rounds in its own random order and does what
``genai-harness ab`` does, through the same functions: it starts with ``--rounds`` rounds, asks
``compare.rounds_to_run`` (the gate's ``rounds_needed`` at the noise measured so far) how many it needs,
adds rounds by ``harness.ab.more_rounds`` up to ``--max-rounds``, and gives the verdict of
``compare.compare_frames(paired=True)`` on the default metrics (an alarm is any of them regressing). The
same jobs are judged as A/A and with side B stretched by 1.05 and 1.10 through ``analysis.metric_info.stretch``
(what ``--inject-slowdown`` records). Beside it, on the very rounds each job used: asv's rule (ratio of
medians >= 1.10 and Mann-Whitney p < 0.002 on the pooled repetitions).

Jobs share rounds (a job of n rounds from a pool of N shares about n * n / N with another); the pool's own
A/A difference therefore weighs on every job, and the script prints it.

Run: ``.venv/bin/python benchmarks/gate_selfsized.py --store POOL --trials 200``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
from gate_paired import FRAMEWORKS, rounds_of

from genai_harness.analysis.metric_info import METRICS, stretch
from genai_harness.analysis.statistics import rank_test, ratio_of_medians
from genai_harness.gate.ab import more_rounds
from genai_harness.gate.compare import AB_MAX_ROUNDS, AB_ROUNDS, compare_frames, default_metrics, rounds_to_run
from genai_harness.gate.outcome import has_regression
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import ResultStore

FACTORS = (("A/A false alarms", 1.0), ("5 % caught", 1.05), ("10 % caught", 1.10))


def stretched(rounds: list[pd.DataFrame], factor: float) -> list[pd.DataFrame]:
    """Each round as a job with ``--inject-slowdown factor`` records it (``analysis.metric_info.stretch`` per row)."""
    if factor == 1.0:
        return rounds
    return [pd.DataFrame([stretch(r, factor) for r in part.to_dict("records")], columns=part.columns)
            for part in rounds]


def judged(a: list[pd.DataFrame], b: list[pd.DataFrame], estimator: str) -> pd.DataFrame:
    """``ab``'s comparison of these rounds (default metrics and factors; no bootstrap, which no verdict uses)."""
    return compare_frames(pd.concat(a), pd.concat(b), ignore=["environment"], paired=True,
                          round_estimator=estimator)


def self_sized_job(side_a: list[pd.DataFrame], side_b: list[pd.DataFrame], order: np.ndarray, start: int,
                   max_rounds: int, estimator: str) -> tuple[bool, int, pd.DataFrame]:
    """One simulated ``ab --rounds start --max-rounds max_rounds`` job over the pool rounds ``order``.

    Returns (regression?, rounds run, the final comparison).
    """
    done = start
    while True:
        comparison = judged([side_a[i] for i in order[:done]], [side_b[i] for i in order[:done]], estimator)
        extra = more_rounds(rounds_to_run(comparison), done, max_rounds)
        if not extra:
            return has_regression(comparison), done, comparison
        done += extra


def pooled_alarm(a: list[pd.DataFrame], b: list[pd.DataFrame], metrics: list[str], *, factor: float = 1.10,
                 alpha: float = 0.002) -> bool:
    """A rule on the pooled repetitions of these calls: slowdown of the medians >= ``factor`` and Mann-Whitney
    p < ``alpha`` on any metric measured per repetition. The defaults are asv's compare; (1.10, 0.05) is
    what our compare did with one run a side before it tested one median per run."""
    base, cur = pd.concat(a), pd.concat(b)
    for name in metrics:
        if METRICS[name].scope == "cell":
            continue  # one value per call, repeated on every repetition's row: not a sample of its own
        x, y = base[name].dropna().tolist(), cur[name].dropna().tolist()
        if len(x) < 2 or len(y) < 2:
            continue
        ratio = ratio_of_medians(x, y)
        slowdown = ratio if METRICS[name].lower_is_better else 1.0 / ratio
        if slowdown >= factor and rank_test(x, y) < alpha:
            return True
    return False


def pool_arguments(description: str) -> argparse.ArgumentParser:
    """The options every pool judge takes: the pool's store, the trials, the frameworks."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--store", required=True, help="the pool: a store holding one long A/A ab job")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--framework", action="append", default=None)
    return parser


def pool_sides(frame: pd.DataFrame, framework: str) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """One framework's A/A rounds of the pool, A's and B's worker calls in order, cut to the same count."""
    per = frame[(frame["framework"] == framework) & frame["injected_slowdown"].isna()]
    side_a = rounds_of(per[per["environment"] == "default"])
    side_b = rounds_of(per[per["environment"] == "twin"])
    n_pool = min(len(side_a), len(side_b))
    return side_a[:n_pool], side_b[:n_pool]


def print_table(rows: list[dict[str, object]], started: float) -> None:
    """The rates, and the load the judging ran at."""
    pd.set_option("display.width", 220)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"load average at end {os.getloadavg()}; {time.monotonic() - started:.0f} s")


def main() -> None:
    parser = pool_arguments(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=AB_ROUNDS, help="a job's first rounds (ab --rounds)")
    parser.add_argument("--max-rounds", type=int, default=AB_MAX_ROUNDS, help="ab --max-rounds")
    parser.add_argument("--estimator", default="median", help="ab --round-estimator")
    args = parser.parse_args()
    started = time.monotonic()
    frame = ResultStore(args.store, create=False).read(ResultFilter(statuses="ok"))
    rng = np.random.default_rng(20261129)
    metrics = [m for m in default_metrics() if m in frame.columns]
    rows, noise = [], []
    for framework in args.framework or FRAMEWORKS:
        side_a, side_b = pool_sides(frame, framework)
        n_pool = len(side_a)
        if n_pool < args.max_rounds:
            sys.exit(f"{framework}: the pool has {n_pool} rounds, fewer than --max-rounds {args.max_rounds}")
        whole = judged(side_a, side_b, args.estimator)
        for row in whole.dropna(subset=["ratio"]).to_dict("records"):
            noise.append({"framework": framework, "metric": row["metric"], "pool rounds": n_pool,
                          "pool ratio B/A": row["ratio"], "pool p": row["p_value"],
                          "rounds_needed": row["rounds_needed"]})
        orders = [rng.permutation(n_pool) for _ in range(args.trials)]
        for label, factor in FACTORS:
            side_b_f = stretched(side_b, factor)
            alarms, used, asv, by_metric = [], [], [], []
            for order in orders:
                alarm, done, final = self_sized_job(side_a, side_b_f, order, args.rounds, args.max_rounds,
                                                    args.estimator)
                alarms.append(alarm)
                used.append(done)
                by_metric.append(final.set_index("metric")["verdict"].eq("regression"))
                asv.append(pooled_alarm([side_a[i] for i in order[:done]], [side_b_f[i] for i in order[:done]],
                                        metrics))
            rows.append({"framework": framework, "B stretched": factor, "rate": label, "jobs": len(orders),
                         "ab (self-sized)": float(np.mean(alarms)), "asv, same rounds": float(np.mean(asv)),
                         "rounds median": float(np.median(used)), "rounds p90": float(np.percentile(used, 90)),
                         "at the cap": float(np.mean(np.asarray(used) >= args.max_rounds)),
                         "each metric alone": ", ".join(f"{name} {rate:.3f}" for name, rate in
                                                        pd.concat(by_metric, axis=1).mean(axis=1).items())})
            print(rows[-1], f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"ab --rounds {args.rounds} --max-rounds {args.max_rounds} --round-estimator {args.estimator}; "
          f"metrics {', '.join(metrics)}")
    print("\nthe whole pool, A/A (what every job shares)")
    print(pd.DataFrame(noise).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print()
    print_table(rows, started)


if __name__ == "__main__":
    main()
