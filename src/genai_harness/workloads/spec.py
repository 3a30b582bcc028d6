"""Workload specifications: TOML files with an id, a version, a task, its input and how to repeat it.

A text workload::

    id = "chat-p128-g64"
    version = 1
    task = "text2text"
    description = "short chat turn"
    [input]
    prompt_tokens = 128       # cut from the bundled corpus with the model's own tokenizer
    new_tokens = 64           # forced: every backend generates exactly this many
    [run]
    warmup = 1
    repetitions = 3           # or min_time_s = 10 (repeat until this much measuring time)
    timeout_s = 300
    precision = "f32"         # optional: default (what the runtime picks) | f32 | bf16 | f16 | int8
    threads = 4               # optional: compute threads (absent: the runtime's default)
    reference = true          # optional: compare each cell with the f32 CPU reference of the same model

The command line's and the Python API's ``precision``/``threads`` override the workload's.

Text-to-image ``[input]``: prompt, width, height, steps, guidance_scale, seed.
Classification ``[input]``: batch_size.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genai_harness.backends.numerics import PRECISIONS
from genai_harness.errors import WorkloadError
from genai_harness.interface.tasks import ALL_TASKS
from genai_harness.tasks.base import OPTIONAL, REQUIRED, InputField
from genai_harness.tasks.registry import TASK_KINDS, task_kind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TASKS = ALL_TASKS

INPUT_FIELDS: dict[str, Mapping[str, InputField]] = {task: kind.inputs for task, kind in TASK_KINDS.items()}
"""Per task, the ``[input]`` fields its :class:`~genai_harness.tasks.base.TaskKind` declares."""
MAX_REPETITIONS = 10_000
"""The most repetitions a cell measures (also the cap of a ``min_time_s`` loop)."""
HIGHEST: dict[str, float] = {
    "repetitions": MAX_REPETITIONS, "warmup": 1_000, "timeout_s": 7 * 24 * 3600.0, "min_time_s": 24 * 3600.0,
    **{name: high for kind in TASK_KINDS.values() for name, high in kind.highest.items()},
}
"""Highest allowed value per field: beyond it a value is refused, never silently cut."""
MAX_FILE_BYTES = 1024 * 1024
"""A workload or suite file larger than this is refused (they are a few lines)."""
RUN_FIELDS: dict[str, tuple[type, Any, float | None]] = {
    "warmup": (int, 1, 0), "repetitions": (int, 3, 1), "min_time_s": (float, 0.0, 0),
    "timeout_s": (float, 300.0, 1), "precision": (str, "default", None), "threads": (int, 0, 0),
    "reference": (bool, False, None),
}


@dataclass(frozen=True)
class Workload:
    """One standardized workload."""

    id: str
    version: int
    task: str
    inputs: dict[str, Any]
    warmup: int = 1
    repetitions: int = 3
    min_time_s: float = 0.0
    timeout_s: float = 300.0
    description: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    precision: str = "default"
    threads: int | None = None
    reference: bool = False

    @property
    def hash(self) -> str:
        """Hash of everything that defines the measurement (not the description or source).

        Numerics requests count only when set, so the hash of a workload without them is unchanged.
        """
        key = {"id": self.id, "version": self.version, "task": self.task, "inputs": self.inputs,
               "warmup": self.warmup, "repetitions": self.repetitions, "min_time_s": self.min_time_s}
        if self.precision != "default":
            key["precision"] = self.precision
        if self.threads is not None:
            key["threads"] = self.threads
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (sent to the worker)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workload:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _check(value: Any, kind: type, low: float | None, where: str, name: str) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise WorkloadError(f"{where}: field {name!r} must be true or false, got {value!r}; fix the value")
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise WorkloadError(f"{where}: field {name!r} must be {kind.__name__}, got {value!r}; fix the value")
    if kind is float and not math.isfinite(value):  # nan would pass every bound (a nan timeout never fires)
        raise WorkloadError(f"{where}: field {name!r} must be a finite number, got {value!r}")
    if low is not None and value < low:
        raise WorkloadError(f"{where}: field {name!r} must be at least {low:g}, got {value!r}")
    high = HIGHEST.get(name)
    if high is not None and kind in (int, float) and value > high:
        raise WorkloadError(f"{where}: field {name!r} must be at most {high:g}, got {value!r}")
    return value


def _fields(table: dict[str, Any], spec: dict[str, tuple[type, Any, float | None]], where: str) -> dict[str, Any]:
    unknown = sorted(set(table) - set(spec))
    if unknown:
        raise WorkloadError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(spec)}")
    out = {}
    for name, (kind, default, low) in spec.items():
        if name not in table:
            if default is REQUIRED:
                raise WorkloadError(f"{where}: required field {name!r} is missing; add {name} = <{kind.__name__}>")
            if default is not OPTIONAL:
                out[name] = default
        else:
            out[name] = _check(table[name], kind, low, where, name)
    return out


def parse_workload(data: dict[str, Any], source: str) -> Workload:
    """Validate a parsed TOML document; every problem names the file, the field and the fix."""
    for name, kind in (("id", str), ("version", int), ("task", str)):
        if name not in data:
            raise WorkloadError(f"{source}: required field {name!r} is missing; add {name} = <{kind.__name__}>")
        _check(data[name], kind, None, source, name)
    if data["task"] not in TASKS:
        raise WorkloadError(f"{source}: field 'task' is {data['task']!r}; use one of {', '.join(TASKS)}")
    top_level = ("id", "version", "task", "description", "input", "run", "extra")
    unknown = sorted(set(data) - set(top_level))
    if unknown:
        raise WorkloadError(f"{source}: unknown top-level field(s) {', '.join(unknown)}; "
                            f"allowed: {', '.join(top_level)}")
    for table in ("input", "run", "extra"):
        if not isinstance(data.get(table, {}), dict):
            raise WorkloadError(f"{source}: [{table}] must be a table")
    inputs = _fields(data.get("input", {}), INPUT_FIELDS[data["task"]], f"{source} [input]")
    run = _fields(data.get("run", {}), RUN_FIELDS, f"{source} [run]")
    if run["precision"] not in PRECISIONS:
        raise WorkloadError(f"{source} [run]: field 'precision' is {run['precision']!r}; use one of "
                            f"{', '.join(PRECISIONS)}")
    task_kind(data["task"]).check_inputs(inputs, f"{source} [input]")
    return Workload(
        id=data["id"], version=data["version"], task=data["task"], inputs=inputs,
        warmup=run["warmup"], repetitions=run["repetitions"], min_time_s=run["min_time_s"],
        timeout_s=run["timeout_s"], description=str(data.get("description", "")), source=source,
        extra=dict(data.get("extra", {})), precision=run["precision"], threads=run["threads"] or None,
        reference=run["reference"],
    )


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A workload or suite file as parsed TOML; every way it can be unreadable is a one-line WorkloadError."""
    try:
        if path.is_dir():
            raise WorkloadError(f"{what} {path} is a folder; give a .toml file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise WorkloadError(f"{what} {path} is larger than {MAX_FILE_BYTES // 1024} KiB; "
                                "a workload or suite file is a few lines of TOML")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise WorkloadError(f"{what} {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise WorkloadError(f"{what} {path} is not UTF-8 text (byte {exc.start}); "
                            "save it as UTF-8 TOML") from None
    except OSError as exc:
        raise WorkloadError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorkloadError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    except ValueError:  # Python refuses to read an integer of more than 4300 digits
        raise WorkloadError(f"{path}: holds a number too long to read; no field of a {what} needs one") from None
    except RecursionError:
        raise WorkloadError(f"{path}: nested too deeply to be a {what}; fix the file") from None


def load_workload(path: Path) -> Workload:
    """Read and validate one workload TOML file."""
    return parse_workload(read_toml(path, "workload file"), str(path))
