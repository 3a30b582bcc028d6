"""Where onnxruntime placed a model's nodes: the runtime's own report, read from its verbose session log.

onnxruntime has no API for node placement; at verbose log level its session prints, per execution provider,
``Node(s) placed on [EP]. Number of nodes: N`` followed by one line per node (``OpType (node name)``). An EP that
compiles subgraphs (OpenVINO, QNN ...) shows each fused subgraph as one node; the nodes left on the CPU EP are the
model's own. So the share of the model the EP took is ``1 - nodes on CPU / nodes in the model`` and what fell
back is named by op type. :func:`probe_placement` creates one session with verbose logging, its C++ log caught
through file descriptor 2; the plain-onnxruntime text backend (or a probe) records the result as ``ep_node_share``
and ``ep_fallback``.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CPU_EP = "CPUExecutionProvider"
_PLACED = re.compile(r"Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)")
_NODE = re.compile(r"VerifyEachNodeIsAssignedToAnEp\]\s{2,}(\S+) \(")
_ALL = re.compile(r"All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)")


@dataclass(frozen=True)
class Placement:
    """Nodes per execution provider after partitioning, and the op types of the nodes left on the CPU EP."""

    nodes: dict[str, int] = field(default_factory=dict)
    cpu_ops: dict[str, int] = field(default_factory=dict)

    def share(self, model_nodes: int | None, ep: str) -> float | None:
        """The share of the model's ``model_nodes`` that ``ep`` took (None when the log said nothing)."""
        if not self.nodes or (ep not in self.nodes and CPU_EP not in self.nodes):
            return None
        if ep == CPU_EP:
            return 1.0
        if not model_nodes:
            return None
        return max(0.0, 1.0 - self.nodes.get(CPU_EP, 0) / model_nodes)

    def fallback(self, ep: str) -> str | None:
        """What fell back to the CPU EP, by op type (``none`` when nothing did), for an EP other than CPU."""
        if ep == CPU_EP or not self.nodes:
            return None
        if not self.nodes.get(CPU_EP):
            return "none"
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(self.cpu_ops.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"{self.nodes[CPU_EP]} node(s) on {CPU_EP}: {ops}"


def parse_placement(log: str) -> Placement:
    """The placement onnxruntime's verbose session log reports (pure)."""
    nodes: dict[str, int] = {}
    cpu_ops: Counter[str] = Counter()
    current = None
    for line in log.splitlines():
        placed = _PLACED.search(line) or _ALL.search(line)
        if placed:
            current = placed.group(1)
            nodes[current] = nodes.get(current, 0) + int(placed.group(2))
            continue
        elif "VerifyEachNodeIsAssignedToAnEp]" in line:
            node = _NODE.search(line)
            if node and current == CPU_EP:
                cpu_ops[node.group(1)] += 1
        else:
            current = None
    return Placement(nodes, dict(cpu_ops))


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    saved = os.dup(2)
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def probe_placement(model: Path, providers: list[Any], provider_options: list[dict] | None = None) -> Placement:
    """Create one verbose session of ``model`` and return where its nodes went; the runtime's exception (its own
    words) propagates when it refuses the model."""
    # lazy: onnxruntime is an optional runtime; this module loads without it
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 0
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "ort.log"
        with _stderr_to(log):
            ort.InferenceSession(str(model), options, providers=providers, provider_options=provider_options)
        return parse_placement(log.read_text(errors="replace"))


def create_placed_session(model: str, options: Any, providers: Any) -> tuple[Any, Placement]:
    """An onnxruntime session created at verbose log level, its log caught, and where its nodes went; the
    options' log level is restored afterwards (the session keeps the one it was created with)."""
    # lazy: onnxruntime is an optional runtime; this module loads without it
    import onnxruntime as ort

    level = options.log_severity_level
    options.log_severity_level = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "ort.log"
            with _stderr_to(log):
                session = ort.InferenceSession(model, sess_options=options, providers=providers)
            return session, parse_placement(log.read_text(errors="replace"))
    finally:
        options.log_severity_level = level


def ep_placement_columns(details: dict[str, Any], model_nodes: int | None, ep: str | None) -> dict[str, Any]:
    """``ep_node_share`` and ``ep_fallback`` from a cell's numerics details (``ep_nodes``, ``ep_cpu_ops``, written
    at session creation) and the model's node count from its census; both None where nothing was reported (pure)."""
    nodes = details.get("ep_nodes") if isinstance(details, dict) else None
    if not isinstance(nodes, dict) or not nodes or not ep:
        return {"ep_node_share": None, "ep_fallback": None}
    placement = Placement({str(k): int(v) for k, v in nodes.items()},
                          {str(k): int(v) for k, v in dict(details.get("ep_cpu_ops") or {}).items()})
    return {"ep_node_share": placement.share(model_nodes, ep), "ep_fallback": placement.fallback(ep)}
