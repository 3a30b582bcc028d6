"""The dialect-neutral results store: every store is a :class:`SQLStore` over a backend's DB-API connection.

Its parts, each in its own module: what a backend gives (:mod:`.dialect`), the normalized layout and a
row's identity (:mod:`.layout`), writing rows (:mod:`.writing`), reading them back (:mod:`.reading`),
and creating, checking and upgrading the tables (:mod:`.migrations`). SQLite and PostgreSQL subclass it
(:mod:`.sqlite`, :mod:`.postgres`), so both behave the same.
"""

from __future__ import annotations

from genai_harness.results.stores.migrations import Migrator
from genai_harness.results.stores.reading import RowReader


class SQLStore(Migrator, RowReader):
    """The store logic over a DB-API backend; subclasses give the connection and the dialect.

    Public surface (every reader and writer of the project uses only this): ``schema_version``,
    ``location``, :meth:`meta`, :meth:`count`, :meth:`append`, :meth:`check_writable`, :meth:`read`,
    :meth:`iter_frames`, :meth:`iter_records`, :meth:`merge_from`, :meth:`record_plan`, :meth:`planned_cells`,
    :meth:`planned_runs`.
    """

    def check_writable(self) -> None:
        """Raise :class:`~genai_harness.errors.StoreError` unless a row could be written now."""
        raise NotImplementedError
