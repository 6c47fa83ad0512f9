"""The one SQLite database of a ``FileStorage``: connection, schema, transactions.

Rules of this module:
- One connection per ``FileStorage``, used only from worker threads, one call at a
  time (a capacity limiter of 1): sqlite3 never runs on the event loop and is never
  used by two threads at once.
- A call is a plain function ``fn(conn, *args)`` that runs whole in the worker; a
  transaction never spans two calls.  Writes use ``BEGIN IMMEDIATE``.
- WAL mode and a busy timeout let several processes share the file.
- sqlite3 errors become ``StorageDatabaseError`` here, and only here.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.to_thread

from ._errors import StorageDatabaseError
from ._models import FILE_STATES, STORAGE_CODES

__all__ = ["SCHEMA_VERSION", "Database", "transaction"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 30.0


def _sql_list(values: tuple[str, ...]) -> str:
    """``'a', 'b'``: SQL string literals of plain identifiers (checked, not escaped)."""
    assert all(value.isidentifier() for value in values)
    return ", ".join(f"'{value}'" for value in values)


# Tables.  Timestamps are ISO 8601 UTC text with microseconds (they sort as text).
_SCHEMA = """
-- Persisted settings (ActiveFileContentStorage, S3Storage, RecycleRetentionDays).
CREATE TABLE IF NOT EXISTS settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Feature toggles (UseBaseEntityFileDeleteListener).
CREATE TABLE IF NOT EXISTS features (
    name    TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
);
-- File metadata, one row per file. `storage` is the store holding the content.
CREATE TABLE IF NOT EXISTS files (
    id            TEXT PRIMARY KEY,
    schema_name   TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    size          INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1,
    storage       TEXT NOT NULL CHECK (storage IN ({storage_codes})),
    sha256        TEXT,
    state         TEXT NOT NULL
                  CHECK (state IN ({file_states})),
    created_at    TEXT NOT NULL,
    modified_at   TEXT NOT NULL,
    deleted_at    TEXT,
    -- a store still holding a leftover copy after a migration moved the file away
    stale_storage TEXT CHECK (stale_storage IN ({storage_codes}))
);
CREATE INDEX IF NOT EXISTS files_owner ON files (schema_name, record_id);
CREATE INDEX IF NOT EXISTS files_state ON files (state, storage);
CREATE INDEX IF NOT EXISTS files_created ON files (created_at, id);
-- Cross-process leases: which process is changing a file, until when.
CREATE TABLE IF NOT EXISTS leases (
    file_id    TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
-- Content of the Database store: one row per stored content, in the `objects` area
-- or (soft-deleted) in the `recycle` area, like S3's object and recycle buckets.
CREATE TABLE IF NOT EXISTS file_content (
    file_id     TEXT PRIMARY KEY,
    area        TEXT NOT NULL CHECK (area IN ('objects', 'recycle')),
    complete    INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    chunks      INTEGER NOT NULL DEFAULT 0,
    size        INTEGER NOT NULL DEFAULT 0,
    recycled_at TEXT
);
-- The bytes of the Database store, in chunks of about 1 MiB.
CREATE TABLE IF NOT EXISTS file_chunks (
    file_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (file_id, seq)
);
""".format(
    file_states=_sql_list(FILE_STATES),
    storage_codes=_sql_list(STORAGE_CODES),
)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction (``BEGIN IMMEDIATE``), committed or rolled back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"database schema version {version} is newer than this s3lite "
                    f"({SCHEMA_VERSION})"
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


class Database:
    """A SQLite file, opened in a worker thread and used one call at a time."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._conn: sqlite3.Connection | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    async def open(self) -> None:
        """Open (creating the file and its tables if needed)."""
        self._limiter = anyio.CapacityLimiter(1)
        try:
            self._conn = await anyio.to_thread.run_sync(_connect, self.path, limiter=self._limiter)
        except sqlite3.Error as error:
            raise StorageDatabaseError(
                f"cannot open storage database {self.path!r}: {error}"
            ) from error

    async def run(self, fn: Callable[[sqlite3.Connection, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(conn, *args)`` in the database's worker thread."""
        if self._conn is None or self._limiter is None:
            raise RuntimeError("the storage database is not open")
        conn = self._conn
        try:
            return await anyio.to_thread.run_sync(lambda: fn(conn, *args), limiter=self._limiter)
        except sqlite3.Error as error:
            raise StorageDatabaseError(f"storage database {self.path!r}: {error}") from error

    async def aclose(self) -> None:
        """Close the connection; safe to call more than once."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(conn.close, limiter=self._limiter)
