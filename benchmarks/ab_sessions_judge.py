"""Self-sized ``ab`` jobs replayed on the interleaved pool of ``ab_sessions_pool.py``: long-lived workers
(``--rounds-per-worker K``) against a fresh worker per call, false alarms, catches and machine time per job.

For each framework and design, each of TRIALS simulated jobs draws the pool's units (a round for the per-call
design, a worker session for the other, its first K rounds) in its own random order and does what
``genai-harness ab`` does: it starts with ``--rounds`` rounds (at least ``MIN_REPETITIONS`` sessions), asks how
many rounds the gate needs at the noise seen so far and adds them (``gate.ab.more_rounds``, in whole sessions:
``gate.ab.whole_sessions``) up to ``--max-rounds``, then judges. The judging is the paired gate's own functions on
each unit's log medians of ab's default metrics (``gate.metric_choice.paired_default_metrics``: the load's CPU
time where the arm's rows carry it, else its wall time; ``--metric`` names others), tested by
``analysis.paired.paired_rank_test`` (or with ``--paired-test t`` ``paired_log_ratio_test``) on one value per unit,
``holm_adjust`` (a rate and the latency it inverts counted once), ``compare.verdict`` at
``AB_THRESHOLD``/``PAIRED_ALPHA``, ``paired_rounds_needed`` for the rounds a job asks for: what
``compare_frames(paired=True)`` computes, without rebuilding frames for every step (``--check`` runs a few jobs
through ``compare_frames`` itself and says whether both agree). The same jobs are
judged as A/A and with B stretched by 1.05 and 1.10 (``analysis.metric_info.stretch``).

In sessions, a metric each worker takes once at its load (``gate.metric_choice.load_ordered``) is judged with the
load order taken out (``analysis.paired.crossover_log_ratio_test``), as ``compare_long`` does; a unit's order is its
rows' ``load_position`` (schema 9), or for older pools the session's place among its framework's (``SessionRunner``
alternates A-first and B-first per cell pair). ``--no-crossover`` judges them as before (Student's t on the pairs).

A job's machine time is the wall time the pool spent on the units it used (``POOL.jsonl``: per block, per
design; a session of K < the pool's rounds is costed as its worker start plus K of its rounds).

``--first-repetitions N`` judges each per-call round on its calls' first N repetitions alone: what ``ab
--repetitions N`` would have measured (the repetitions after them ran later in the same process), costed as the
round's share of its block less the end-to-end time of the repetitions left out (their measuring; a real arm of
``ab_call_pool.py --arm NAME=SRC,N`` checks that estimate).

What a rate answers: ``--only METRIC`` slows that metric alone (with the rate or latency it inverts), so "10 %
caught" is what its own row catches, not any row of five slowed together; ``--center`` first takes out each
metric's pool-wide mean log ratio (the lean an A/A pool has by chance, which its overlapping draws all inherit).
What could be changed: ``--round-estimator`` (ab's), and ``--sizing-power``, the power each metric's rounds are
sized for (0.95 in ``ab``), to see what realized power a lower one keeps.

Run: ``nice -n 5 .venv/bin/python benchmarks/ab_sessions_judge.py --store POOL.sqlite --trials 200 --per-worker 10
--per-worker 5``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genai_harness.analysis.metric_info import METRICS, stretch
from genai_harness.analysis.paired import (
    crossover_log_ratio_test,
    paired_log_ratio_test,
    paired_rank_test,
    rank_min_pairs,
    sizing_spread,
)
from genai_harness.analysis.statistics import ROUND_ESTIMATORS, holm_adjust, paired_rounds_needed, round_estimate
from genai_harness.gate.ab import more_rounds, whole_sessions
from genai_harness.gate.compare import (
    AB_MAX_ROUNDS,
    AB_ROUNDS,
    AB_THRESHOLD,
    MIN_REPETITIONS,
    PAIRED_ALPHA,
    PAIRED_TESTS,
    ROUND_ESTIMATOR,
    TARGET_SLOWDOWN,
    compare_frames,
)
from genai_harness.gate.compare import PAIRED_TEST as DEFAULT_PAIRED_TEST
from genai_harness.gate.metric_choice import load_ordered, paired_default_metrics
from genai_harness.gate.outcome import has_regression
from genai_harness.gate.verdicts import verdict
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import ResultStore

FACTORS = (("A/A false alarms", 1.0), ("5 % caught", 1.05), ("10 % caught", 1.10))


@dataclass
class Unit:
    """What a job draws: its rounds' log medians per side (rounds x metrics), and what it cost the machine."""

    a: np.ndarray
    b: np.ndarray
    cost_s: float
    frames: tuple[pd.DataFrame, pd.DataFrame]
    a_first: bool = True
    """Whether A's worker loaded first (sessions; a per-call round loads each side in its own worker)."""


