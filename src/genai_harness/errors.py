"""The exception hierarchy of genai-harness.

Every error the harness raises on purpose derives from :class:`HarnessError`, carries a message
that names the problem and the fix, and an ``exit_code`` the CLI returns::

    HarnessError (70)                   no category of its own; also an unexpected exception (a bug)
    ├── ConfigurationError (2)          bad option, broken config file, unknown name
    │   ├── UnknownFrameworkError       framework name no backend registers
    │   └── EnvironmentConfigError      interpreter path missing or not Python
    ├── ModelError (3)                  missing, malformed or corrupt model
    │   ├── ModelFormatError            model has no format for the framework asked
    │   ├── OperatorsNotSupportedError  a runtime refuses the model's operators at load (a finding)
    │   └── ContextLengthError          prompt + new tokens exceed the model's context (cell skipped)
    ├── BackendUnavailableError (4)     runtime not installed / fails to import
    ├── DeviceError (5)
    │   ├── DeviceUnavailableError      device unknown or not usable here
    │   ├── DeviceMismatchError         the runtime silently ran elsewhere
    │   └── NumericsError (15)          the runtime cannot run at the precision/threads asked
    ├── TaskNotSupportedError (6)       backend does not do this task
    ├── WorkloadError (7)               malformed workload file or suite
    ├── GenerationError (8)             runtime failed inside inference
    ├── CellError (9)                   an isolated cell crashed or failed
    │   ├── CellTimeoutError (10)       an isolated cell ran past its timeout
    │   └── MeasurementError            a cell's figure cannot be trusted (valgrind cannot count it)
    ├── StoreError (11)                 results store unreadable or unwritable
    │   └── SchemaVersionError          store written by an incompatible schema
    ├── WorkerProtocolError (12)        a subprocess answered something unreadable
    ├── ComparisonError (13)            two result sets that cannot be compared (no common cell ...)
    └── DispatchError (14)              the dispatcher cannot decide or open anything
        ├── NoEvidenceError             no measurement of this model here (and no probe budget)
        ├── StaleEvidenceError          only measurements taken with other runtime versions
        └── NoUsableDeviceError         every candidate failed to load or disagreed with the CPU reference

``compare`` and ``ab`` exit 1 when they find a regression, and only then: no error above uses 1, so a CI
step can tell "slower" from "broken". They exit 16 (:data:`GATE_INCONCLUSIVE_EXIT`, not an error) when nothing
regressed but some inconclusive row fails under ``--on-inconclusive``: under ``auto`` (the default) a row whose
runs could hide a 1.5x slowdown (its interval reaches it, or one run a side left it untested), under ``fail``
any row inconclusive at or beyond its threshold too.
"""

from __future__ import annotations

GATE_INCONCLUSIVE_EXIT = 16
"""Exit code of ``compare``/``ab``/the CI example: no regression shown, but neither is the absence of one."""


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code: int = 70  # never 1: 1 means "regression found" (compare, ab); 70 is sysexits' EX_SOFTWARE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str]:
        """Serialisable form, used to carry an error across a subprocess boundary."""
        return {"type": type(self).__name__, "message": self.message}


class ConfigurationError(HarnessError):
    """A bad option, an unknown name or a broken configuration file."""

    exit_code = 2


class UnknownFrameworkError(ConfigurationError):
    """A framework name that no installed backend registers."""


class EnvironmentConfigError(ConfigurationError):
    """A Python environment that does not exist, is not Python or cannot run the worker."""


class ModelError(HarnessError):
    """A model that is missing, malformed or corrupt."""

    exit_code = 3


class ModelFormatError(ModelError):
    """A model that has no format for the requested framework."""


class OperatorsNotSupportedError(ModelError):
    """A runtime that refuses a model at load for operators it does not implement (in its own words): a finding about
    that target and export, recorded as a failed cell, not a fault of the run (``run`` exits 0 and says so)."""


class ContextLengthError(ModelError):
    """Prompt plus new tokens exceed the model's context: the cell does not apply (recorded as skipped)."""


class BackendUnavailableError(HarnessError):
    """A backend whose runtime is not installed or does not import."""

    exit_code = 4


class DeviceError(HarnessError):
    """Base for device problems."""

    exit_code = 5


class DeviceUnavailableError(DeviceError):
    """A device that is unknown or not usable on this machine."""


