"""The SQLite backend of the storage database (the embedded default).

Rules of this module:
- One connection per ``FileStorage``, used only from worker threads, one call at a
  time (a capacity limiter of 1): sqlite3 never runs on the event loop and is never
  used by two threads at once.
- Writes use ``BEGIN IMMEDIATE``: one writer at a time across every process sharing
  the file, so a transaction's reads cannot be raced and rows need no locks.
- WAL mode and a busy timeout let several processes of one host share the file.
- The schema version is SQLite's ``user_version``.
- sqlite3 errors become ``StorageDatabaseError`` here, and only here.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.to_thread

from ._database import Connection
from ._errors import StorageDatabaseError
from ._schema import SCHEMA_VERSION, upgrade_statements

__all__ = ["SqliteDatabase"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

BUSY_TIMEOUT_SECONDS = 30.0


class _SqliteConnection:
    """A ``Connection`` over one sqlite3 connection."""

    skip_locked = ""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def now(self) -> datetime:
        return datetime.now(UTC)


def _connect(path: str) -> _SqliteConnection:
    raw = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    conn = _SqliteConnection(raw)
    try:
        raw.row_factory = sqlite3.Row
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        with conn.transaction():
            version = int(raw.execute("PRAGMA user_version").fetchone()[0])
            for statement in upgrade_statements(version, "sqlite"):
                raw.execute(statement)
            raw.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        raw.close()
        raise
    return conn


class SqliteDatabase:
    """A SQLite file, opened in a worker thread and used one call at a time."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.name = os.fspath(path)
        self._conn: _SqliteConnection | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    async def open(self) -> None:
        """Open (creating the file and its tables if needed)."""
        self._limiter = anyio.CapacityLimiter(1)
        try:
            self._conn = await anyio.to_thread.run_sync(_connect, self.name, limiter=self._limiter)
        except (sqlite3.Error, StorageDatabaseError) as error:
            raise StorageDatabaseError(
                f"cannot open storage database {self.name!r}: {error}"
            ) from error

    async def run(self, fn: Callable[[Connection, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(conn, *args)`` in the database's worker thread."""
        if self._conn is None or self._limiter is None:
            raise RuntimeError("the storage database is not open")
        conn = self._conn
        try:
            return await anyio.to_thread.run_sync(lambda: fn(conn, *args), limiter=self._limiter)
        except sqlite3.Error as error:
            raise StorageDatabaseError(f"storage database {self.name!r}: {error}") from error

    async def aclose(self) -> None:
        """Close the connection; safe to call more than once."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(conn.raw.close, limiter=self._limiter)
