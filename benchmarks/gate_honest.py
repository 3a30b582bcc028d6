"""Calibrating the honest gate of separate runs (issue 23): verdicts, exit codes and pooled noise on real runs.

Pool (real, ``--measure N``): N separate ``genai-harness run`` invocations of a four-cell suite (tiny-llm
``text-p128-g32`` on onnxruntime-genai and openvino-genai, squeezenet ``classify-b1`` on onnxruntime and
openvino-genai, the workloads' default warm-ups and repetitions), each its own run id in one store, one after
the other, under ``nice -n 5``, with the load average logged beside each run (``POOL.load``).

Judge: for 3, 5 and 10 runs a side, TRIALS comparisons each draw 2n distinct runs of the pool (resampled
from the pool: a trial never uses a run twice, trials share runs) and ask ``compare_frames`` with its defaults
(every headline metric of the four cells) as A/A and with the current runs stretched by each FACTOR
(``analysis.metric_info.stretch``, what ``run --inject-slowdown`` records; memory is not stretched). Rules:

- ``pooled`` (the gate now): the run-to-run spread pooled over the cells of each metric; its exit code under
  ``--on-inconclusive fail`` (1 regression, 16 unresolved, 0 pass; ``auto`` columns where the judge reports them);
- ``own`` (before): each cell on its own runs (``pool=False``), same verdicts; ``own, exit 1`` is what the
  gate before this issue did (a regression or nothing: every other row passed);
- ``asv``: any metric's ratio of medians >= 1.10 with Mann-Whitney p < 0.002 on the pooled repetitions;
- ``pyperf``: any metric slower (ratio of means > 1) with Student's t p < 0.05 on the pooled repetitions
  (``pyperf compare_to``'s significance rule; it has no threshold by default).

Run: ``nice -n 5 .venv/bin/python benchmarks/gate_honest.py --measure 70 --store POOL`` then
``nice -n 5 .venv/bin/python benchmarks/gate_honest.py --store POOL --trials 200 --catch-trials 60``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from gate_selfsized import print_table
from scipy import stats

from genai_harness.analysis.long_view import long_view
from genai_harness.analysis.metric_info import METRICS, stretch
from genai_harness.gate.compare import ALPHA, KEY_COLUMNS, THRESHOLD, compare_long, default_metrics
from genai_harness.gate.noise import pooled_spread
from genai_harness.gate.outcome import gate_outcome
from genai_harness.results.query import ResultFilter
from genai_harness.results.store import ResultStore

SUITE = ('id = "gate-pool"\n[[entries]]\nworkload = "text-p128-g32"\nmodels = ["tiny-llm"]\n\n'
         '[[entries]]\nworkload = "classify-b1"\nmodels = ["squeezenet"]\n')
SIZES = (3, 5, 10)
FACTORS = (1.0, 1.05, 1.10, 1.25, 1.5, 2.0, 3.0)
REPO = Path(__file__).resolve().parents[1]


def measure(store: str, runs: int) -> None:
    """``runs`` real separate runs of :data:`SUITE` into ``store``, the load average of each into STORE.load."""
    harness = REPO / ".venv" / "bin" / "genai-harness"
    with tempfile.TemporaryDirectory() as folder, open(f"{store}.load", "a") as log:
        suite = Path(folder) / "suite.toml"
        suite.write_text(SUITE)
        for k in range(runs):
            log.write(f"{time.strftime('%H:%M:%S', time.gmtime())} run {k + 1} load {os.getloadavg()}\n")
            log.flush()
            subprocess.run([str(harness), "run", "--suite", str(suite), "--store", store, "--quiet", "--no-cold-start"],
                           check=True,
                           stderr=subprocess.DEVNULL)


def pooled_rules(base: pd.DataFrame, cur: pd.DataFrame) -> tuple[bool, bool]:
    """(asv, pyperf) on the pooled repetitions of each cell and metric of two long views: asv's compare (ratio of
    medians >= 1.10 and Mann-Whitney p < 0.002) and pyperf compare_to's significance (slower by the ratio of
    means, Student's t p < 0.05); either alarms when any cell and metric does."""
    asv = pyperf = False
    cur_groups = {k: g["value"].to_numpy(float) for k, g in cur.groupby([*KEY_COLUMNS, "metric"], sort=False)}
    for key, group in base.groupby([*KEY_COLUMNS, "metric"], sort=False):
        info = METRICS[key[-1]]
        x, y = group["value"].to_numpy(float), cur_groups.get(key)
        if info.scope == "cell" or y is None or len(x) < 2 or len(y) < 2:
            continue
        worse = (lambda r: r) if info.lower_is_better else (lambda r: 1.0 / r)
        if worse(float(np.median(y) / np.median(x))) >= 1.10 and stats.mannwhitneyu(x, y).pvalue < 0.002:
            asv = True
        if worse(float(y.mean() / x.mean())) > 1.0 and stats.ttest_ind(x, y).pvalue < 0.05:
            pyperf = True
    return asv, pyperf