def calls(side: pd.DataFrame) -> list[pd.DataFrame]:
    """A side's rows cut into worker calls (a repetition 0 starts one), in stored order."""
    starts = side["repetition"].eq(0).cumsum().to_numpy()
    return [group for _, group in side.groupby(starts, sort=True)]


def log_estimates(call: pd.DataFrame, metrics: list[str]) -> np.ndarray:
    """One call's log estimate of each metric: its median, or what --round-estimator chose (ab's
    ``round_estimator``, by the same ``statistics.round_estimate``)."""
    return np.log(np.asarray([round_estimate(call[m].to_list(), ESTIMATOR[0],
                                             lower_is_better=METRICS[m].lower_is_better) for m in metrics]))


def shift(metrics: list[str], factor: float) -> np.ndarray:
    """The log change ``--inject-slowdown factor`` records on each metric (``metric_info.stretch``); with
    --only, on those metrics alone (and the rates or latencies that test the same hypothesis), the rest unchanged:
    a regression of one metric, which only its own row can catch."""
    stretched = stretch(dict.fromkeys(metrics, 1.0), factor)
    moved = {METRICS[m].hypothesis for m in ONLY} if ONLY else None
    return np.log(np.asarray([float(stretched[m]) if moved is None or METRICS[m].hypothesis in moved else 1.0
                              for m in metrics]))


def first_repetitions(call: pd.DataFrame, keep: int | None) -> tuple[pd.DataFrame, float]:
    """(a call's first ``keep`` repetitions, the seconds its later ones spent end to end) (pure)."""
    if keep is None:
        return call, 0.0
    later = call["repetition"] >= keep
    return call[~later], float(call.loc[later, "e2e_ms"].sum()) / 1000.0


def units_of(frame: pd.DataFrame, log: list[dict], framework: str, design: str, per_worker: int,
             metrics: list[str], keep: int | None = None) -> list[Unit]:
    """The pool's units of one framework and design (per call: its first ``keep`` repetitions, where given)."""
    rows = frame[frame["framework"] == framework]
    blocks = [e for e in log if e["framework"] == framework and e["design"] == design and e["measured"] == e["rounds"]]
    sides = []
    for env in ("default", "twin"):
        side = rows[(rows["environment"] == env) & (rows["worker_session"].notna() == (design == "sessions"))]
        sides.append(calls(side))
    if design == "per_call":
        per_round = [e["wall_s"] / e["rounds"] for e in blocks]
        n = min(len(sides[0]), len(sides[1]), len(per_round) * blocks[0]["rounds"] if blocks else 0)
        costs = np.repeat(per_round, blocks[0]["rounds"])[:n] if blocks else []
        out = []
        for a_call, b_call, c in zip(sides[0][:n], sides[1][:n], costs, strict=True):
            (a, a_later), (b, b_later) = first_repetitions(a_call, keep), first_repetitions(b_call, keep)
            out.append(Unit(log_estimates(a, metrics)[None, :], log_estimates(b, metrics)[None, :],
                            float(c) - a_later - b_later, (a, b)))
        return out
    starts = [e["worker_start_s"] for e in blocks]
    out = []
    by_session = [[c for c in sides[i]] for i in range(2)]
    sessions_a = pd.Series([c["worker_session"].iloc[0] for c in by_session[0]])
    sessions_b = pd.Series([c["worker_session"].iloc[0] for c in by_session[1]])
    for index, (block, start) in enumerate(zip(blocks, starts, strict=True)):
        names_a, names_b = sessions_a.unique(), sessions_b.unique()
        if index >= len(names_a) or index >= len(names_b):
            break
        a_calls = [c for c, s in zip(by_session[0], sessions_a, strict=True) if s == names_a[index]][:per_worker]
        b_calls = [c for c, s in zip(by_session[1], sessions_b, strict=True) if s == names_b[index]][:per_worker]
        if len(a_calls) < per_worker or len(b_calls) < per_worker:
            continue
        rounds_cost = (block["wall_s"] - start) * per_worker / block["rounds"]
        recorded = a_calls[0].get("load_position")
        a_first = bool(recorded.iloc[0] == 1) if recorded is not None and recorded.notna().all() else index % 2 == 0
        frames = (pd.concat(a_calls).assign(load_position=1 if a_first else 2),
                  pd.concat(b_calls).assign(load_position=2 if a_first else 1))
        out.append(Unit(np.asarray([log_estimates(c, metrics) for c in a_calls]),
                        np.asarray([log_estimates(c, metrics) for c in b_calls]), float(start + rounds_cost), frames,
                        a_first))
    return out


