"""Which per-round estimator should the paired ``ab`` gate use? Judged on real interleaved A/A rounds, no new runs.

Pools (real rows already in stores; ``--pool NAME=STORE``): the rounds of one A/A ``ab`` job
(``benchmarks/gate_paired.py``: ``env:default`` against ``env:twin``, the same code, tiny-llm text-p128-g32,
onnxruntime-genai and openvino-genai, every call its own worker). For each runtime, each round's repetitions
of TPOT, TTFT and e2e are reduced to one number by each estimator of
:data:`~genai_harness.analysis.statistics.ROUND_ESTIMATORS` (:func:`round_estimate`, the function the gate
uses), then TRIALS comparisons each draw N rounds from the pool of P without replacement (draws overlap
one another: with N close to P they are nearly the same sample) and apply the paired rule of ``ab``
(:func:`paired_log_ratio_test` on per-round log ratios: a regression when the ratio >= ``AB_THRESHOLD``
and p < ``PAIRED_ALPHA``, on any of the three metrics) as A/A, and with every repetition of B multiplied by
1.05 and 1.10: what ``--inject-slowdown`` records, the model of a real slowdown used throughout. Every
estimator is scale-equivariant, so B's estimate scales exactly by the factor. asv's rule (ratio of
medians >= 1.10 and Mann-Whitney p < 0.002 on the pooled repetitions) is judged on the same draws.
A pool of separate runs with no ``ab`` job (``/tmp/gate-quiet.sqlite``, the quiet machine at 02:30) pairs
consecutive runs instead: its noise table says what pairing costs or saves there.
A pool's rounds lean one way by chance (mean log ratio B/A up to +-0.16 here), which a 5 % or 10 %
stretch adds to; ``--center`` removes each pool's mean first (paired rules only), so A/A is exactly no change.
``--judge STORE`` also judges each real ``ab`` job in STORE (with or without ``--inject-slowdown`` on B)
through ``compare_frames(paired=True)`` itself, by the median and by the best repetition.

Run: ``.venv/bin/python benchmarks/gate_estimators.py --pool load80=/tmp/i10/aa80.sqlite
--judge /tmp/i10/pool.sqlite`` (seconds to a minute; reads stores only).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from scipy import stats

from genai_harness.analysis.paired import paired_log_ratio_test
from genai_harness.analysis.statistics import ROUND_ESTIMATORS, round_estimate
from genai_harness.gate.compare import AB_THRESHOLD, PAIRED_ALPHA, compare_frames
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import ResultStore

METRICS = ("tpot_ms", "ttft_ms", "e2e_ms")
FRAMEWORKS = ("onnxruntime_genai", "openvino.genai")
FACTORS = (("A/A false alarms", 1.0), ("5 % caught", 1.05), ("10 % caught", 1.10))


def sides(frame: pd.DataFrame, framework: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The A/A job's rounds of one runtime per side: a (repetitions x metrics) array each, in order."""
    job = frame["run_id"].astype(str).str.split("-").str[0]  # both sides of one ab job share the start stamp
    injected_jobs = set(job[frame["injected_slowdown"].notna()])
    per = frame[(frame["framework"] == framework) & ~job.isin(injected_jobs)]
    out = []
    for environment in ("default", "twin"):
        side = per[per["environment"] == environment]
        starts = side["repetition"].eq(0).cumsum().to_numpy()
        out.append([g[list(METRICS)].to_numpy(dtype=float) for _, g in side.groupby(starts, sort=True)])
    if not out[1]:  # separate runs, no ab job (the quiet 02:30 store): consecutive runs are the pairs
        out = [out[0][0::2], out[0][1::2]]
    n = min(len(out[0]), len(out[1]))
    return out[0][:n], out[1][:n]


def estimates(rounds: list[np.ndarray], estimator: str) -> np.ndarray:
    """(rounds x metrics) per-round estimates (every metric here is lower-is-better)."""
    return np.asarray([[round_estimate(r[:, m].tolist(), estimator) for m in range(len(METRICS))] for r in rounds])


def paired_rates(logs: np.ndarray, draws: np.ndarray) -> dict[str, float]:
    """Alarm rates of the paired rule over ``draws`` (trials x n indices) of per-round log ratios (rounds x metrics).

    Vectorised Student's t over the draws, the same test as :func:`paired_log_ratio_test` (checked in main).
    """
    sample = logs[draws]  # trials x n x metrics
    n = draws.shape[1]
    rates = {}
    for label, factor in FACTORS:
        shifted = sample + np.log(factor)
        mean, sd = shifted.mean(axis=1), shifted.std(axis=1, ddof=1)
        p = 2 * stats.t.sf(np.abs(mean / (sd / np.sqrt(n))), n - 1)
        alarm = (np.exp(mean) >= AB_THRESHOLD) & (p < PAIRED_ALPHA)
        rates[label] = float(alarm.any(axis=1).mean())
    return rates


