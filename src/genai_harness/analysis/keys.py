"""What a row measured, as keys and labels: the target (what ran) and the cell (a target on one workload and model).

Every reader (``results``, compare, report, the dispatcher, the runner's progress) groups and names rows the same
way:

- the *target* is what ran: framework, device, environment, execution provider and the numeric settings read back
  from the runtime (precision, threads), so "CPU" reached through three runtimes, or at two precisions, is never one
  group;
- a *cell* is a target on one workload and model (on one machine, where machines are mixed).

Pure functions of one row (a mapping); no pandas, so the CLI start and a run's parent label rows without it.
"""

from __future__ import annotations

import re
from typing import Any

TARGET_COLUMNS: tuple[str, ...] = ("framework", "device", "environment", "execution_provider", "precision", "threads")
"""Columns that together say what was measured (the target key)."""
CELL_COLUMNS: tuple[str, ...] = ("target", "task", "workload_id", "model_id")
"""Columns that identify one cell across runs (add ``machine_fingerprint`` to keep machines apart)."""
TARGET = "target"


def text_value(value: Any) -> str:
    """A cell value as text; ``""`` for None, NaN and pandas' NA (pure)."""
    if value is None:
        return ""
    try:
        if value != value:  # NaN, pd.NA raises TypeError
            return ""
    except TypeError:
        return ""
    return str(value)


def target_label(row: dict[str, Any]) -> str:
    """The target key of one row, readable: ``framework device[@environment] [precision] [xN threads]``.

    An onnxruntime execution provider is part of the device label already (``CPU:OpenVINO``); it is
    added only when the device label does not carry it.
    """
    framework, device = text_value(row.get("framework")), text_value(row.get("device"))
    env = text_value(row.get("environment"))
    label = f"{framework} {device}" + (f"@{env}" if env and env != "default" else "")
    provider = text_value(row.get("execution_provider"))
    short = provider.replace("ExecutionProvider", "")
    if provider.endswith("ExecutionProvider") and short not in device:
        label += f" [{short}]"
    precision = text_value(row.get("precision"))
    if precision:
        label += f" {precision}"
    threads = text_value(row.get("threads"))
    if threads:
        label += f" x{threads}"
    return label


def runtime_note(row: dict[str, Any]) -> str:
    """`` via RUNTIME`` where the runtime that ran a row is not its framework (``openvino.genai`` classifies on
    ``openvino``), else ``""``: shown beside the target, never part of its key, so rows of older stores (no
    ``runtime``) stay in the same group (pure)."""
    runtime, framework = text_value(row.get("runtime")), text_value(row.get("framework"))
    return f" via {runtime}" if runtime and runtime != framework else ""


_SCHEME = re.compile(r"^(?P<precision>(?:u?int|b?float|fp|nf)\d+)\b(?: (?P<sym>a?sym))?"
                     r"(?:, (?P<word>block|group) (?P<size>\d+))?")


def short_weight_precision(text: str) -> str:
    """A ``weight_precision`` label in a table's width: ``int4 asym, block 32 (MatMulNBits), 76% of weights; ...``
    reads ``int4 asym b32``, OpenVINO's ``int4 sym, group 128 (i4)`` reads ``int4 sym g128``; text of another
    form is kept (pure)."""
    match = _SCHEME.match(text or "")
    if not match or not match.group("precision"):
        return text
    parts = [match.group("precision")]
    if match.group("sym"):
        parts.append(match.group("sym"))
    if match.group("size"):
        parts.append(match.group("word")[0] + match.group("size"))
    return " ".join(parts)


CELL_LABEL_COLUMNS: tuple[str, ...] = ("framework", "device", "environment", "workload_id", "model_id")
"""The columns :func:`cell_label` reads."""


def cell_label(row: dict[str, Any]) -> str:
    """A cell's label as the runner prints and plans it: ``framework device[@env] | workload | model``."""
    env = text_value(row.get("environment"))
    where = text_value(row.get("device")) + (f"@{env}" if env and env != "default" else "")
    workload, model = text_value(row.get("workload_id")), text_value(row.get("model_id"))
    return f"{text_value(row.get('framework'))} {where} | {workload} | {model}"
