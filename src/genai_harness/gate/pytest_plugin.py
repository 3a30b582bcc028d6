"""A pytest plugin: gate your own model's performance in your own test suite.

Installed with genai-harness (entry point ``pytest11``). A test asks the ``genai_gate`` fixture to run a
workload cell (in an isolated worker, as ``genai-harness run`` does) and compares it with a baseline store
by the same statistics as ``genai-harness compare``::

    def test_my_model_keeps_its_speed(genai_gate):
        genai_gate("text-p128-g32", model="my-model", framework="onnxruntime_genai", device="CPU")

``pytest --genai-baseline base.sqlite --genai-update-baseline`` records the baseline (a path or a
``postgresql://`` URL); ``pytest --genai-baseline base.sqlite`` then fails a test whose cell regressed
(threshold and significance both met), fails one whose inconclusive rows could hide a 1.5x slowdown and warns
on one whose rows are inconclusive only beyond the threshold (``--genai-on-inconclusive``, as
``compare --on-inconclusive``: auto by default, or fail, warn, pass), and passes one whose rows are equivalent,
improved or inconclusive within the threshold. A baseline store that does not
exist, or holds no rows of the gated cell, is an error, never a skip: in CI a skip is a pass. Without
``--genai-baseline`` the fixture only measures.

Each measurement is ``--genai-runs`` runs of the cell (default 5), each in its own worker process: separate
processes differ by 7-15 % on a shared machine, which one process's repetitions cannot show, so the gate tests one
median per run (see ``genai_harness.gate.compare``). A timed gate that fails is confirmed before it fails
(``--genai-confirm on``, the default): the cell is measured ``--genai-runs`` more times as a second job of the
session, and the test fails only if the comparison with both jobs fails too (with a history of recorded sessions,
unchanged code then failed 0-0.5 % of quiet comparisons, against 6-11 % unconfirmed; benchmarks/RESULTS.md,
"Confirming a failure"). Recording again adds runs to
the baseline, which thereby becomes a history; a comparison row's ``detectable`` says the smallest
slowdown those runs can catch. A session's runs record one job (:func:`session_job`): once the baseline holds
several sessions, each session's runs count as one unit, since runs taken in a row share their minutes. For a
tighter gate on a noisy runner, use ``genai-harness ab``.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# light (the errors module only): the plugin loads in every session
from genai_harness.runner.job import confirming_job, job_id

if TYPE_CHECKING:
    import pandas as pd


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--genai-baseline``, ``--genai-update-baseline``, ``--genai-store``, ``--genai-threshold``."""
    group = parser.getgroup("genai-harness", "performance gates of genai-harness")
    group.addoption("--genai-baseline", metavar="STORE", default=None,
                    help="results store holding the baseline the genai_gate fixture compares with")
    group.addoption("--genai-update-baseline", action="store_true", default=False,
                    help="record this session's measurements into --genai-baseline instead of comparing")
    group.addoption("--genai-store", metavar="STORE", default=None,
                    help="store for this session's measurements (default: a temporary one)")
    group.addoption("--genai-threshold", type=float, default=None,
                    help="factor a metric must worsen by to fail (default 1.10)")
    group.addoption("--genai-runs", type=int, default=RUNS, metavar="N",
                    help=f"runs of each gated cell, each its own worker process (default {RUNS})")
    group.addoption("--genai-on-inconclusive", choices=("auto", "fail", "warn", "pass"), default=None,
                    help="a gated cell inconclusive at or beyond the threshold: as compare --on-inconclusive, auto "
                         "(fail where its runs could hide a 1.5x slowdown, else warn), fail, warn or pass")
    group.addoption("--genai-confirm", choices=("on", "off"), default="on",
                    help="a timed gate that fails measures its cell again (--genai-runs more runs, a second job) "
                         "and fails only if the comparison with both jobs fails too (default on)")
    group.addoption("--genai-machine-speed", choices=("kernel", "off"), default="kernel",
                    help="as compare --machine-speed: kernel (default) takes the machine's speed out of the runs' "
                         "times where the calibration kernel explains them; off judges the raw times")
    group.addoption("--genai-measure", choices=("time", "instructions"), default="time",
                    help="time (default), or instructions: one run of each cell under valgrind, gated on its "
                         "instruction counts at 2 %% (deterministic, for noisy runners)")


