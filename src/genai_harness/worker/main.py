"""The worker's request loop: read the request file, answer it with the op's handler, write the response file.

Started by :mod:`genai_harness.runner.launcher` as ``python -m genai_harness.worker REQUEST.json RESPONSE.json``.
It imports only the standard library, numpy and the runtime a request needs, so it runs in a bare venv that holds
just one runtime (onnxruntime-openvino, say).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genai_harness.backends.registry import register_specs
from genai_harness.host.ep_libraries import apply_worker_settings
from genai_harness.host.memory import own_peak_rss_mb
from genai_harness.worker.cell import run_cell
from genai_harness.worker.direct import run_direct
from genai_harness.worker.inventory import run_inventory
from genai_harness.worker.load import run_load
from genai_harness.worker.operator_batch import run_batch
from genai_harness.worker.protocol import (
    CellRequest,
    CellRoundsRequest,
    DirectRequest,
    ErrorReply,
    InventoryRequest,
    LoadRequest,
    OperatorBatchRequest,
    WorkerReply,
    decode_request,
    encode_reply,
)
from genai_harness.worker.protocol.envelope import ep_library_settings
from genai_harness.worker.rounds import run_cell_rounds

Handler = Callable[[Any], WorkerReply]

HANDLERS: dict[str, Handler] = {InventoryRequest.OP: run_inventory, CellRequest.OP: run_cell,
                                DirectRequest.OP: run_direct, OperatorBatchRequest.OP: run_batch,
                                LoadRequest.OP: run_load, CellRoundsRequest.OP: run_cell_rounds}
"""The handler of each op: it takes the op's request and returns its reply."""


def handle(data: Any) -> WorkerReply:
    """Answer one request file's content; every error becomes an :class:`ErrorReply`."""
    try:
        request, backend_specs = decode_request(data)
        register_specs(backend_specs)
        apply_worker_settings(ep_library_settings(data))
        return HANDLERS[request.OP](request)
    except Exception as exc:
        return ErrorReply.of(exc)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies, so a killed runner leaves no orphan."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def end_now(code: int) -> None:
    """End this process with ``code`` without Python's teardown, once Python's and C's buffered output is out (a
    runtime's native messages go to the same file as stderr)."""
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point: read the request file, write the response file (atomically) with this process's peak RSS."""
    die_with_parent()
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m genai_harness.worker REQUEST.json RESPONSE.json", file=sys.stderr)
        return 2
    reply = handle(json.loads(Path(args[0]).read_text()))
    if reply.peak_rss_mb is None:  # a cell that checked itself against a reference gave its peak from before that
        reply.peak_rss_mb = own_peak_rss_mb()
    tmp = Path(args[1] + ".tmp")
    tmp.write_text(json.dumps(encode_reply(reply), default=str))
    tmp.replace(args[1])
    return 0
