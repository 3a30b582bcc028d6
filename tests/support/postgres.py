"""A throwaway PostgreSQL 15 server for tests and benchmarks: its own data folder, a Unix socket, stopped after.

Debian's server binaries are in /usr/lib/postgresql/15/bin (``.ci/run`` installs them when absent). As root
the server runs as the ``postgres`` system user, as PostgreSQL requires. Local socket connections are
trusted; TCP on 127.0.0.1 needs a password (for the wrong-credentials tests).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

PG_BIN = Path(os.environ.get("GENAI_HARNESS_PG_BIN", "/usr/lib/postgresql/15/bin"))
LAB_USER, LAB_PASSWORD = "lab", "s3cret-Pa55word"


def available() -> str | None:
    """None when a server can be started here, else why not."""
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL server binaries in {PG_BIN} (apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A running server; :meth:`url` gives a fresh database's URL; :meth:`stop` ends it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="genai-harness-pg-"))
        self.data, self.sockets = self.root / "data", self.root / "sock"
        self.sockets.mkdir()
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockets, "postgres")
            os.chmod(self.root, 0o755)
        self._pg("initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                 "-E", "UTF8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.sockets}'\nfsync = off\nmax_connections = 100\n")
        self.start()
        self.sql(f"CREATE USER {LAB_USER} PASSWORD '{LAB_PASSWORD}' CREATEDB")

    def _pg(self, tool: str, *args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(PG_BIN / tool), *map(str, args)]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        self._pg("pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` cuts connections at once, as a crash would)."""
        self._pg("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        """A libpq URI reaching ``database`` over the Unix socket."""
        return f"postgresql://{user}@/{database}?host={self.sockets}&port={self.port}"

    def tcp_url(self, database: str, password: str = LAB_PASSWORD) -> str:
        """A URI over TCP with the lab user's password (what a lab machine would use)."""
        return f"postgresql://{LAB_USER}:{password}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str) -> None:
        """Run one statement as the superuser in the ``postgres`` database."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self) -> str:
        """Create an empty database owned by the lab user; return its name."""
        name = f"db_{uuid.uuid4().hex[:10]}"
        self.sql(f"CREATE DATABASE {name} OWNER {LAB_USER}")
        return name

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