RUNS = 5
"""Runs of a gated cell by default, and again when a failing gate is confirmed (``--genai-confirm``): with the
confirmation, the fewest with which unchanged code failed at most 1 % of quiet comparisons against a history of
recorded sessions on every pool (10 without it; benchmarks/RESULTS.md, "Confirming a failure")."""


class Gate:
    """Runs one workload cell and judges it against the baseline store (see the module docstring)."""

    def __init__(self, config: pytest.Config, store: Path, folder: Path) -> None:
        self.baseline = config.getoption("--genai-baseline")
        self.on_inconclusive = config.getoption("--genai-on-inconclusive")
        self.folder = folder
        self.update = bool(config.getoption("--genai-update-baseline"))
        self.threshold = config.getoption("--genai-threshold")
        self.runs = config.getoption("--genai-runs")
        self.measure = config.getoption("--genai-measure")  # issue 23, point 4
        self.confirm = config.getoption("--genai-confirm") == "on" and self.measure == "time"
        self.calibrate = config.getoption("--genai-machine-speed") == "kernel"
        self.store = store
        self.config = config
        if self.update and not self.baseline:
            raise pytest.UsageError("--genai-update-baseline needs --genai-baseline STORE (where to record it)")
        if not isinstance(self.runs, int) or not 1 <= self.runs <= 100:
            raise pytest.UsageError(f"--genai-runs must be a whole number from 1 to 100, got {self.runs!r}")

    def __call__(self, workload: str, *, model: str, framework: str | Sequence[str] | None = None,
                 device: str | Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                 threshold: float | None = None, thresholds: dict[str, float] | None = None,
                 **run_options: Any) -> pd.DataFrame | None:
        """Measure ``workload`` on ``model`` (``--genai-runs`` runs) and compare; returns the comparison (None when
        recording)."""
        # pandas loads when a test asks for a gate, not in every pytest session (the plugin loads in each one)
        import pandas as pd

        # so do the runner and the gate: a pytest session that gates nothing starts as light as the CLI
        from genai_harness.errors import HarnessError
        from genai_harness.gate.compare import THRESHOLD, compare_frames
        from genai_harness.gate.distinct import check_distinct  # with the gate, when a test asks for one
        from genai_harness.gate.outcome import (
            ON_INCONCLUSIVE_DEFAULT,
            ONE_JOB_FALSE_REGRESSIONS,
            gate_fails,
            gate_outcome,
            inconclusive_fails,
            one_job_a_side,
        )
        from genai_harness.gate.render import to_table
        from genai_harness.results.query import ResultFilter
        from genai_harness.results.schema import frame_records
        from genai_harness.results.store import is_url, mask_url, open_store
        from genai_harness.runner.benchmark import run

        shown = mask_url(str(self.baseline)) if self.baseline else ""
        baseline_store = None
        if self.baseline and not self.update:  # before anything runs: a typo fails at once, and never skips
            if not is_url(self.baseline) and not Path(self.baseline).is_file():
                pytest.fail(f"no baseline store at {shown}; check the path, or record one with "
                            "--genai-update-baseline", pytrace=False)
            try:
                baseline_store = open_store(self.baseline, create=False)
            except HarnessError as exc:
                pytest.fail(f"genai-harness gate: {exc}", pytrace=False)
        suite = _suite_file(self.folder, workload, model)  # in pytest's own temporary folder: nothing left in /tmp
        runs = 1 if self.measure == "instructions" else self.runs  # counts need one run a side
        job = run_options.pop("job", None) or session_job(self.config)  # this session's runs: one job (runner.job)

        def measure(job: str) -> pd.DataFrame:
            rows = pd.concat([run(str(suite), frameworks=_names(framework), devices=_names(device),
                                  store=self.store, progress=False, measure=self.measure, job=job, **run_options)
                              for _ in range(runs)], ignore_index=True)
            failed = rows[rows["status"] != "ok"]
            if len(failed):
                pytest.fail(f"genai-harness cell failed: {failed['error'].iloc[0]}", pytrace=False)
            return rows

        current = measure(job)
        try:
            if self.update:
                open_store(self.baseline).append(frame_records(current))
                return None
            if baseline_store is None:
                return None
            # the rows carry the ids the runner gave them (a workload file's own id, not its path)
            cells = ResultFilter(workload_ids=sorted(set(current["workload_id"])),
                                 model_ids=sorted(set(current["model_id"])),
                                 frameworks=sorted(set(current["framework"])), devices=sorted(set(current["device"])),
                                 statuses="ok")
            base = baseline_store.read(cells)
            if len(base):  # instruction runs are compared with instruction runs, timed runs with timed ones
                counted = base["measure"].eq("instructions").fillna(False) if "measure" in base.columns else False
                base = base[counted == (self.measure == "instructions")]
            if not len(base):
                pytest.fail(f"no baseline rows for {workload} on {model} in {shown}; record them with "
                            "--genai-update-baseline", pytrace=False)
            check_distinct(base, current, shown, "this test's runs")

            def judge(current: pd.DataFrame) -> pd.DataFrame:
                return compare_frames(base, current, threshold=threshold or self.threshold or THRESHOLD,
                                      thresholds=thresholds, metrics=metrics, calibrate=self.calibrate)

            comparison, policy = judge(current), self.on_inconclusive or ON_INCONCLUSIVE_DEFAULT
            confirmed = ""
            if self.confirm and gate_fails(comparison, policy):  # one job's drift alone must not fail the test
                first = gate_outcome(comparison)
                current = pd.concat([current, measure(confirming_job(job))], ignore_index=True)
                comparison = judge(current)
                confirmed = f"\n(confirmed: {runs} more runs, measured as a second job, failed it too)"
                if not gate_fails(comparison, policy):
                    warnings.warn(f"the first {runs} runs failed the gate ({first}); {runs} more, measured as a "
                                  "second job to confirm it, did not: passed on both", stacklevel=2)
        except HarnessError as exc:
            pytest.fail(f"genai-harness gate: {exc}", pytrace=False)
        outcome = gate_outcome(comparison)
        one_job = ""
        if one_job_a_side(comparison):
            one_job = ("\nthe baseline's runs came from one session, like this test's: the drift between sessions "
                       "was not measured (runs in a row share it; unchanged code was called a regression in "
                       f"{ONE_JOB_FALSE_REGRESSIONS} of such comparisons: benchmarks/RESULTS.md); record the baseline "
                       "in two or more sessions (--genai-update-baseline again)")
            warnings.warn(one_job.strip(), stacklevel=2)
        if outcome == "regression":
            pytest.fail(f"performance regression against {shown}:\n{to_table(comparison)}{one_job}{confirmed}",
                        pytrace=False)
        if outcome == "unresolved":
            why = (f"performance inconclusive against {shown}: rows at or beyond the threshold are neither a "
                   f"regression nor shown unchanged (more --genai-runs, or a longer baseline history, can tell):\n"
                   f"{to_table(comparison)}")
            if inconclusive_fails(comparison, policy):
                pytest.fail(f"{why}\n(--genai-on-inconclusive {policy}; warn or pass to let it through){confirmed}",
                            pytrace=False)
            if policy != "pass":
                warnings.warn(why, stacklevel=2)
        return comparison