def lean(units: list[Unit], per_unit: int) -> np.ndarray:
    """The pool's own mean log ratio B/A per metric, as its gate estimates it (a sessions' load metric: the mean of
    its two load orders' means): what every overlapping draw of an A/A pool inherits (--center takes it out)."""
    diffs = np.asarray([u.b.mean(axis=0) - u.a.mean(axis=0) for u in units])
    first = np.asarray([u.a_first for u in units])
    out = diffs.mean(axis=0)
    for column, name in enumerate(METRIC_NAMES):
        if per_unit > 1 and CROSSOVER[0] and load_ordered(name) and first.any() and (~first).any():
            out[column] = (diffs[first, column].mean() + diffs[~first, column].mean()) / 2
    return out


def judge(units: list[Unit], log_shift: np.ndarray, per_unit: float) -> tuple[bool, float]:
    """(regression?, rounds the gate asks for) of a job made of ``units``: the paired gate on one value per unit."""
    a = np.asarray([u.a.mean(axis=0) for u in units])
    b = np.asarray([u.b.mean(axis=0) for u in units]) + log_shift
    ranked = PAIRED_TEST[0] is paired_rank_test and per_unit == 1  # sessions: t on their means, as compare_long
    test_of = paired_rank_test if ranked else paired_log_ratio_test
    tests = []
    a_first = [u.a_first for u in units]
    for column in range(a.shape[1]):
        if per_unit > 1 and CROSSOVER[0] and load_ordered(METRIC_NAMES[column]):  # as compare_long
            tests.append(crossover_log_ratio_test(np.exp(a[:, column]).tolist(), np.exp(b[:, column]).tolist(),
                                                  a_first))
        else:
            tests.append(test_of(np.exp(a[:, column]).tolist(), np.exp(b[:, column]).tolist()))
    finite = [(t, METRICS[name].hypothesis) for t, name in zip(tests, METRIC_NAMES, strict=True)
              if math.isfinite(t.p_value)]  # a rate and the latency it inverts: one hypothesis, as compare_long
    hypotheses = [h for _, h in finite]
    adjusted = dict(zip([id(t) for t, _ in finite], holm_adjust([t.p_value for t, _ in finite], hypotheses),
                        strict=True))
    per_test = PAIRED_ALPHA / max(1, len(set(hypotheses)))
    alarm, needed = False, 0.0
    for column, test in enumerate(tests):
        if not math.isfinite(test.p_value):
            continue
        lower = METRICS[METRIC_NAMES[column]].lower_is_better
        slowdown = test.ratio if lower else 1.0 / test.ratio
        low, high = (test.ci_low, test.ci_high) if lower else (1.0 / test.ci_high, 1.0 / test.ci_low)
        alarm |= verdict(slowdown, adjusted[id(test)], low, high, threshold=AB_THRESHOLD,
                         alpha=PAIRED_ALPHA) == "regression"
        sd = test.sd_log_ratio
        if ranked and math.isfinite(sd):  # as compare_long sizes a rank-tested row
            sd = sizing_spread(np.exp(a[:, column]).tolist(), np.exp(b[:, column]).tolist(), sd, per_test)
            needed = max(needed, rank_min_pairs(per_test))
        if math.isfinite(sd):
            needed = max(needed, per_unit * paired_rounds_needed(sd, TARGET_SLOWDOWN, alpha=per_test,
                                                                 threshold=AB_THRESHOLD, power=POWER[0]))
    return alarm, needed


def job(units: list[Unit], order: np.ndarray, per_unit: int, start: int, cap: int,
        log_shift: np.ndarray) -> tuple[bool, int, float, list[int]]:
    """One self-sized job: (regression?, rounds run, machine seconds, the units it used)."""
    rounds = max(start, MIN_REPETITIONS * per_unit)
    while True:
        used = list(order[: math.ceil(rounds / per_unit)])
        alarm, needed = judge([units[i] for i in used], log_shift, per_unit)
        extra = whole_sessions(more_rounds(needed, rounds, cap), rounds, cap, per_unit)
        if not extra or math.ceil((rounds + extra) / per_unit) > len(order):
            return alarm, rounds, sum(units[i].cost_s for i in used), used
        rounds += extra