def judge(longs: list[pd.DataFrame], trials: int, catch_trials: int, metrics: list[str]) -> list[dict[str, object]]:
    """Rates per (runs a side, factor) over ``trials`` draws of the runs' long views (A/A) and the first
    ``catch_trials`` of the same draws for every other factor."""
    rng = np.random.default_rng(20261206)
    rows: list[dict[str, object]] = []
    factors = {m: THRESHOLD for m in metrics}
    for n in SIZES:
        draws = [draw_runs(rng, len(longs), n) for _ in range(trials)]
        for factor in FACTORS:
            scale = {m: float(stretch({m: 1.0}, factor)[m]) for m in metrics}
            tally: dict[str, list[float]] = {k: [] for k in (
                "pooled exit 1", "pooled exit 16", "pooled exit 0", "own exit 1", "own exit 16", "own exit 0",
                "asv", "pyperf", "equivalent rows", "pooled df (median)", "own df (median)", "pooled catches")}
            for draw in draws if factor == 1.0 else draws[:catch_trials]:
                base, cur = draw_sides(longs, draw, n, scale)
                for label, pool in (("pooled", True), ("own", False)):
                    result = compare_long(base, cur, names=metrics, factors=factors, threshold=THRESHOLD,
                                          alpha=ALPHA, pool=pool)
                    outcome = gate_outcome(result)
                    for code, name in (("1", "regression"), ("16", "unresolved"), ("0", "pass")):
                        tally[f"{label} exit {code}"].append(outcome == name)
                    tally[f"{label} df (median)"].append(float(result["df"].median()))
                    if pool:
                        moved = result[result["metric"].map(scale) != 1.0] if factor != 1.0 else result.iloc[:0]
                        tally["equivalent rows"].append(float((moved["verdict"] == "equivalent").sum()))
                        tally["pooled catches"].append(float(result["detectable"].median()))
                asv, pyperf = pooled_rules(base, cur)
                tally["asv"].append(asv)
                tally["pyperf"].append(pyperf)
            row: dict[str, object] = {"runs a side": n, "factor": factor}
            row.update({k: float(np.nanmedian(v)) if "median" in k or "catches" in k else
                        (float(np.sum(v)) if k == "equivalent rows" else float(np.mean(v)))
                        for k, v in tally.items()})
            row["pooled fails"] = 1.0 - float(row["pooled exit 0"])  # type: ignore[arg-type]
            row["own fails"] = 1.0 - float(row["own exit 0"])  # type: ignore[arg-type]
            rows.append(row)
            print(row, f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    return rows


def pool_noise(longs: list[pd.DataFrame], metrics: list[str]) -> None:
    """Per metric: the run-to-run SD of log run medians in each cell, pooled, and the share the cells of a run
    have in common (``gate.noise.pooled_spread`` over the whole pool as one side)."""
    frame = pd.concat(longs, ignore_index=True)
    for name in metrics:
        rows = frame[frame["metric"] == name]
        cells = []
        for _, group in rows.groupby([*KEY_COLUMNS], sort=False):
            medians = group.groupby("run_id")["value"].median()
            cells.append(({str(k): float(np.log(v)) for k, v in medians.items() if v > 0}, {}))
        if not cells:
            continue
        spread = pooled_spread(cells)
        own = ", ".join(f"{np.std(list(c[0].values()), ddof=1):.3f}" for c in cells)
        print(f"pool noise {name}: log SD per cell {own}; pooled {spread.sd:.3f}, within-run correlation "
              f"{spread.rho:.2f}, df {spread.df:.1f} of {sum(len(c[0]) - 1 for c in cells)}")


def caught(rows: list[dict[str, object]], column: str, n: int, at: float = 0.95) -> str:
    """The smallest factor of :data:`FACTORS` whose ``column`` rate reaches ``at`` with ``n`` runs a side."""
    hits = [r["factor"] for r in rows if r["runs a side"] == n and r["factor"] > 1 and float(r[column]) >= at]
    return f"{min(hits):.2f}" if hits else f"> {FACTORS[-1]:.2f}"  # type: ignore[type-var]


CONSECUTIVE = os.environ.get("GATE_DRAW", "random") == "consecutive"
"""``GATE_DRAW=consecutive``: each side's runs are n runs in a row of the pool (as one CI job takes them, sharing
the machine's state of those minutes) instead of n runs drawn anywhere from it."""
JOBS = os.environ.get("GATE_DRAW", "random") == "jobs"
"""``GATE_DRAW=jobs``: as a CI gate with a kept history draws them: the current side is one job (n runs in a row of
the pool), the baseline :data:`HISTORY` earlier jobs of n runs in a row each; every run carries its job's id."""
HISTORY = int(os.environ.get("GATE_HISTORY", "5"))
"""Jobs the baseline keeps under ``GATE_DRAW=jobs`` (the GitHub Actions example's ``GATE_HISTORY``)."""


def draw_jobs(rng: np.random.Generator, total: int, n: int, history: int = HISTORY) -> list[np.ndarray]:
    """``history + 1`` non-overlapping stretches of ``n`` runs in a row of a pool of ``total`` runs in time order,
    each placement equally likely: the baseline's jobs, then the current job (one of them at random)."""
    free = total - (history + 1) * n
    if free < 0:
        raise SystemExit(f"a pool of {total} runs cannot hold {history + 1} jobs of {n} runs; measure more runs "
                         "or lower GATE_HISTORY / GATE_SIZES")
    cuts = np.sort(rng.choice(free + history + 1, history + 1, replace=False))  # stars and bars: the gaps
    blocks = [np.arange(int(c) - i + i * n, int(c) - i + (i + 1) * n) for i, c in enumerate(cuts)]
    current = int(rng.integers(0, history + 1))
    return [*blocks[:current], *blocks[current + 1:], blocks[current]]


CONFIRM = os.environ.get("GATE_CONFIRM", "") == "1"
"""``GATE_CONFIRM=1`` (with ``GATE_DRAW=jobs``): a comparison that fails is measured again before it fails, as the
GitHub Actions example does: a second job of n runs (the nearest free stretch after the current job, else before
it) joins the current side and the comparison is judged again; its outcome is the job's."""


def confirm_block(blocks: list[np.ndarray], total: int, n: int) -> np.ndarray | None:
    """The confirming job of a draw of :func:`draw_jobs`: the nearest n runs in a row after the current job (the
    last block), else before it, that overlap no block of the draw; None when the pool has no such stretch."""
    taken = np.zeros(total, dtype=bool)
    for block in blocks:
        taken[block] = True
    start = int(blocks[-1][0])
    for first in [*range(start + n, total - n + 1), *range(start - n, -1, -1)]:
        if not taken[first:first + n].any():
            return np.arange(first, first + n)
    return None


def draw_job_sides(longs: list[pd.DataFrame], blocks: list[np.ndarray],
                   scale: dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The baseline (every block but the last, each a job) and the current side (the last block, one job, each
    metric stretched by ``scale``) of one comparison drawn by :func:`draw_jobs`."""
    def side(chosen: list[np.ndarray], offset: int) -> pd.DataFrame:
        return pd.concat([longs[i].assign(job_id=f"job {offset + j}") for j, block in enumerate(chosen)
                          for i in block], ignore_index=True)

    base, cur = side(blocks[:-1], 0), side(blocks[-1:], len(blocks))
    return base, cur.assign(value=cur["value"] * cur["metric"].map(scale))


def draw_runs(rng: np.random.Generator, total: int, n: int) -> np.ndarray:
    """Indexes of 2n distinct runs of a pool of ``total`` runs in time order: the baseline's n, then the current
    side's n; anywhere in the pool, or (:data:`CONSECUTIVE`) two non-overlapping stretches of n runs in a row."""
    if not CONSECUTIVE:
        return rng.choice(total, 2 * n, replace=False)
    while True:
        base, cur = rng.integers(0, total - n + 1, size=2)
        if abs(int(base) - int(cur)) >= n:
            return np.concatenate([np.arange(base, base + n), np.arange(cur, cur + n)])


def draw_sides(longs: list[pd.DataFrame], draw: Any, n: int, scale: dict[str, float]) -> tuple[pd.DataFrame,
                                                                                             pd.DataFrame]:
    """The baseline (the draw's first ``n`` runs) and the current side (the next ``n``, each metric stretched by
    ``scale``) of one comparison drawn from the pool."""
    base = pd.concat([longs[i] for i in draw[:n]], ignore_index=True)
    cur = pd.concat([longs[i] for i in draw[n:]], ignore_index=True)
    return base, cur.assign(value=cur["value"] * cur["metric"].map(scale))


def pool_arguments(description: str, catch_trials: int) -> argparse.Namespace:
    """The options of a benchmark judging a pool of separate runs; the pool grown first by ``--measure`` runs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--store", required=True, help="the pool: separate runs of the four-cell suite")
    parser.add_argument("--measure", type=int, default=0, help="first add this many real runs to the pool")
    parser.add_argument("--trials", type=int, default=200, help="A/A comparisons per number of runs a side")
    parser.add_argument("--catch-trials", type=int, default=catch_trials, help="comparisons per injected factor")
    args = parser.parse_args()
    if args.measure:
        measure(args.store, args.measure)
    return args


def main() -> None:
    args = pool_arguments(__doc__.splitlines()[0], catch_trials=60)
    started = time.monotonic()
    frame = ResultStore(args.store, create=False).read(ResultFilter(statuses="ok"))
    metrics = [m for m in default_metrics() if m in frame.columns]
    longs = [long_view(group, metrics) for _, group in frame.sort_values("run_started_at", kind="stable")
             .groupby("run_id", sort=False)]  # in time order: GATE_DRAW=consecutive draws runs in a row
    runs = longs
    print(f"pool: {len(runs)} runs, {frame.groupby(['framework', 'workload_id']).ngroups} cells; load at start "
          f"{os.getloadavg()}", file=sys.stderr)
    pool_noise(longs, metrics)
    rows = judge(longs, args.trials, args.catch_trials, metrics)
    print(f"{args.trials} A/A comparisons, {args.catch_trials} a factor; {len(runs)} runs in the pool; "
          f"metrics {', '.join(metrics)}")
    print_table(rows, started)
    for n in SIZES:
        found = {k: caught(rows, k, n) for k in ("pooled exit 1", "own exit 1", "asv", "pyperf", "pooled fails",
                                                  "own fails")}
        print(f"{n} runs a side, the smallest factor caught 95 % of the time: {found}")


if __name__ == "__main__":
    main()
