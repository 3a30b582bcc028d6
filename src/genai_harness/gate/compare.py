"""Comparing two sets of results: ratio of medians, its bootstrap interval, a test on runs or rounds, a verdict.

A pure function of two results DataFrames. Per cell (target, task, workload, model) and metric:

- ``ratio`` = median(current) / median(baseline), with a two-sample bootstrap 95 % interval;
- ``p_value``, from one value per run (a worker call's median): repetitions inside one process share that
  process's state, so they cannot show the noise between processes, which on a shared runner is as large
  as the slowdowns a gate looks for (7-15 % here; pooling them cried wolf 19-22 % of the time on one cell:
  benchmarks/RESULTS.md). Student's t on the logs of the runs, every metric alike (memory too), with the
  run-to-run spread pooled over every cell of that metric in the comparison, both sides and the baseline's
  history (:mod:`genai_harness.gate.noise`: degrees of freedom discounted for the noise the cells of one
  run share; a cell noisier than the pool keeps its own). ``tested_on`` says which ("runs", "runs, pooled
  over N cells"); ``df`` the degrees of freedom behind it. Where the rows carry ``calib_ms`` (a calibration
  kernel timed beside each cell) and it explains a speed metric's spread, each run's log median is first moved
  to the cell's mean kernel time (:mod:`genai_harness.gate.calibration`: analysis of covariance, one df for the
  slope; ``tested_on`` adds "adjusted for machine speed (kernel, slope S)"; ``calibrate=False`` turns it off).
  Where the rows name the CI job of each run (``job_id``) and jobs group runs, each job's runs are averaged into
  one unit and the spread between jobs judges the change (``tested_on`` "jobs", ``units.job_sides``): runs one job
  took in a row share its drift over minutes. Every side one job: runs stay the units and ``tested_on`` says the
  drift between jobs was not measured. ``by_job=False`` counts runs regardless.
  No spread at all (one run a side everywhere) is "one run a side": no test.
  ``ratio`` is the ratio of the geometric means of the runs and its interval the
  t interval at that spread. ``detectable`` is the smallest slowdown these runs at their spread would catch
  95 % of the time (``statistics.detectable_shift``);
- ``p_family``: the p-values adjusted by Holm's step-down method over every hypothesis the comparison tests; the
  verdicts use it, so ``alpha`` is the chance that a comparison of unchanged code shows any regression,
  however many cells and metrics it has. A rate and the latency it is the reciprocal of in one cell
  (``decode_tps`` and ``tpot_ms``: ``MetricInfo.reciprocal_of``) are one hypothesis, counted once with the larger
  of their p-values. ``detectable`` and ``rounds_needed`` are sized at ``alpha`` over that count;
- ``paired=True`` (what ``ab`` passes): both sides are the rounds of one interleaved job, round ``i`` of A
  measured in the same minutes as round ``i`` of B. Each round is the ratio of its two medians (or of another
  ``round_estimator``: ``best``, ``p10``, ``p25``, ``trimmed``); by default (``paired_test`` "rank") ``ratio``
  is the Hodges-Lehmann estimate of their logs, its interval and ``p_value`` Wilcoxon's signed-rank test
  (:func:`~genai_harness.analysis.paired.paired_rank_test`), and with "t" the geometric mean of the ratios,
  Student's t on their logs (:func:`~genai_harness.analysis.paired.paired_log_ratio_test`); ``tested_on``
  "paired rounds". Load that moves both sides of a round cancels, which no unpaired test can use. ``detectable`` is
  then the smallest slowdown this many rounds at this round-to-round spread would catch 95 % of the time
  (:func:`~genai_harness.analysis.statistics.detectable_slowdown`; NaN when not paired) and
  ``rounds_needed`` about how many rounds would catch ``TARGET_SLOWDOWN`` (``statistics.paired_rounds_needed``
  at this spread: ``ab`` says so when a job falls short). Its defaults are
  ``AB_THRESHOLD`` and ``PAIRED_ALPHA``, chosen from measured noise (see their docstrings). Sides with
  different round counts (a failed call) fall back to the unpaired test on runs;
- ``slowdown``: the ratio turned so that > 1 is always worse (1 / ratio for higher-is-better metrics);
- ``verdict`` (:mod:`genai_harness.gate.verdicts`): ``regression`` needs both ``slowdown >= threshold`` and
  ``p_family < alpha``;
  ``improvement`` needs ``slowdown <= 1 / threshold`` and ``p_family < alpha``; ``equivalent`` needs the 95 %
  interval inside ``1/threshold .. threshold`` (shown unchanged); anything else is ``inconclusive``, and
  ``unresolved`` when its point estimate is at or beyond the threshold, its interval reaches ``BLIND_SLOWDOWN``
  (1.5x) or nothing could test it: a gate never calls such a row unchanged (``gate.outcome.gate_outcome``). ``blind``
  marks the unresolved rows that could hide a ``BLIND_SLOWDOWN`` slowdown (interval reaching it, or untested):
  what ``--on-inconclusive auto`` fails on (``gate.outcome.inconclusive_fails``). A cell present on one side only is
  ``only in baseline`` / ``only in current``.

asv's ``compare`` applies a factor and a Mann-Whitney test on the pooled samples; the false-alarm and
detection rates of ours, and of asv's rule on the same data, are measured in ``benchmarks/gate_selfsized.py``
(``ab``) and ``benchmarks/gate_runs.py`` (separate runs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from genai_harness.analysis.gate_rules import counted_defaults, judge_counted, kind_rule, row_measures
from genai_harness.analysis.keys import TARGET_COLUMNS, target_label
from genai_harness.analysis.long_view import LONG_KEEP, long_view
from genai_harness.analysis.metric_info import METRICS, metric
from genai_harness.analysis.paired import crossover_log_ratio_test as crossover_test
from genai_harness.analysis.paired import paired_log_ratio_test, paired_rank_test, rank_min_pairs, sizing_spread
from genai_harness.analysis.statistics import (
    ROUND_ESTIMATORS,
    detectable_shift,
    holm_adjust,
    median,
    paired_rounds_needed,
)
from genai_harness.errors import ComparisonError
from genai_harness.gate.calibration import CALIB_COLUMN, adjust_cells
from genai_harness.gate.metric_choice import default_metrics, load_ordered, paired_default_metrics
from genai_harness.gate.noise import Spread, cell_spread, own_spread, pooled_spread, runs_test
from genai_harness.gate.units import (
    job_sides,
    run_estimates,
    run_jobs,
    run_medians,
    run_values,
    session_loaded_first,
    session_means,
    worker_sessions,
)
from genai_harness.gate.verdicts import could_hide, unresolved, verdict

if TYPE_CHECKING:
    import pandas as pd

THRESHOLD = 1.10
"""Default factor a metric must worsen by to count as a regression (asv's default too)."""
ALPHA = 0.01
"""Default false-alarm rate of a comparison of separate runs (Holm over its rows): at 0.05 a comparison of
the same code's separate runs alarmed 1-3.5 % of the time here (benchmarks/RESULTS.md, "compare of separate
runs"); a CI gate that fails one job in thirty for nothing gets switched off."""
MIN_REPETITIONS = 4
"""Fewest paired rounds a paired comparison tests (fewer fall back to the test on runs; ``ab`` runs at least
this many before it sizes itself)."""
AB_THRESHOLD = 1.05
"""Default factor of the paired ``ab`` gate. A factor equal to the slowdown to be caught (1.10) lets through
half of those slowdowns by construction (the estimate falls below its true value half the time), so the
factor sits below the 10 % target and ``PAIRED_ALPHA`` keeps false alarms down; at the noise measured here
(benchmarks/RESULTS.md, "Paired ab gate") factors 1.00-1.05 gave the same rates, the t bar deciding."""
PAIRED_ALPHA = 0.01
"""Default false-alarm rate of the paired ``ab`` gate (two-sided t-tests on per-round log ratios, Holm over the
job's rows): measured 0-0.5 % over 200 self-sized A/A jobs a runtime (benchmarks/RESULTS.md, "ab as it runs
by default"); with each metric at 0.01 on its own, five metrics alarmed 1-2 %."""
AB_ROUNDS = 10
"""Rounds every cell pair of ``ab`` runs before it sizes itself (``AB_MAX_ROUNDS``): a first measure of the
round-to-round noise. Every paired row reports ``detectable`` and ``rounds_needed``, and ``ab`` warns when a job
falls short. Was 20: on a quiet machine jobs stopped there though their noise asked for fewer, and starting at 10
halved them with no false alarm in 200 A/A jobs and every 10 % slowdown caught; on a loaded one jobs grow past
either start alike (benchmarks/RESULTS.md, "Ten first rounds, and fewer repetitions a call")."""
AB_MAX_ROUNDS = 200
"""Default cap of a self-sizing ``ab`` job (``--max-rounds``): after its ``AB_ROUNDS``, a cell pair whose own
round-to-round noise needs more rounds to catch ``TARGET_SLOWDOWN`` runs more, up to this many. On this quiet
machine self-sized jobs of one pair chose a median of 137 (openvino-genai) and 188 (onnxruntime-genai, whose
load time is the noisiest metric) rounds, and held false alarms <= 0.5 % while catching every 10 % slowdown
(benchmarks/RESULTS.md, "ab as it runs by default")."""
AB_REPETITIONS: int | None = None
"""Default of ``ab --repetitions``: None, each call measures the workload's own repetitions. ``--repetitions 3``
made quiet jobs of tiny-llm 0.6 of the machine time at the same rates, but on a loaded machine a median of three
varied twice as much in TPOT as one of ten and jobs sized by it needed three times the rounds (1.9x the machine
time): opt-in (benchmarks/RESULTS.md, "Ten first rounds, and fewer repetitions a call")."""
AB_ROUNDS_PER_WORKER = 1
"""Default rounds one ``ab`` worker per side serves (``--rounds-per-worker``): 1, a fresh worker for every call. On
one pool of openvino-genai (2026-12-08) sessions of 2 cost 0.89 of fresh workers' machine time a job, 0.52 of the
harness issue 23 was filed on (fresh workers 0.59); onnxruntime-genai's loads are cheap and its sessions of 2 cost
1.1-1.9x fresh workers' (with the load order taken out; 2.4-4.3x before). Both kept the rates. A session measures
one load a worker, so it cannot buy load samples cheaper than a load: the default stays a fresh worker a call
(benchmarks/RESULTS.md, "The load order taken out of sessions")."""
TARGET_SLOWDOWN = 1.10
"""The slowdown a paired gate is sized to catch 95 % of the time (``detectable``, ``rounds_needed``)."""
PAIRED_ROUNDS = "paired rounds"
"""``tested_on`` of a paired row whose rounds each ran in a fresh worker (each round a unit)."""
PAIRED_SESSIONS = "paired workers"
"""``tested_on`` of a paired row whose rounds long-lived workers served (``ab --rounds-per-worker``): each
worker pair is one unit, its rounds averaged (:func:`session_means`)."""
PAIRED_CROSSOVER = "paired workers, load order taken out"
"""``tested_on`` of a paired row of sessions whose metric a worker takes once, at its load (``load_ordered``): which
worker of a pair loaded first is estimated and taken out (``analysis.paired.crossover_log_ratio_test``), df = worker
pairs - 2."""
PAIRED_TESTS = ("rank", "t")
"""Tests a paired gate can judge the per-round log ratios with: ``rank``, Wilcoxon's signed-rank test with the
Hodges-Lehmann estimate and interval (:func:`~genai_harness.analysis.paired.paired_rank_test`), or ``t``,
Student's t (:func:`~genai_harness.analysis.paired.paired_log_ratio_test`)."""
PAIRED_TEST = "rank"
"""Default test of the paired gate (``ab --paired-test``). Rank: on a loaded machine the per-round ratios have heavy
tails (a call that waited for a core against one that did not), which spread a t-test's interval and so the rounds a
job needs; the signed-rank interval follows the rounds' centre. See benchmarks/RESULTS.md, "A rank test for ab"."""
ROUND_ESTIMATOR = "median"
"""Default per-round estimator of the paired gate (``round_estimator``; ``statistics.ROUND_ESTIMATORS``). Kept
at the median: on 80 real A/A rounds under load (benchmarks/RESULTS.md, "Per-round estimators") the best
repetition halved openvino-genai's round-to-round spread (log SD 0.97 -> 0.50) but raised onnxruntime-genai's
(0.22 -> 0.31), and no estimator reached 95 % of 10 % slowdowns within 40 rounds on either runtime."""
UNTESTED = ("one run a side", "one job a side")
"""``tested_on`` of a row no spread between runs (or between jobs) could judge: the ratio is shown, nothing tested."""
KEY_COLUMNS: tuple[str, ...] = ("target", "task", "workload_id", "model_id")
RESULT_COLUMNS: tuple[str, ...] = (
    *KEY_COLUMNS, "metric", "unit", "better", "n_baseline", "n_current", "baseline_median", "current_median",
    "ratio", "ratio_ci_low", "ratio_ci_high", "slowdown", "p_value", "p_family", "tested_on", "df", "threshold",
    "verdict", "unresolved", "blind", "detectable", "rounds_needed",
)


def _keyed(df: pd.DataFrame, metrics: Sequence[str], ignore: Sequence[str]) -> pd.DataFrame:
    long = long_view(df, metrics, keep=(*LONG_KEEP, CALIB_COLUMN))
    if ignore and len(long):
        kept = [c for c in TARGET_COLUMNS if c not in ignore and c in long.columns]
        long["target"] = [target_label(r) for r in long[kept].to_dict("records")]
        for column in ("workload_id", "model_id"):
            if column in ignore:
                long[column] = "*"
    return long


def _logs(runs: Mapping[str, float]) -> dict[str, float]:
    return {k: math.log(v) if v > 0 else math.nan for k, v in runs.items()}


def compare_frames(baseline: pd.DataFrame, current: pd.DataFrame, *, threshold: float | None = None,
                   thresholds: Mapping[str, float] | None = None, alpha: float | None = None,
                   metrics: Sequence[str] | None = None, min_repetitions: int = MIN_REPETITIONS,
                   ignore: Sequence[str] = (), paired: bool = False, pool: bool = True,
                   round_estimator: str = ROUND_ESTIMATOR, family_scale: int = 1,
                   spreads: Mapping[str, Spread] | None = None, calibrate: bool = True,
                   by_job: bool = True, paired_test: str = PAIRED_TEST) -> pd.DataFrame:
    """Compare ``current`` against ``baseline``: one row per cell and metric (columns: :data:`RESULT_COLUMNS`).

    ``thresholds`` sets the factor per metric (others use ``threshold``). ``ignore`` names the target
    columns (e.g. ``environment``, ``precision``) or ``workload_id``/``model_id`` that differ on purpose
    between the sides, as in an A/B run, so that cells pair across them. Only ``ok`` rows count.
    ``paired`` pairs the two sides' rounds (an ``ab`` job; see the module docstring);
    ``threshold`` and ``alpha`` default to ``THRESHOLD``/``ALPHA``, or ``AB_THRESHOLD``/``PAIRED_ALPHA`` when paired.
    ``pool``: judge separate runs by the run-to-run spread pooled over every cell of the metric
    (:mod:`genai_harness.gate.noise`); ``False`` tests each cell on its own runs alone (calibration).
    ``spreads``: per metric, a run-to-run spread known from elsewhere (a :class:`~genai_harness.gate.noise.Spread`
    with the df of its own calibration, e.g. that of a deterministic measure), used in place of the pool.
    ``round_estimator`` reduces each round of a paired comparison to one number
    (:func:`~genai_harness.analysis.statistics.round_estimate`: ``median``, or ``best`` = the fastest
    repetition, the minimum of a latency and the maximum of a rate, ``p10``, ``p25``, ``trimmed``).
    ``paired_test`` (:data:`PAIRED_TESTS`) judges a paired comparison's per-round log ratios.

    ``alpha`` is the false-alarm rate of the whole comparison, not of each row: the verdicts use Holm's
    adjustment of the p-values over every hypothesis tested (``p_family``; a rate and the latency it inverts
    count once), and ``detectable`` and ``rounds_needed`` are sized at ``alpha`` over that count.
    ``family_scale``: this comparison is one of that many alike parts of one job (``ab`` sizes each cell pair on
    its own rows), so the count is multiplied by it.
    """
    if threshold is None:
        threshold = AB_THRESHOLD if paired else THRESHOLD
    if alpha is None:
        alpha = PAIRED_ALPHA if paired else ALPHA

    # counted metrics (issue 23, point 4): instruction runs compare their instruction columns by default
    counted = counted_defaults([*row_measures(baseline), *row_measures(current)]) if metrics is None else None
    defaults = paired_default_metrics(baseline, current) if paired else default_metrics()
    names = tuple(metrics) if metrics is not None else counted or defaults
    for name in (*names, *(thresholds or {})):
        metric(name)  # unknown metric names fail here, with the list of known ones
    if round_estimator not in ROUND_ESTIMATORS:
        raise ComparisonError(f"round estimator must be one of {', '.join(ROUND_ESTIMATORS)} (e.g. median), "
                              f"got {round_estimator!r}")
    if paired_test not in PAIRED_TESTS:
        raise ComparisonError(f"paired test must be one of {', '.join(PAIRED_TESTS)} (e.g. {PAIRED_TEST}), "
                              f"got {paired_test!r}")
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise ComparisonError(f"alpha (the comparison's false-alarm rate) must lie between 0 and 1 "
                              f"(e.g. 0.01), got {alpha!r}")
    # a counted metric keeps its kind's own threshold unless --metric-threshold names it (not the global one)
    factors = {**{n: threshold for n in names if kind_rule(n) is None}, **dict(thresholds or {})}
    for name, factor in factors.items():
        if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1.0):
            raise ComparisonError(f"threshold of {name} must be a finite factor above 1 (e.g. 1.10), got {factor!r}")
    return compare_long(_keyed(baseline, names, ignore), _keyed(current, names, ignore), names=names,
                        factors=factors, threshold=threshold, alpha=alpha, min_repetitions=min_repetitions,
                        paired=paired, pool=pool, round_estimator=round_estimator, family_scale=family_scale,
                        spreads=spreads, calibrate=calibrate, by_job=by_job, paired_test=paired_test)


