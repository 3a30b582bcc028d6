"""Calibrating the paired ``ab`` gate on real interleaved A/B rounds, beside asv's rule and the unpaired gate.

Measure (real): one ``genai-harness ab`` job (``harness.ab.run_ab``) of the same code on both sides,
``env:default`` against ``env:twin`` (``--python twin=`` this very interpreter), ROUNDS ABBA rounds of
tiny-llm ``text-p128-g32`` (the smoke default: 2 warm-ups, 10 repetitions) on onnxruntime-genai and
openvino-genai, every call its own worker process, exactly as ``ab`` runs them. Optionally a second,
real job with ``--inject-slowdown`` on side B (``--injected 1.10``) to check the gate end to end.

Judge: ROUNDS real rounds are a pool; each of TRIALS comparisons draws N of them without replacement
(subsampling: 200 full ``ab`` jobs of 20 rounds would take hours here) and asks whether any of TPOT,
TTFT, e2e regresses: as A/A, and with side B stretched by 1.05 and 1.10. ``--inject-slowdown`` only
stretches the recorded spans (``analysis.metric_info.stretch``), so a stretched real A/A round is what a job
with injection records; the ``--injected`` job checks that on real injected rounds. Rules:

- ``paired (default)``: :func:`genai_harness.gate.compare.compare_frames` with ``paired=True``, the
  code path ``ab`` takes (per-round log ratios, one-sided t-test, CI bound, factor ``AB_THRESHOLD``);
- ``unpaired (ab before)``: ratio of medians >= 1.10 and Mann-Whitney p < 0.05 over the rounds' medians;
- ``asv``: ratio of medians >= 1.10 and Mann-Whitney p < 0.002 over the pooled repetitions.

Run: ``.venv/bin/python benchmarks/gate_paired.py --rounds 80 --injected 1.10`` (measures, then judges;
``--repetitions 40`` for a pool of 40 repetitions a call), or ``--reuse`` to judge the rows in ``--store``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genai_harness.analysis.paired import paired_log_ratio_test
from genai_harness.analysis.statistics import rank_test, ratio_of_medians
from genai_harness.gate.ab import run_ab
from genai_harness.gate.compare import AB_THRESHOLD, ALPHA, PAIRED_ALPHA, compare_frames
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import ResultStore
from genai_harness.workloads.suites import STANDARD_DIR

METRICS = ("tpot_ms", "ttft_ms", "e2e_ms")
FRAMEWORKS = ("onnxruntime_genai", "openvino.genai")
SUITE = 'id = "gate-paired"\n[[entries]]\nworkload = "{workload}"\nmodels = ["tiny-llm"]\n'
SLOWDOWNS = (("A/A false alarms", 1.0), ("5 % caught", 1.05), ("10 % caught", 1.10))


def measure(store: str, rounds: int, injected: float | None, repetitions: int | None) -> None:
    """One real A/A ``ab`` job (and one with B injected, when asked), rows into ``store``.

    ``repetitions``: a copy of text-p128-g32 with that many repetitions a call (id ``text-p128-g32-rN``).
    """
    with tempfile.TemporaryDirectory() as folder:
        workload = "text-p128-g32"
        if repetitions:
            text = (STANDARD_DIR / "text-p128-g32.toml").read_text()
            workload = str(Path(folder) / f"text-p128-g32-r{repetitions}.toml")
            Path(workload).write_text(text.replace('id = "text-p128-g32"', f'id = "text-p128-g32-r{repetitions}"')
                                      .replace("repetitions = 10", f"repetitions = {repetitions}"))
        suite = Path(folder) / "suite.toml"
        suite.write_text(SUITE.format(workload=workload))
        for factor in (None, injected) if injected else (None,):
            started = time.monotonic()
            run_ab("env:default", "env:twin", str(suite), rounds=rounds, frameworks=list(FRAMEWORKS),
                   devices=["CPU"], models=["tiny-llm"], store=store, pythons=[f"twin={sys.executable}"],
                   progress=False, inject_slowdown=(None, factor))
            print(f"ab job, B injected {factor}: {rounds} rounds in {time.monotonic() - started:.0f} s "
                  f"(load average {os.getloadavg()[0]:.2f})", file=sys.stderr)


def rounds_of(side: pd.DataFrame) -> list[pd.DataFrame]:
    """A side's rows cut into its worker calls (rounds), in the store's order (a repetition 0 starts one)."""
    starts = side["repetition"].eq(0).cumsum().to_numpy()
    return [group for _, group in side.groupby(starts, sort=True)]


def round_medians(rounds: list[pd.DataFrame]) -> np.ndarray:
    """(rounds x metrics) medians."""
    return np.asarray([[float(r[m].median()) for m in METRICS] for r in rounds])


def unpaired_alarm(a: list[np.ndarray], b: list[np.ndarray], factor: float) -> bool:
    """``ab`` before this change: ratio of pooled medians >= 1.10 and Mann-Whitney p < 0.05 on round medians.

    ``a``/``b``: per round, a (repetitions x metrics) array.
    """
    pooled_a, pooled_b = np.concatenate(a), np.concatenate(b) * factor
    med_a = np.asarray([np.nanmedian(r, axis=0) for r in a])
    med_b = np.asarray([np.nanmedian(r, axis=0) for r in b]) * factor
    for column in range(len(METRICS)):
        if (ratio_of_medians(pooled_a[:, column].tolist(), pooled_b[:, column].tolist()) >= 1.10
                and rank_test(med_a[:, column].tolist(), med_b[:, column].tolist()) < ALPHA):
            return True
    return False


def asv_alarm(a: list[np.ndarray], b: list[np.ndarray], factor: float) -> bool:
    """asv's compare on the same rows: ratio of medians >= 1.10 and Mann-Whitney p < 0.002, repetitions pooled."""
    pooled_a, pooled_b = np.concatenate(a), np.concatenate(b) * factor
    for column in range(len(METRICS)):
        base, cur = pooled_a[:, column].tolist(), pooled_b[:, column].tolist()
        if ratio_of_medians(base, cur) >= 1.10 and rank_test(base, cur) < 0.002:
            return True
    return False


