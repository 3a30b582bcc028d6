"""The store a run writes to, opened through the one door (:func:`genai_harness.results.store.open_for_writing`):
upgraded in place when only nullable columns are new, refused when older or not writable, before any cell runs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from support.stores import cell_rows, immutable, make_v0_store, make_v3_store

from genai_harness.errors import SchemaVersionError, StoreError
from genai_harness.results.schema import SCHEMA_VERSION
from genai_harness.results.store import ResultStore, open_for_writing


def test_a_new_store_is_created_and_nothing_is_said(tmp_path: Path) -> None:
    said = io.StringIO()
    store = open_for_writing(tmp_path / "new" / "s.sqlite", out=said)
    assert store.schema_version == SCHEMA_VERSION and store.count() == 0
    assert said.getvalue() == ""


def test_the_default_store_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_HARNESS_STORE", str(tmp_path / "env.sqlite"))
    store = open_for_writing(None, out=io.StringIO())
    assert Path(store.location) == tmp_path / "env.sqlite"


def test_a_schema_3_store_is_upgraded_in_place_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite"
    make_v3_store(path, cell_rows(run_id="r3"))
    said = io.StringIO()
    store = open_for_writing(path, out=said)
    assert said.getvalue() == (f"genai-harness: upgraded results store {path} from schema version 3 to "
                               f"{SCHEMA_VERSION} (new columns, null for the rows already there)\n")
    assert store.schema_version == SCHEMA_VERSION and store.count() == 3
    assert ResultStore(path, create=False).schema_version == SCHEMA_VERSION


def test_an_older_store_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "v0.sqlite"
    make_v0_store(path)
    with pytest.raises(SchemaVersionError) as info:
        open_for_writing(path, out=io.StringIO())
    assert str(info.value) == (
        f"results store {path} has schema version 0, older than version {SCHEMA_VERSION} this genai-harness "
        f"writes; nothing was run. Write to a new store (--store PATH) or upgrade this one in place with "
        f"`genai-harness results --store {path} --migrate`")
    assert ResultStore(path, create=False).schema_version == 0


def test_a_store_that_cannot_take_a_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    ResultStore(path).append(cell_rows())
    with immutable(path), pytest.raises(StoreError, match="cannot be written"):
        open_for_writing(path, out=io.StringIO())
