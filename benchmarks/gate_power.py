"""How many A/B rounds a regression gate needs on this machine: pairing, a paired test, a power figure.

Judges the rows ``benchmarks/gate_calibration.py`` measured (RUNS separate runs of one small real cell
per runtime, each run its own worker process, alternating the runtimes) without measuring again, so it
adds no load. Per runtime and metric (TPOT, TTFT, e2e; one median per run):

1. noise: the standard deviation of log(run_j / run_i) for consecutive runs (what ``ab`` pairs: the
   same minutes) against any two runs (a stored CI baseline against a later run);
2. a paired gate on ABBA windows of consecutive runs, ROUNDS rounds: B's run medians over A's, the
   Wilcoxon signed-rank test (:func:`genai_harness.analysis.paired.paired_test`) and the geometric
   mean ratio; a regression when p < ALPHA and the ratio >= FACTOR on any metric. Its false-alarm
   rate (A/A) and the share of 5 % and 10 % slowdowns caught (B's medians multiplied by the factor:
   what ``--inject-slowdown`` does to every span), beside the unpaired rule ``ab`` applies (ratio of
   medians and Mann-Whitney over the rounds' medians), over every window of the recorded runs (few: the
   windows overlap, so these rates are coarse; the >= 200 A/A comparisons are gate_calibration.py's);
3. :func:`~genai_harness.analysis.statistics.rounds_needed`: the rounds that detect a 10 % slowdown
   95 % of the time at alpha 0.01, from the consecutive-run noise; and the runs a side ``compare`` of
   separate runs needs (one median per run, two samples), from the noise of any two runs.

Run: ``.venv/bin/python benchmarks/gate_calibration.py --store S`` once, then
``.venv/bin/python benchmarks/gate_power.py --store S``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from genai_harness.analysis.paired import paired_test
from genai_harness.analysis.statistics import geometric_mean, rank_test, ratio_of_medians, rounds_needed
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import ResultStore

METRICS = ("tpot_ms", "ttft_ms", "e2e_ms")


def run_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """One median per run and metric, runs in the order they were recorded."""
    order = frame.groupby("run_id")["recorded_at"].min().sort_values().index
    return frame.groupby("run_id")[list(METRICS)].median().loc[order]


def noise(medians: pd.DataFrame) -> pd.DataFrame:
    """SD of log ratios of consecutive runs and of all pairs of runs, per metric."""
    rows = []
    for name in METRICS:
        logs = np.log(medians[name].to_numpy())
        upper = np.triu_indices(len(logs), 1)
        rows.append({"metric": name, "sd consecutive": float(np.std(np.diff(logs), ddof=1)),
                     "sd any two": float(np.std((logs[None, :] - logs[:, None])[upper], ddof=1))})
    return pd.DataFrame(rows)


def abba_pairs(medians: pd.DataFrame, start: int, rounds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A's and B's run medians of an ABBA run made of ``2 * rounds`` consecutive runs from ``start``."""
    window = medians.iloc[start:start + 2 * rounds]
    a_rows, b_rows = [], []
    for r in range(rounds):
        first, second = window.iloc[2 * r], window.iloc[2 * r + 1]
        a, b = (first, second) if r % 2 == 0 else (second, first)
        a_rows.append(a)
        b_rows.append(b)
    return pd.DataFrame(a_rows), pd.DataFrame(b_rows)


def paired_gate(a: pd.DataFrame, b: pd.DataFrame, *, factor: float, alpha: float) -> bool:
    """Does any metric regress: geometric-mean ratio B/A >= factor and paired p < alpha?"""
    for name in METRICS:
        ratio = geometric_mean((b[name].to_numpy() / a[name].to_numpy()).tolist())
        if ratio >= factor and paired_test(a[name].tolist(), b[name].tolist()) < alpha:
            return True
    return False


def unpaired_gate(a: pd.DataFrame, b: pd.DataFrame, *, factor: float, alpha: float) -> bool:
    """What ``ab`` + compare do: ratio of medians >= factor and Mann-Whitney p < alpha over the rounds' medians."""
    for name in METRICS:
        base, cur = a[name].tolist(), b[name].tolist()
        if ratio_of_medians(base, cur) >= factor and rank_test(base, cur) < alpha:
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="/tmp/gate-calibration.sqlite")
    args = parser.parse_args()
    started = time.monotonic()
    frame = ResultStore(args.store).read(ResultFilter(statuses="ok"))
    pd.set_option("display.width", 200)
    table = []
    for framework, per_framework in frame.groupby("framework"):
        medians = run_medians(per_framework)
        sd = noise(medians)
        print(f"\n{framework}: {len(medians)} runs; SD of log(run ratio), one median per run")
        print(sd.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        worst = float(sd["sd consecutive"].max())
        apart = float(sd["sd any two"].max())
        for slowdown in (1.10, 1.05):
            print(f"  rounds for {slowdown:.2f} at 95 % power, alpha 0.01 (worst metric, consecutive runs): "
                  f"{rounds_needed(worst, slowdown)}")
            # compare of separate runs, one median per run: two samples of n runs, var(diff) = sd_any_two**2 / n
            print(f"  separate runs a side for {slowdown:.2f} at 95 % power, alpha 0.01 (worst metric, any two runs): "
                  f"{rounds_needed(apart, slowdown)}")
        for rounds in (5, 8, 10, 12):
            if 2 * rounds > len(medians):
                continue
            starts = range(len(medians) - 2 * rounds + 1)
            windows = [abba_pairs(medians, s, rounds) for s in starts]
            for gate, test in ((paired_gate, "paired"), (unpaired_gate, "unpaired")):
                for factor, alpha in ((1.10, 0.05), (1.05, 0.05), (1.05, 0.01), (1.0, 0.01)):
                    rates = {}
                    for label, slowdown in (("A/A false alarms", 1.0), ("5 % caught", 1.05),
                                            ("10 % caught", 1.10)):
                        caught = sum(gate(a, b * slowdown, factor=factor, alpha=alpha) for a, b in windows)
                        rates[label] = caught / len(windows)
                    table.append({"framework": framework, "rounds": rounds, "windows": len(starts),
                                  "rule": f"ratio>={factor:.2f}, {test} p<{alpha}", **rates})
    print()
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
