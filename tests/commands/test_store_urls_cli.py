"""A store URL works wherever a store is taken, and no message shows its password (issue 24, item 6).

Real CLI subprocesses against a real PostgreSQL 15 server started for this module (tests/support/postgres.py),
its rows written by real runs of the fake backend; the URL carries the lab user's password, over TCP, as a lab
machine would use it.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from support import FakeWorkspace, assert_one_error_line, clean_env, run_cli, run_fake_cli
from support.postgres import LAB_PASSWORD, PostgresServer, available

from genai_harness.results.store import load_results

if available() is not None:
    pytest.skip(f"no PostgreSQL here: {available()}", allow_module_level=True)

MASKED = "lab:***@"


@pytest.fixture(scope="module")
def lab(server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, list[str]]:
    """A PostgreSQL store holding two real runs of the fake backend: (its URL with the password, the workspace,
    the run ids in order)."""
    url = server.tcp_url(server.new_database())
    ws = FakeWorkspace(tmp_path_factory.mktemp("lab"))
    ws.workload("w", repetitions=3)
    suite = ws.suite("s", [("w", ["fake-ok"])])
    for _ in range(2):
        proc = run_fake_cli("run", "--suite", suite, "--framework", "fake", "--device", "CPU", "--store", url,
                            cwd=ws.root)
        assert proc.returncode == 0, proc.stderr
    runs = list(dict.fromkeys(load_results(url, columns=["run_id"])["run_id"]))
    assert len(runs) == 2
    return url, ws.root, runs


def _no_secret(proc: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in (LAB_PASSWORD, *secrets):
        assert secret not in proc.stdout + proc.stderr, (proc.stdout, proc.stderr)


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stderr
    assert "a URL, not a file" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    _no_secret(proc)
    return proc


def test_results_lists_summarizes_and_exports_a_url_store(lab: tuple[str, Path, list[str]]) -> None:
    url, root, runs = lab
    for env in (clean_env(), clean_env(GENAI_HARNESS_STORE=url)):
        store = ["--store", url] if "GENAI_HARNESS_STORE" not in env else []
        listing = _ok(run_cli("results", *store, cwd=root, env=env))
        for run in runs:
            assert run in listing.stdout
        assert listing.stdout.count("complete") == 2, listing.stdout
        last = _ok(run_cli("results", *store, "--run", "last", cwd=root, env=env))
        assert "fake-ok" in last.stdout and "not measured" not in last.stdout
        csv = root / "last.csv"
        _ok(run_cli("results", *store, "--run", "last", "--export", csv, cwd=root, env=env))
        exported = pd.read_csv(csv)
        assert set(exported["run_id"]) == {runs[-1]} and len(exported) == 3
        assert set(exported["source_store"]) == {url.replace(LAB_PASSWORD, "***")}
        parquet = root / "all.parquet"
        _ok(run_cli("results", *store, "--export", parquet, cwd=root, env=env))
        assert sorted(pd.read_parquet(parquet)["run_id"].unique()) == sorted(runs)
        assert LAB_PASSWORD not in csv.read_text() and LAB_PASSWORD.encode() not in parquet.read_bytes()


def test_report_compare_and_pick_take_a_url_and_the_environment_variable(lab: tuple[str, Path, list[str]]) -> None:
    url, root, (first, second) = lab
    env = clean_env(GENAI_HARNESS_STORE=url)
    for out, args, environment in (("by-option", ["--store", url], clean_env()), ("by-env", [], env)):
        proc = _ok(run_cli("report", *args, "--out", root / out, cwd=root, env=environment))
        page = (root / out / "report.html").read_text()
        assert proc.stdout.strip() == str(root / out / "report.html")
        assert first in page and second in page and LAB_PASSWORD not in page
    with_run = _ok(run_cli("report", "--store", url, "--run", first, "--baseline", f"@{second}", "--out",
                           root / "with-baseline", cwd=root))
    assert "with-baseline" in with_run.stdout
    compared = run_cli("compare", f"{url}@{first}", f"@{second}", "--json", cwd=root)
    assert compared.returncode == 16, compared.stderr  # one run a side: inconclusive, never a silent pass
    _no_secret(compared)
    assert {row["metric"] for row in json.loads(compared.stdout)}
    by_env = run_cli("compare", f"@{first}", f"@{second}", "--json", cwd=root, env=env)
    assert by_env.returncode == compared.returncode, by_env.stderr
    assert json.loads(by_env.stdout) == json.loads(compared.stdout)
    picked = _ok(run_fake_cli("pick", "--task", "text2text", "--model", "fake-ok", "--objective", "ttft",
                              "--store", url, "--json", cwd=root))
    assert json.loads(picked.stdout)["winner"]["target"].startswith("fake CPU")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("case", ["wrong password", "unreachable", "no such database", "malformed"])
def test_no_command_shows_the_password_of_a_bad_url(case: str, server: PostgresServer, tmp_path: Path) -> None:
    secret = "Sup3r-Secret-pw"
    url = {
        "wrong password": server.tcp_url("postgres", password=secret),
        "unreachable": f"postgresql://lab:{secret}@127.0.0.1:{_closed_port()}/db",
        "no such database": server.tcp_url("no_such_db", password=LAB_PASSWORD).replace(LAB_PASSWORD, secret),
        "malformed": f"postgresql://lab:{secret}@127.0.0.1:notaport/db",
    }[case]
    commands = [
        ("results", "--store", url), ("results", "--store", url, "--run", "last"),
        ("results", "--store", url, "--export", tmp_path / "x.parquet"),
        ("report", "--store", url, "--out", tmp_path / "r"), ("compare", url, f"{url}@last"),
        ("pick", "--task", "text2text", "--model", "tiny-llm", "--objective", "ttft", "--store", url),
    ]
    for command in commands:
        proc = run_cli(*command, cwd=tmp_path)
        line = assert_one_error_line(proc)
        _no_secret(proc, secret)
        assert "results store" in line or "postgresql" in line, line
    by_env = run_cli("report", "--out", tmp_path / "r", cwd=tmp_path, env=clean_env(GENAI_HARNESS_STORE=url))
    assert_one_error_line(by_env)
    _no_secret(by_env, secret)
    assert not (tmp_path / "x.parquet").exists() and not (tmp_path / "r" / "report.html").exists()
