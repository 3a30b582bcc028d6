"""Progress lines for a run: cells done, the current cell and the time left (to stderr)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Line-based progress; the time left is the mean cell time so far times the cells left."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()

    def _eta(self) -> str:
        if not self.done:
            return "time left: estimating"
        per_cell = (time.monotonic() - self.started) / self.done
        left = per_cell * (self.total - self.done)
        return f"~{int(left // 60)}:{int(left % 60):02d} left"

    def start(self, label: str) -> None:
        """A cell begins."""
        if self.enabled:
            print(f"[{self.done + 1}/{self.total}] {label} ... ({self._eta()})", file=self.stream, flush=True)

    def finish(self, status: str, seconds: float, detail: str = "") -> None:
        """The current cell ended."""
        self.done += 1
        if self.enabled:
            extra = f": {detail}" if detail else ""
            print(f"    {status} in {seconds:.1f} s{extra}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """Any other line."""
        if self.enabled:
            print(text, file=self.stream, flush=True)