def _suite_file(folder: Path, workload: str, model: str) -> Path:
    """A suite file in ``folder`` of one entry: ``workload`` (a shipped name or a file) on ``model``."""
    path = folder / "gate.toml"
    path.write_text(f'id = "gate"\n\n[[entries]]\nworkload = {_toml(workload)}\nmodels = [{_toml(model)}]\n')
    return path


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    return [value] if isinstance(value, str) else (list(value) if value else None)


SESSION_JOB = pytest.StashKey[str]()


def session_job(config: pytest.Config) -> str:
    """The job every gated run of this pytest session records (``job_id``): the CI job's own id where there is one
    (``runner.job``), else one made for the session. The runs of one session share its minutes on the machine, so
    a baseline recorded over several sessions is judged by the spread between them (``gate.compare``)."""
    if SESSION_JOB not in config.stash:
        config.stash[SESSION_JOB] = job_id(None, os.environ) or f"pytest-{uuid.uuid4().hex[:12]}"
    return config.stash[SESSION_JOB]


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def genai_gate(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Gate:
    """Run a workload cell and assert it did not regress against ``--genai-baseline``."""
    option = request.config.getoption("--genai-store")
    store = Path(option) if option else tmp_path_factory.getbasetemp() / "genai-gate.sqlite"
    return Gate(request.config, store, tmp_path_factory.mktemp("genai-gate"))
