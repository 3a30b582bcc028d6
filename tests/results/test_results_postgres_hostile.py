"""A PostgreSQL database is data, as an SQLite file is: what the harness never creates is refused before anything
is read or written, and ``GENAI_HARNESS_STORE_TIMEOUT_S`` bounds the server's work (a real PostgreSQL 15)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from support import assert_one_error_line, clean_env, run_cli
from support.postgres import PostgresServer, available
from support.stores import cell_rows

from genai_harness.errors import StoreError
from genai_harness.results.store import load_results
from genai_harness.results.stores.guard import DEADLINE_ENV
from genai_harness.results.stores.postgres import PostgresStore

if available() is not None:
    pytest.skip(f"no PostgreSQL here: {available()}", allow_module_level=True)

TRIGGER = """CREATE FUNCTION stamp() RETURNS trigger AS $$ BEGIN NEW.hostname := 'x'; RETURN NEW; END $$
LANGUAGE plpgsql; CREATE TRIGGER stamp BEFORE INSERT ON results FOR EACH ROW EXECUTE FUNCTION stamp()"""


@pytest.fixture
def url(server: PostgresServer) -> str:
    url = server.url(server.new_database())
    PostgresStore(url).append(cell_rows(1))
    return url


def _execute(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.mark.parametrize("statement, named", [
    (TRIGGER, "trigger 'stamp' on results"),
    ("CREATE RULE keep AS ON INSERT TO cells DO INSTEAD NOTHING", "rule 'keep' on cells"),
    ("ALTER TABLE results ADD COLUMN twice DOUBLE PRECISION GENERATED ALWAYS AS (ttft_ms * 2) STORED",
     "generated column results.twice"),
])
def test_a_database_with_objects_the_harness_never_creates_is_refused(url: str, statement: str, named: str,
                                                                      tmp_path: Path) -> None:
    _execute(url, statement)
    with pytest.raises(StoreError, match="never creates") as caught:
        PostgresStore(url)
    assert named in str(caught.value)
    proc = run_cli("results", "--store", url, cwd=tmp_path)
    line = assert_one_error_line(proc, exit_code=11)
    assert named in line and "postgres@" not in line.split("never creates")[1]


def test_a_view_in_place_of_the_results_table_is_refused(server: PostgresServer) -> None:
    url = server.url(server.new_database())
    _execute(url, "CREATE VIEW results AS SELECT 1 AS id")
    with pytest.raises(StoreError, match="view 'results'"):
        PostgresStore(url)


def test_the_deadline_becomes_the_servers_statement_timeout(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEADLINE_ENV, "0.2")
    store = PostgresStore(url)
    with pytest.raises(StoreError, match=f"stopped after 0.2 s \\({DEADLINE_ENV}\\)"), store._connect() as conn:
        conn.execute("SELECT pg_sleep(5)")
    monkeypatch.delenv(DEADLINE_ENV)
    assert len(load_results(url)) == len(cell_rows(1))


def test_a_clean_store_still_opens_under_a_deadline(url: str, tmp_path: Path) -> None:
    proc = run_cli("results", "--store", url, cwd=tmp_path, env=clean_env(**{DEADLINE_ENV: "30"}))
    assert proc.returncode == 0, proc.stderr
