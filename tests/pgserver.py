"""A real PostgreSQL server for the tests, started on 127.0.0.1 in a temporary folder.

PostgreSQL refuses to run as root, so under root the server runs as the ``postgres``
user (Debian's package creates it) through ``runuser``.  It listens on a free TCP
port with password (SCRAM) authentication, and on a Unix socket in its own folder;
nothing is written outside that folder.  ``S3LITE_TEST_DATABASE_URL`` replaces it
with a server of the user's (``fresh_database`` then creates databases there).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["PostgresServer", "find_bin_dir", "postgres_server"]

ENV_URL = "S3LITE_TEST_DATABASE_URL"


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<n>/bin`` holding ``initdb`` and ``pg_ctl``."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name)
        if Path(path).parent.parent.name.isdigit()
        else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    """A running server: its admin URL (a superuser, the ``postgres`` database)."""

    url: str

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server."""
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def admin(self, sql: str) -> None:
        """Run one statement as the admin user, outside a transaction."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.encode())

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new, empty database for one test; dropped afterwards."""
        name = f"s3lite_test_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"')
        try:
            yield self.database_url(name)
        finally:
            self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """The server named by ``$S3LITE_TEST_DATABASE_URL``, or one started here."""
    url = os.environ.get(ENV_URL)
    if url:
        yield PostgresServer(url)
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL is not installed (no initdb): run scripts/install-postgres, "
            f"or set ${ENV_URL}"
        )
    root = Path(tempfile.mkdtemp(prefix="s3lite-pg-"))
    data, password = root / "data", secrets.token_urlsafe(18)
    (root / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(root / "pwfile", "postgres")
    port = _free_port()
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "s3lite_admin",
                    "--auth=scram-sha-256",
                    f"--pwfile={root / 'pwfile'}",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(root / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        try:
            yield PostgresServer(f"postgresql://s3lite_admin:{password}@127.0.0.1:{port}/postgres")
        finally:
            subprocess.run(
                _as_server_user(
                    [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
            )
    except subprocess.CalledProcessError as error:
        log = root / "server.log"
        detail = log.read_text() if log.exists() else ""
        raise RuntimeError(
            f"PostgreSQL did not start: {error.stderr.decode(errors='replace')}{detail}"
        ) from error
    finally:
        shutil.rmtree(root, ignore_errors=True)