def compare_long(base: pd.DataFrame, cur: pd.DataFrame, *, names: Sequence[str], factors: Mapping[str, float],
                 threshold: float, alpha: float, min_repetitions: int = MIN_REPETITIONS, paired: bool = False,
                 pool: bool = True, round_estimator: str = ROUND_ESTIMATOR, family_scale: int = 1,
                 spreads: Mapping[str, Spread] | None = None, calibrate: bool = True,
                 by_job: bool = True, paired_test: str = PAIRED_TEST) -> pd.DataFrame:
    """:func:`compare_frames` on the sides' long views (``analysis.long_view``, keyed), its options checked:
    what calibration calls on many draws of the same runs without building their long views again.
    ``calibrate``: take the machine's speed out of separate runs' wall times (``gate.calibration``).
    ``by_job``: where the rows name jobs (``job_id``), average each job's runs into one unit (``units.job_sides``)."""
    import pandas as pd  # the CLI start builds its parser from this module's constants: it loads no pandas

    keys = [*KEY_COLUMNS, "metric"]
    base_groups = {k: g for k, g in base.groupby(keys, sort=False)} if len(base) else {}
    cur_groups = {k: g for k, g in cur.groupby(keys, sort=False)} if len(cur) else {}
    records: list[dict[str, Any]] = []
    sides: dict[tuple[Any, ...], tuple[dict[str, float], dict[str, float]]] = {}
    kernels: dict[tuple[Any, ...], tuple[dict[str, float], dict[str, float]]] = {}  # log calibration kernel per run
    for key in list(base_groups) + [k for k in cur_groups if k not in base_groups]:
        if key in base_groups and key in cur_groups:
            pair = (base_groups[key], cur_groups[key])
            sides[key] = (_logs(run_values(pair[0])), _logs(run_values(pair[1])))
            if calibrate and not paired and all(CALIB_COLUMN in g.columns for g in pair):
                kernels[key] = (_logs(run_values(pair[0].assign(value=pair[0][CALIB_COLUMN]))),
                                _logs(run_values(pair[1].assign(value=pair[1][CALIB_COLUMN]))))
    speed_metrics = [n for n in names if METRICS[n].kind == "speed" and kind_rule(n) is None]
    sides, machine = adjust_cells(sides, kernels, speed_metrics)  # {} unless the kernel explains the noise
    units, one_job = "runs", ""
    if by_job and not paired:  # runs one job took in a row share its drift: where the rows name jobs, a job is a unit
        sides, units, one_job = job_sides(sides, {k: (run_jobs(base_groups[k]), run_jobs(cur_groups[k]))
                                                  for k in sides})
    slopes = {k[-1]: slope for k, (slope, _) in machine.items()}
    pools = {name: pooled_spread([s for k, s in sides.items() if k[-1] == name]).less_df(name in slopes)
             if pool else None for name in names}
    pools.update(dict(spreads or {}))
    # rows tested or testable, their SD, rounds per unit, and the units a rank test sizes itself on again
    judged: list[tuple[dict[str, Any], float, float, tuple[list[float], list[float]] | None]] = []
    for key in list(base_groups) + [k for k in cur_groups if k not in base_groups]:
        info = METRICS[key[-1]]
        b_group, c_group = base_groups.get(key), cur_groups.get(key)
        b = b_group["value"].tolist() if b_group is not None else []
        c = c_group["value"].tolist() if c_group is not None else []
        factor = factors.get(info.name, threshold)
        row: dict[str, Any] = {**dict(zip(keys, key, strict=True)), "unit": info.unit, "better": info.better,
                               "n_baseline": len(b), "n_current": len(c), "baseline_median": median(b),
                               "current_median": median(c), "threshold": factor, "df": math.nan,
                               "unresolved": False, "blind": False, "p_family": math.nan, "detectable": math.nan,
                               "rounds_needed": math.nan}
        if b_group is None or c_group is None:
            row.update(ratio=math.nan, ratio_ci_low=math.nan, ratio_ci_high=math.nan, slowdown=math.nan,
                       p_value=math.nan, tested_on="", verdict="only in current" if not b else "only in baseline")
            records.append(row)
            continue
        rule = kind_rule(info.name)  # counted metrics (issue 23, point 4): their own rule, one run a side is enough
        if rule is not None:
            factor = factors.get(info.name, rule.threshold)
            row.update(judge_counted(b, c, lower_is_better=info.lower_is_better, threshold=factor, noise=rule.noise),
                       threshold=factor)
            row["unresolved"] = row["blind"] = row["verdict"] == "inconclusive"  # never a silent pass
            records.append(row)
            continue
        sd, per_unit, ranked, baseline_first = math.nan, 1.0, None, None
        b_runs, c_runs = (run_medians(b_group), run_medians(c_group)) if paired else ([], [])
        if paired and round_estimator != "median":
            b_runs = run_estimates(b_group, round_estimator, lower_is_better=info.lower_is_better)
            c_runs = run_estimates(c_group, round_estimator, lower_is_better=info.lower_is_better)
        b_sessions, c_sessions = (worker_sessions(b_group), worker_sessions(c_group)) if paired else (None, None)
        sessions = b_sessions is not None and c_sessions is not None and len(b_runs) == len(c_runs)
        if sessions:  # rounds served by long-lived workers: the worker is the independent unit, not the round
            per_unit = len(b_runs) / len(set(b_sessions or ()))
            b_runs, c_runs = session_means(b_runs, b_sessions), session_means(c_runs, c_sessions)
            if load_ordered(info.name):  # one load a worker, the second loader's cheaper: take the order out
                baseline_first = session_loaded_first(b_group, b_sessions)
        if paired and len(b_runs) == len(c_runs) and len(b_runs) >= min_repetitions:  # enough units for t
            # a session's unit is the mean of its rounds, whose far-out rounds that mean has averaged in, and
            # sessions are few: Student's t judges them whichever test rounds get
            ranked = (b_runs, c_runs) if paired_test == "rank" and not sessions else None
            test = (crossover_test(b_runs, c_runs, baseline_first) if baseline_first is not None
                    else (paired_rank_test if ranked else paired_log_ratio_test)(b_runs, c_runs))
            crossed = test.df == test.n - 2  # the crossover ran (too few sessions in an order fall back to t)
            row.update(ratio=test.ratio, ratio_ci_low=test.ci_low, ratio_ci_high=test.ci_high, p_value=test.p_value,
                       tested_on=PAIRED_CROSSOVER if crossed else PAIRED_SESSIONS if sessions else PAIRED_ROUNDS,
                       df=test.df, se=test.sd_log_ratio / math.sqrt(test.n) if test.n >= 2 else math.nan)
            sd = test.sd_log_ratio
        else:
            own = own_spread(*sides[key])
            known = pools.get(info.name)
            spread = cell_spread(own, known) if known is not None else own
            test = runs_test(*sides[key], spread, leverage=machine[key][1] if key in machine else 0.0)
            untested = UNTESTED[1] if units == "jobs" else UNTESTED[0]
            tested_on = (untested if not spread.usable else units if spread is own
                         else f"{units}, known spread" if info.name in (spreads or {})
                         else f"{units}, pooled over {spread.cells} cells")
            if key in machine and spread.usable:
                tested_on += f", adjusted for machine speed (kernel, slope {machine[key][0].slope:.2f})"
            tested_on += f"; {one_job}" if one_job else ""
            row.update(ratio=test.ratio, ratio_ci_low=test.ci_low, ratio_ci_high=test.ci_high, p_value=test.p_value,
                       tested_on=tested_on, df=test.df, se=test.se)
        row["slowdown"] = row["ratio"] if info.lower_is_better else (1.0 / row["ratio"] if row["ratio"] else math.nan)
        records.append(row)
        judged.append((row, sd, per_unit, ranked))
    tested = [row for row, _, _, _ in judged if math.isfinite(row["p_value"])]
    # a rate and the latency it is the reciprocal of (decode_tps, tpot_ms) test one hypothesis: counted once
    hypotheses = [(*(row[k] for k in KEY_COLUMNS), METRICS[row["metric"]].hypothesis) for row in tested]
    for row, adjusted in zip(tested, holm_adjust([row["p_value"] for row in tested], hypotheses), strict=True):
        row["p_family"] = adjusted
    per_test = alpha / max(1, len(set(hypotheses)) * family_scale)  # each hypothesis's share of alpha (Bonferroni)
    rank_floor = rank_min_pairs(per_test)
    for row, sd, per_unit, ranked in judged:
        factor, se = row["threshold"], row.pop("se")
        if ranked is not None:  # a rank test's spread at the level it is tested at, where its interval is wider
            sd = sizing_spread(*ranked, sd, per_test)
            se = sd / math.sqrt(row["df"] + 1)
        row["detectable"] = detectable_shift(se, int(row["df"]) if math.isfinite(row["df"]) else 0,
                                             alpha=per_test, threshold=factor)
        row["rounds_needed"] = (per_unit * paired_rounds_needed(sd, TARGET_SLOWDOWN, alpha=per_test, threshold=factor)
                                if math.isfinite(sd) else math.nan)
        if ranked is not None:  # fewer rounds than its exact test can reject with at all: they see nothing
            row["rounds_needed"] = max(row["rounds_needed"], float(rank_floor))
            if row["df"] + 1 < rank_floor:
                row["detectable"] = math.inf
        low, high = row["ratio_ci_low"], row["ratio_ci_high"]
        if not METRICS[row["metric"]].lower_is_better:
            low, high = (1.0 / high if high else math.nan), (1.0 / low if low else math.nan)
        row["verdict"] = verdict(row["slowdown"], row["p_family"], low, high, threshold=factor, alpha=alpha)
        tested = math.isfinite(row["p_value"])
        row["unresolved"] = unresolved(row["verdict"], row["slowdown"], factor, tested, high)
        row["blind"] = could_hide(row["verdict"], factor, tested, high)
    return pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))


