"""Naming a set of results on the command line: ``STORE``, ``STORE@RUN_ID``, ``STORE@last`` or ``@RUN_ID``.

``compare``, ``report`` and the pytest plugin name the rows they read this way; the filter they add
(framework, device, model ...) runs inside the store's query.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genai_harness.errors import StoreError
from genai_harness.results.query import ALL_ROWS, ResultFilter
from genai_harness.results.store import SQLStore, mask_url, open_store, parse_store

if TYPE_CHECKING:
    import pandas as pd

LAST = "last"


@dataclass(frozen=True)
class Selection:
    """A store and, optionally, one run in it (``last`` = the most recent run)."""

    store: Path | str
    """A .sqlite path or a postgresql:// URL (as :func:`~genai_harness.results.store.parse_store` gives it)."""
    run: str | None = None

    @property
    def label(self) -> str:
        """How the selection was named, for messages and reports."""
        store = mask_url(str(self.store))
        return f"{store}@{self.run}" if self.run else store

    @classmethod
    def parse(cls, spec: str, default_store: Path | str | None = None) -> Selection:
        """``STORE``, ``STORE@RUN``, ``STORE@last``, or ``@RUN`` (in ``default_store``, else the default store)."""
        text = spec.strip()
        if not text:
            raise StoreError("an empty result selection; give STORE, STORE@RUN_ID, STORE@last or @RUN_ID")
        path, sep, run = text.rpartition("@")
        if not sep or "/" in run or ":" in run:  # no '@', or the '@' of a URL's user part
            path, sep, run = text, "", ""
        if sep and not run:
            raise StoreError(f"result selection {spec!r} names no run after '@'; give STORE@RUN_ID or STORE@last")
        return cls(parse_store(path or default_store), run or None)

    def open(self) -> SQLStore:
        """The store, which must exist."""
        return open_store(self.store, create=False)

    def load(self, filter: ResultFilter = ALL_ROWS, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The selected rows (``filter`` applied in the query; ``columns`` only, default all); a missing run
        is a :class:`StoreError`."""
        store = self.open()
        if self.run is None:
            return store.read(filter, columns=columns)
        run = self.run
        if run == LAST:
            runs = store.read(filter, columns=["run_id"])["run_id"]
            if not len(runs):
                shown = mask_url(str(self.store))
                raise StoreError(f"no run in {shown} matches; `genai-harness results --store {shown}` "
                                 "lists the runs")
            run = str(runs.iloc[-1])
        frame = store.read(dataclasses.replace(filter, run_ids=(run,)), columns=columns)
        if not len(frame):
            raise StoreError(f"no run {run!r} in {mask_url(str(self.store))} (or none of its rows match the filter); "
                             f"`genai-harness results --store {mask_url(str(self.store))}` lists the runs")
        return frame
