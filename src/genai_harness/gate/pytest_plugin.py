"""A pytest plugin: gate your own model's performance in your own test suite.

Installed with genai-harness (entry point ``pytest11``). A test asks the ``genai_gate`` fixture to run a
workload cell (in an isolated worker, as ``genai-harness run`` does) and compares it with a baseline store
by the same statistics as ``genai-harness compare``::

    def test_my_model_keeps_its_speed(genai_gate):
        genai_gate("text-p128-g32", model="my-model", framework="onnxruntime_genai", device="CPU")

``pytest --genai-baseline base.sqlite --genai-update-baseline`` records the baseline;
``pytest --genai-baseline base.sqlite`` then fails a test whose cell regressed (threshold and
significance both met), skips one with no baseline yet, and passes otherwise.

Each measurement is ``--genai-runs`` runs of the cell (default 3), each in its own worker process:
separate processes differ by 7-15 % on a shared machine, which one process's repetitions cannot show, so
the gate tests one median per run (see ``genai_harness.gate.compare``). Recording again adds runs to
the baseline, which thereby becomes a history; a comparison row's ``detectable`` says the smallest
slowdown those runs can catch. For a tighter gate on a noisy runner, use ``genai-harness ab``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

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
    group.addoption("--genai-measure", choices=("time", "instructions"), default="time",
                    help="time (default), or instructions: one run of each cell under valgrind, gated on its "
                         "instruction counts at 2 %% (deterministic, for noisy runners)")


RUNS = 3
"""Runs of a gated cell by default: the fewest with which one measurement shows the noise between processes."""


class Gate:
    """Runs one workload cell and judges it against the baseline store (see the module docstring)."""

    def __init__(self, config: pytest.Config, store: Path) -> None:
        self.baseline = config.getoption("--genai-baseline")
        self.update = bool(config.getoption("--genai-update-baseline"))
        self.threshold = config.getoption("--genai-threshold")
        self.runs = config.getoption("--genai-runs")
        self.measure = config.getoption("--genai-measure")  # issue 23, point 4
        self.store = store
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
        from genai_harness.gate.compare import THRESHOLD, compare_frames, has_regression
        from genai_harness.gate.render import to_table
        from genai_harness.results.query import ResultFilter
        from genai_harness.results.schema import frame_records
        from genai_harness.results.store import ResultStore
        from genai_harness.runner.benchmark import run

        with tempfile.TemporaryDirectory(prefix="genai-gate-") as folder:  # through genai_harness.run, as any run
            suite = _suite_file(Path(folder), workload, model)
            runs = 1 if self.measure == "instructions" else self.runs  # counts need one run a side
            current = pd.concat([run(str(suite), frameworks=_names(framework), devices=_names(device),
                                     store=self.store, progress=False, measure=self.measure, **run_options)
                                 for _ in range(runs)], ignore_index=True)
        failed = current[current["status"] != "ok"]
        if len(failed):
            pytest.fail(f"genai-harness cell failed: {failed['error'].iloc[0]}", pytrace=False)
        if self.update:
            ResultStore(self.baseline).append(frame_records(current))
            return None
        if not self.baseline:
            return None
        cells = ResultFilter(workload_ids=workload, model_ids=model, frameworks=sorted(set(current["framework"])),
                             devices=sorted(set(current["device"])), statuses="ok")
        base = ResultStore(self.baseline, create=False).read(cells) if Path(self.baseline).exists() else None
        if base is not None:  # instruction runs are compared with instruction runs, timed runs with timed ones
            base = base[(base["measure"] == "instructions").fillna(False) == (self.measure == "instructions")]
        if base is None or not len(base):
            pytest.skip(f"no baseline for {workload} on {model} in {self.baseline}; record one with "
                        "--genai-update-baseline")
        comparison = compare_frames(base, current, threshold=threshold or self.threshold or THRESHOLD,
                                    thresholds=thresholds, metrics=metrics)
        if has_regression(comparison):
            pytest.fail(f"performance regression against {self.baseline}:\n{to_table(comparison)}", pytrace=False)
        return comparison


def _suite_file(folder: Path, workload: str, model: str) -> Path:
    """A suite file in ``folder`` of one entry: ``workload`` (a shipped name or a file) on ``model``."""
    path = folder / "gate.toml"
    path.write_text(f'id = "gate"\n\n[[entries]]\nworkload = {_toml(workload)}\nmodels = [{_toml(model)}]\n')
    return path


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    return [value] if isinstance(value, str) else (list(value) if value else None)


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def genai_gate(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Gate:
    """Run a workload cell and assert it did not regress against ``--genai-baseline``."""
    option = request.config.getoption("--genai-store")
    store = Path(option) if option else tmp_path_factory.getbasetemp() / "genai-gate.sqlite"
    return Gate(request.config, store)