METRIC_NAMES: list[str] = []
PAIRED_TEST = [paired_rank_test]  # what --paired-test chose (main sets it)
ONLY: list[str] = []  # the metrics --only slows (main sets it); empty: every timed metric
POWER = [0.95]  # the power a job is sized for (main sets it: --sizing-power)
ESTIMATOR = ["median"]  # what --round-estimator chose (main sets it)
CROSSOVER = [True]  # sessions' load metrics with their load order taken out (main sets it: --no-crossover)


def noise(framework: str, design: str, k: int, units: list[Unit]) -> None:
    """What varies between rounds: per metric, the SD of the per-round log ratios B/A; for sessions also the SD
    within a worker pair (rounds around their session's mean, pooled) and of the session means (for a load metric
    also within each load order: what the crossover sees), and the share of a round's variance that belongs to the
    worker pair (what a session shares over its rounds: the part that only more workers average away)."""
    diffs = [u.b - u.a for u in units]  # per unit: (rounds x metrics) log ratios
    rounds = np.concatenate(diffs)
    parts = []
    for column, name in enumerate(METRIC_NAMES):
        total = float(np.std(rounds[:, column], ddof=1))
        if design == "per_call":
            parts.append(f"{name} {total:.3f}")
            continue
        within = float(np.sqrt(np.mean([np.var(d[:, column], ddof=1) for d in diffs])))
        means = np.asarray([d[:, column].mean() for d in diffs])
        between = float(np.std(means, ddof=1))
        share = max(0.0, between ** 2 - within ** 2 / k) / max(1e-300, max(0.0, between ** 2 - within ** 2 / k)
                                                                  + within ** 2)
        ordered = ""
        if load_ordered(name):  # what the crossover sees: the session means' spread within each load order
            first = np.asarray([u.a_first for u in units])
            groups = [means[first], means[~first]]
            if min(len(g) for g in groups) >= 2:
                pooled = math.sqrt(sum((len(g) - 1) * float(np.var(g, ddof=1)) for g in groups) / (len(means) - 2))
                ordered = f", within a load order {pooled:.3f}"
        parts.append(f"{name} {total:.3f} (within {within:.3f}, session means {between:.3f}{ordered}, worker share "
                     f"{share:.2f})")
    print(f"{framework} {design} K={k}: {len(units)} units; SD of log B/A per round: " + "; ".join(parts), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--per-worker", type=int, action="append", default=None)
    parser.add_argument("--rounds", type=int, default=AB_ROUNDS)
    parser.add_argument("--max-rounds", type=int, default=AB_MAX_ROUNDS)
    parser.add_argument("--framework", action="append", default=None)
    parser.add_argument("--check", type=int, default=3, help="jobs a design checks against compare_frames itself")
    parser.add_argument("--no-5", action="store_true", help="judge A/A and 10 %% only (a shorter judging)")
    parser.add_argument("--metric", action="append", default=None, metavar="METRIC",
                        help="judge these metrics (repeatable; default: ab's, the load's CPU time where the rows "
                             "carry it, else its wall time)")
    parser.add_argument("--without", action="append", default=[], metavar="METRIC",
                        help="leave a default metric out (what sizes the jobs when it is gone)")
    parser.add_argument("--first-repetitions", type=int, default=None, metavar="N",
                        help="judge per-call rounds on each call's first N repetitions (ab --repetitions N)")
    parser.add_argument("--paired-test", choices=PAIRED_TESTS, default=DEFAULT_PAIRED_TEST,
                        help="how each job judges its per-round log ratios (ab --paired-test)")
    parser.add_argument("--no-crossover", action="store_true",
                        help="judge sessions' load metrics by Student's t on the pairs, the load order as noise")
    parser.add_argument("--round-estimator", choices=ROUND_ESTIMATORS, default=ROUND_ESTIMATOR,
                        help="what one call's repetitions reduce to (ab --round-estimator)")
    parser.add_argument("--only", action="append", default=[], metavar="METRIC",
                        help="slow only this metric (repeatable; its reciprocal rate or latency moves with it): "
                             "what a job catches when one metric regresses, not all at once")
    parser.add_argument("--sizing-power", type=float, default=0.95,
                        help="the power each metric's rounds are sized for (what realized power it buys: calibration)")
    parser.add_argument("--center", action="store_true",
                        help="take each metric's pool-wide mean log ratio B/A out first (A/A is then exactly no "
                             "change): rates free of the pool's own lean, which overlapping draws all inherit")
    args = parser.parse_args()
    POWER[0] = args.sizing_power
    ONLY[:] = args.only
    ESTIMATOR[0] = args.round_estimator
    CROSSOVER[0] = not args.no_crossover
    PAIRED_TEST[0] = paired_rank_test if args.paired_test == "rank" else paired_log_ratio_test
    started = time.monotonic()
    frame = ResultStore(args.store, create=False).read(ResultFilter(statuses="ok"))
    with open(args.store + ".jsonl") as fh:
        log = [json.loads(line) for line in fh]
    METRIC_NAMES[:] = [m for m in args.metric or paired_default_metrics(frame)
                       if m in frame.columns and frame[m].notna().any() and m not in args.without]
    loads = [e["load1"] for e in log]
    print(f"pool {args.store}: {len(log)} blocks, 1-min load average during it median {np.median(loads):.1f} "
          f"(min {min(loads):.1f}, max {max(loads):.1f}); metrics {', '.join(METRIC_NAMES)}"
          + (f"; each call's first {args.first_repetitions} repetitions" if args.first_repetitions else ""))
    rng = np.random.default_rng(20261206)
    results = []
    for framework in args.framework or sorted(frame["framework"].unique()):
        designs = [("per_call", 1)] + [("sessions", k) for k in (args.per_worker or [10])]
        for design, k in designs:
            units = units_of(frame, log, framework, design, k, METRIC_NAMES,
                             args.first_repetitions if design == "per_call" else None)
            if len(units) < MIN_REPETITIONS:
                print(f"{framework} {design} K={k}: {len(units)} units in the pool, too few")
                continue
            noise(framework, design, k, units)
            cap = min(args.max_rounds, len(units) * k)
            orders = [rng.permutation(len(units)) for _ in range(args.trials)]
            for index in range(min(args.check, len(orders))):  # the shortcut against the real compare
                _, _, _, used = job(units, orders[index], k, args.rounds, cap, shift(METRIC_NAMES, 1.0))
                kept = (lambda f: f) if CROSSOVER[0] else (lambda f: f.drop(columns="load_position", errors="ignore"))
                real = compare_frames(kept(pd.concat([units[i].frames[0] for i in used])),
                                      kept(pd.concat([units[i].frames[1] for i in used])), ignore=["environment"],
                                      paired=True, paired_test=args.paired_test,
                                      round_estimator=args.round_estimator)
                mine, _ = judge([units[i] for i in used], shift(METRIC_NAMES, 1.0), k)
                if mine != has_regression(real):
                    print(f"  check: {framework} {design} K={k}: compare_frames disagrees on job {index}")
            centre = lean(units, k) if args.center else np.zeros(len(METRIC_NAMES))
            if args.center:
                print("  the pool's own lean taken out, log B/A: " + ", ".join(
                    f"{name} {value:+.4f}" for name, value in zip(METRIC_NAMES, centre, strict=True)))
            for label, factor in [f for f in FACTORS if not (args.no_5 and f[1] == 1.05)]:
                outcomes = [job(units, order, k, args.rounds, cap, shift(METRIC_NAMES, factor) - centre)
                            for order in orders]
                alarms = [o[0] for o in outcomes]
                rounds = [o[1] for o in outcomes]
                cost = [o[2] for o in outcomes]
                results.append({"framework": framework, "design": design if design == "per_call" else f"K={k}",
                                "pool units": len(units), "rate": label, "jobs": len(orders),
                                "ab": float(np.mean(alarms)), "rounds median": float(np.median(rounds)),
                                "rounds p90": float(np.percentile(rounds, 90)), "at cap": float(np.mean(
                                    np.asarray(rounds) >= cap)), "machine s median": float(np.median(cost)),
                                "machine s p90": float(np.percentile(cost, 90))})
                print(results[-1], f"{time.monotonic() - started:.0f} s", flush=True)
    pd.set_option("display.width", 250)
    print(pd.DataFrame(results).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"load average at end {os.getloadavg()}; {time.monotonic() - started:.0f} s of judging")


if __name__ == "__main__":
    main()