def paired_alarm(a: np.ndarray, b: np.ndarray, factor: float, threshold: float, alpha: float) -> bool:
    """The paired rule on round medians (compare's paired verdict, for the grid of factors and alphas)."""
    for column in range(a.shape[1]):
        test = paired_log_ratio_test(a[:, column].tolist(), (b[:, column] * factor).tolist())
        if test.ratio >= threshold and test.p_value < alpha:
            return True
    return False


def compare_alarm(a: list[pd.DataFrame], b: list[pd.DataFrame], factor: float) -> bool:
    """What ``ab`` does now, through compare_frames itself (paired, its defaults)."""
    base, cur = pd.concat(a), pd.concat(b)
    if factor != 1.0:  # what stretch() (--inject-slowdown) records for these three durations, without a dict per row
        cur = cur.assign(**{name: cur[name] * factor for name in METRICS})
    result = compare_frames(base, cur, metrics=list(METRICS), ignore=["environment"], paired=True,
                            threshold=AB_THRESHOLD)
    return bool((result["verdict"] == "regression").any())


class Pool:
    """The real rounds of one runtime's A/A job: rows per round and their medians, per side."""

    def __init__(self, side_a: list[pd.DataFrame], side_b: list[pd.DataFrame]) -> None:
        self.side_a, self.side_b = side_a, side_b
        self.med_a, self.med_b = round_medians(side_a), round_medians(side_b)
        self.reps_a = [r[list(METRICS)].to_numpy(dtype=float) for r in side_a]
        self.reps_b = [r[list(METRICS)].to_numpy(dtype=float) for r in side_b]

    def alarm(self, rule: str, draw: np.ndarray, factor: float) -> bool:
        """Does ``rule`` call the rounds ``draw`` (B stretched by ``factor``) a regression?"""
        if rule.startswith("paired (default"):
            return compare_alarm([self.side_a[i] for i in draw], [self.side_b[i] for i in draw], factor)
        reps_a, reps_b = [self.reps_a[i] for i in draw], [self.reps_b[i] for i in draw]
        if rule.startswith("unpaired"):
            return unpaired_alarm(reps_a, reps_b, factor)
        if rule.startswith("asv"):
            return asv_alarm(reps_a, reps_b, factor)
        threshold, alpha = GRID[rule]
        return paired_alarm(self.med_a[draw], self.med_b[draw], factor, threshold, alpha)