class DeviceMismatchError(DeviceError):
    """The runtime ran on another device than the one asked for (a silent fallback)."""


class NumericsError(DeviceError):
    """The runtime cannot run at the precision or thread count asked; it refuses instead of running another.

    A DeviceError (whoever catches those catches it) with its own exit code, so a script can tell
    "this device is missing" from "this device cannot run this model at that precision".
    """

    exit_code = 15


class TaskNotSupportedError(HarnessError):
    """A backend asked for a task it does not implement."""

    exit_code = 6


class WorkloadError(HarnessError):
    """A malformed workload file or an unknown suite."""

    exit_code = 7


class GenerationError(HarnessError):
    """The runtime failed inside inference."""

    exit_code = 8


class CellError(HarnessError):
    """An isolated benchmark cell crashed or failed."""

    exit_code = 9


class CellTimeoutError(CellError):
    """An isolated benchmark cell ran past its timeout."""

    exit_code = 10


class MeasurementError(CellError):
    """A cell ran but its measurement cannot be trusted (``--measure instructions``: valgrind cannot run the runtime,
    or its counts do not pair with the cell's phases); recorded as the cell's reason, never a wrong figure."""

    exit_code = 9


class StoreError(HarnessError):
    """The results store cannot be read or written."""

    exit_code = 11


class SchemaVersionError(StoreError):
    """A store written with a schema version this harness cannot read."""


class WorkerProtocolError(HarnessError):
    """A worker subprocess gave an answer that cannot be read."""

    exit_code = 12


class ComparisonError(HarnessError):
    """Two result sets that cannot be compared: no cell in common, different schema versions, a bad threshold."""

    exit_code = 13


class DispatchError(HarnessError):
    """The dispatcher cannot decide, or nothing it chose could be opened."""

    exit_code = 14


class NoEvidenceError(DispatchError):
    """No usable measurement of the model for the task on this machine (and no probe budget to take one)."""


class StaleEvidenceError(DispatchError):
    """The only measurements were taken on this hardware with other runtime versions or software."""


class NoUsableDeviceError(DispatchError):
    """Every candidate, down to the CPU, failed to load or disagreed with the CPU reference.

    The one exception ``open_text2text`` / ``open_text2image`` / ``open_classifier`` raise when nothing
    at all can run; ``attempts`` lists each candidate tried and why it was demoted.
    """

    def __init__(self, message: str, attempts: list[str] | None = None) -> None:
        super().__init__(message)
        self.attempts = list(attempts or [])


_BY_NAME: dict[str, type[HarnessError]] = {}


def _collect(cls: type[HarnessError]) -> None:
    _BY_NAME[cls.__name__] = cls
    for sub in cls.__subclasses__():
        _collect(sub)


def error_from_dict(data: dict[str, str]) -> HarnessError:
    """Rebuild an error carried across a subprocess boundary (unknown types become HarnessError)."""
    if not _BY_NAME:
        _collect(HarnessError)
    cls = _BY_NAME.get(data.get("type", ""), HarnessError)
    return cls(data.get("message", "unknown error"))


EXIT_CODES: dict[str, int] = {
    "ok": 0,
    "HarnessError": HarnessError.exit_code,
    "ConfigurationError": ConfigurationError.exit_code,
    "ModelError": ModelError.exit_code,
    "BackendUnavailableError": BackendUnavailableError.exit_code,
    "DeviceError": DeviceError.exit_code,
    "NumericsError": NumericsError.exit_code,
    "TaskNotSupportedError": TaskNotSupportedError.exit_code,
    "WorkloadError": WorkloadError.exit_code,
    "GenerationError": GenerationError.exit_code,
    "CellError": CellError.exit_code,
    "CellTimeoutError": CellTimeoutError.exit_code,
    "StoreError": StoreError.exit_code,
    "WorkerProtocolError": WorkerProtocolError.exit_code,
    "ComparisonError": ComparisonError.exit_code,
    "DispatchError": DispatchError.exit_code,
    "regression found (compare, ab)": 1,
    "gate inconclusive (compare, ab)": GATE_INCONCLUSIVE_EXIT,
    "interrupted": 130,
    "terminated (SIGTERM)": 143,
    "hung up (SIGHUP)": 129,
}
"""Documented exit codes of the CLI (also printed by ``genai-harness --help``)."""