def check_comparable(comparison: pd.DataFrame, baseline_what: str, current_what: str) -> None:
    """Raise :class:`ComparisonError` when the two sides share no cell (nothing could be judged)."""
    paired = comparison[~comparison["verdict"].isin(["only in baseline", "only in current"])]
    if not len(paired):
        raise ComparisonError(
            f"{baseline_what} and {current_what} have no cell in common (same target, task, workload and model; "
            "the target includes precision and threads); compare runs of the same suite on the same devices, "
            "or name the dimension that differs on purpose with --ignore"
        )


def rounds_to_run(comparison: pd.DataFrame) -> float:
    """The most rounds any cell and metric of a paired comparison needs to catch ``TARGET_SLOWDOWN`` at the
    noise it measured (its ``rounds_needed``), and at least ``MIN_REPETITIONS`` while any cell is not yet
    tested on paired rounds (pure; what ``ab --max-rounds`` sizes a job by)."""
    needed = comparison["rounds_needed"].dropna()
    unpaired = bool((~comparison["tested_on"].isin([PAIRED_ROUNDS, PAIRED_SESSIONS, PAIRED_CROSSOVER])).any())
    return max(float(needed.max()) if len(needed) else 0.0, float(MIN_REPETITIONS) if unpaired else 0.0)