def asv_rates(a: list[np.ndarray], b: list[np.ndarray], draws: np.ndarray) -> dict[str, float]:
    """asv's rule on the pooled repetitions of the same draws."""
    rates = {}
    for label, factor in FACTORS:
        alarms = 0
        for draw in draws:
            pa, pb = np.concatenate([a[i] for i in draw]), np.concatenate([b[i] for i in draw]) * factor
            ratio = np.nanmedian(pb, axis=0) / np.nanmedian(pa, axis=0)
            p = stats.mannwhitneyu(pa, pb, alternative="two-sided", axis=0, nan_policy="omit").pvalue
            alarms += bool(np.any((ratio >= 1.10) & (np.asarray(p) < 0.002)))
        rates[label] = alarms / len(draws)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", action="append", required=True, metavar="NAME=STORE")
    parser.add_argument("--judge", action="append", metavar="STORE",
                        help="judge every real ab job in STORE (A env default, B env twin) by median and best")
    parser.add_argument("--sizes", default="10,20,30,40")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--no-asv", action="store_true")
    parser.add_argument("--center", action="store_true",
                        help="subtract each pool's own mean log ratio (per estimator and metric) first, so that "
                             "A/A means exactly no change and a pool's chance lean does not bias the rates")
    args = parser.parse_args()
    print(f"load average at start {os.getloadavg()}")
    pd.set_option("display.width", 220)
    rng = np.random.default_rng(20261129)
    noise, table = [], []
    for item in args.pool:
        name, _, path = item.partition("=")
        frame = ResultStore(path).read(ResultFilter(statuses="ok"))
        for framework in FRAMEWORKS:
            a, b = sides(frame, framework)
            if len(a) < 2:
                continue
            logs = {e: np.log(estimates(b, e) / estimates(a, e)) for e in ROUND_ESTIMATORS}
            if args.center:
                logs = {e: v - v.mean(axis=0) for e, v in logs.items()}
            for e in ROUND_ESTIMATORS:
                sd = logs[e].std(axis=0, ddof=1)
                noise.append({"pool": name, "framework": framework, "rounds": len(a), "reps": len(a[0]),
                              "estimator": e, **{f"SD {m}": float(s) for m, s in zip(METRICS, sd, strict=True)}})
            # the vectorised t-test is paired_log_ratio_test's: check once
            check = paired_log_ratio_test(np.ones(len(a)).tolist(), np.exp(logs["median"][:, 0]).tolist())
            t_p = 2 * stats.t.sf(abs(logs["median"][:, 0].mean() / (logs["median"][:, 0].std(ddof=1)
                                                                     / np.sqrt(len(a)))), len(a) - 1)
            assert abs(check.p_value - t_p) < 1e-9, (check.p_value, t_p)
            for n in (int(s) for s in args.sizes.split(",")):
                if n > len(a):
                    continue
                draws = np.stack([np.sort(rng.choice(len(a), n, replace=False)) for _ in range(args.trials)])
                for e in ROUND_ESTIMATORS:
                    table.append({"pool": name, "framework": framework, "pool rounds": len(a), "rounds": n,
                                  "rule": f"paired, {e}", "comparisons": args.trials, **paired_rates(logs[e], draws)})
                if not args.no_asv:
                    table.append({"pool": name, "framework": framework, "pool rounds": len(a), "rounds": n,
                                  "rule": "asv (1.10, MWU p<0.002)", "comparisons": args.trials,
                                  **asv_rates(a, b, draws)})
                print(pd.DataFrame(table[-len(ROUND_ESTIMATORS) - 1:]).to_string(index=False), flush=True)
    print("\nnoise: SD of the per-round log ratio B/A, by estimator")
    print(pd.DataFrame(noise).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nrates")
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for path in args.judge or []:
        frame = ResultStore(path).read(ResultFilter(statuses="ok"))
        job = frame["run_id"].astype(str).str.split("-").str[0]  # both sides of one ab job share the start stamp
        for stamp in job.unique():
            rows = frame[job == stamp]
            base, cur = rows[rows["environment"] == "default"], rows[rows["environment"] == "twin"]
            injected = cur["injected_slowdown"].dropna()
            for e in ("median", "best"):
                result = compare_frames(base, cur, metrics=list(METRICS), ignore=["environment"], paired=True,
                                        round_estimator=e)
                print(f"\nreal ab job {stamp} in {path}, B injected {injected.iloc[0] if len(injected) else 'no'}, "
                      f"round estimator {e}:")
                print(result[["target", "metric", "n_baseline", "ratio", "ratio_ci_low", "ratio_ci_high",
                              "p_value", "verdict", "detectable"]].to_string(index=False))
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