GRID = {f"paired t ({t:.2f}, p<{a})": (t, a) for t, a in ((1.03, PAIRED_ALPHA), (1.0, PAIRED_ALPHA),
                                                           (1.05, 0.002), (1.05, 0.05))}
RULES = ("paired (default: compare_frames, 1.05, p<0.01)", "unpaired (ab before: 1.10, MWU on rounds p<0.05)",
         "asv (1.10, MWU on repetitions p<0.002)", *GRID)


def judge(pool: Pool, n: int, trials: int, rng: np.random.Generator, framework: str) -> list[dict[str, object]]:
    """Rates of every rule over ``trials`` draws of ``n`` rounds without replacement from the pool."""
    draws = [np.sort(rng.choice(len(pool.med_a), n, replace=False)) for _ in range(trials)]
    rows = []
    for rule in RULES:
        rates = {label: sum(pool.alarm(rule, d, f) for d in draws) / len(draws) for label, f in SLOWDOWNS}
        rows.append({"framework": framework, "rounds": n, "rule": rule, "comparisons": len(draws), **rates})
        print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="/tmp/gate-paired.sqlite")
    parser.add_argument("--rounds", type=int, default=80, help="rounds of the real A/A ab job (the pool)")
    parser.add_argument("--injected", type=float, default=None, help="also run a real ab job with B injected")
    parser.add_argument("--repetitions", type=int, default=None,
                        help="repetitions a call (default: text-p128-g32's own, 10)")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--sizes", default="5,10,15,20,25", help="rounds per simulated ab job")
    parser.add_argument("--reuse", action="store_true", help="judge the rows already in --store")
    args = parser.parse_args()
    print(f"load average at start {os.getloadavg()}", file=sys.stderr)
    if not args.reuse:
        measure(args.store, args.rounds, args.injected, args.repetitions)
    frame = ResultStore(args.store).read(ResultFilter(statuses="ok"))
    rng = np.random.default_rng(20261129)
    sizes = [int(s) for s in args.sizes.split(",")]
    table, noise = [], []
    for framework in FRAMEWORKS:
        per = frame[(frame["framework"] == framework)]
        job = per["run_id"].astype(str).str.split("-").str[0]  # both sides of one ab job share the start stamp
        injected_jobs = set(job[per["injected_slowdown"].notna()])
        aa, injected = per[~job.isin(injected_jobs)], per[job.isin(injected_jobs)]
        side_a = rounds_of(aa[aa["environment"] == "default"])
        side_b = rounds_of(aa[aa["environment"] == "twin"])
        n_pool = min(len(side_a), len(side_b))
        side_a, side_b = side_a[:n_pool], side_b[:n_pool]
        med_a, med_b = round_medians(side_a), round_medians(side_b)
        logs = np.log(med_b / med_a)
        for index, name in enumerate(METRICS):
            run_logs = np.log(med_a[:, index])
            noise.append({"framework": framework, "metric": name, "rounds": n_pool,
                          "CV of A's round medians": float(np.std(med_a[:, index], ddof=1) / np.mean(med_a[:, index])),
                          "SD log(B/A), same round": float(np.std(logs[:, index], ddof=1)),
                          "SD log(A[i+1]/A[i]), next round": float(np.std(np.diff(run_logs), ddof=1))})
        for n in sizes:
            if n <= n_pool:
                table += judge(Pool(side_a, side_b), n, args.trials, rng, framework)
        if len(injected):
            a_rounds = rounds_of(injected[injected["environment"] == "default"])
            b_rounds = rounds_of(injected[injected["environment"] == "twin"])
            n = min(len(a_rounds), len(b_rounds))
            result = compare_frames(pd.concat(a_rounds[:n]), pd.concat(b_rounds[:n]), metrics=list(METRICS),
                                    ignore=["environment"], paired=True, threshold=AB_THRESHOLD)
            factor = float(injected["injected_slowdown"].dropna().iloc[0])
            print(f"\n{framework}: real ab job with B --inject-slowdown {factor}, {n} rounds, compare_frames paired:")
            print(result[["metric", "ratio", "ratio_ci_low", "ratio_ci_high", "p_value", "tested_on",
                           "verdict"]].to_string(index=False))
    pd.set_option("display.width", 220)
    print("\nnoise of the real A/A rounds")
    print(pd.DataFrame(noise).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print()
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
