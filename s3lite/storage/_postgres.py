"""The PostgreSQL backend of the storage database, for applications on several hosts.

Rules of this module:
- psycopg 3 is imported here and only here, and this module only when a
  PostgreSQL URL is given: the core package does not depend on it.
- A small pool of autocommit connections per ``FileStorage`` (``POOL_SIZE``), each
  used by one worker thread at a time; it grows on demand and takes back only
  connections that are still open.  The tables live in the ``s3lite`` schema of
  the database the URL names, beside the application's own tables.
- Write transactions are ``SERIALIZABLE``: what a transaction read cannot be changed
  under it by another host, as under SQLite's single writer.  A serialization
  failure or a deadlock rolls back, and the call runs again (``ATTEMPTS`` times at
  most, after a short random wait).
- ``Connection.now`` is the server's clock, so leases mean the same on every host.
- The schema is created and upgraded under a transaction-scoped advisory lock, so
  hosts starting at once do it one after the other; its version is the one row of
  ``s3lite.schema_version``.
- A broken connection (a server restart, the network) is dropped from the pool and
  replaced by the next call.  The call that met the break fails: it may have committed, and only the
  caller can tell.
- psycopg errors become ``StorageDatabaseError`` here, naming the user, host, port
  and database, never the password.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, TypeVar, TypeVarTuple

import anyio
import anyio.to_thread
import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict

from ._database import Connection
from ._errors import InvalidStorageRequest, StorageDatabaseError
from ._schema import SCHEMA_VERSION, upgrade_statements

__all__ = ["SCHEMA_NAME", "PostgresDatabase"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

SCHEMA_NAME: Final = "s3lite"
ATTEMPTS: Final = 30
"""Runs of one call that meets serialization failures before it gives up."""
CONNECT_TIMEOUT_SECONDS: Final = 10
POOL_SIZE: Final = 4
"""Connections (and worker threads) one ``FileStorage`` uses at most."""
_SCHEMA_LOCK: Final = int.from_bytes(b"s3liteSC", "big")
"""The advisory lock key held while the schema is created or upgraded."""
_URL_PASSWORD = re.compile(r"^[a-z]+://[^:/@?#]*:([^@/?#]*)@", re.IGNORECASE)


class _Row:
    """A result row, indexed by position or by column name (as ``sqlite3.Row``)."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key] if isinstance(key, str) else key]

    def __len__(self) -> int:
        return len(self._values)


def _rows(cursor: Any) -> Callable[[Sequence[Any]], _Row]:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: _Row(values, index)


@lru_cache(maxsize=512)
def _query(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the SQL here has no literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")


class _PostgresConnection:
    """A ``Connection`` over one psycopg connection in autocommit mode."""

    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self.sent = 0
        """Statements sent since the current call began."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        self.sent += 1
        return self.raw.execute(_query(sql), params, binary=True)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.sent += 1
        self.raw.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        try:
            yield
        except BaseException:
            if not self.raw.closed:
                self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def now(self) -> datetime:
        self.sent += 1
        row = self.raw.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        moment: datetime = row[0]
        return moment.astimezone(UTC)


def _create_or_upgrade(raw: psycopg.Connection[Any]) -> None:
    raw.execute("BEGIN")
    try:
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        exists = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
        if raw.execute(exists, (SCHEMA_NAME,)).fetchone() is None:
            raw.execute(f"CREATE SCHEMA {SCHEMA_NAME}")
        raw.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        found = raw.execute("SELECT max(version) FROM schema_version").fetchone()
        version = int(found[0] or 0) if found is not None else 0
        for statement in upgrade_statements(version, "postgresql"):
            raw.execute(statement)
        if version != SCHEMA_VERSION:
            raw.execute("DELETE FROM schema_version")
            raw.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))
        raw.execute("COMMIT")
    except BaseException:
        if not raw.closed:
            raw.execute("ROLLBACK")
        raise


class PostgresDatabase:
    """A PostgreSQL database, used from a worker thread one call at a time."""

    def __init__(self, url: str) -> None:
        found = _URL_PASSWORD.match(url)
        self._secrets = [found.group(1)] if found and found.group(1) else []
        info: dict[str, Any] = {}
        problem: str | None = None
        try:
            info = conninfo_to_dict(url)
        except psycopg.Error as error:  # its text may quote the URL: raised outside
            problem = self._redact(str(error))
        if problem is not None:
            raise InvalidStorageRequest(f"the PostgreSQL URL is not valid: {problem}")
        port = str(info.get("port") or "")
        if port and not all(part.isdigit() for part in port.split(",")):
            raise InvalidStorageRequest(f"the PostgreSQL URL's port is not a number: {port!r}")
        password = info.get("password")
        if password:
            self._secrets.append(str(password))
        self._url = url
        self._connect_options: dict[str, Any] = {}
        if "connect_timeout" not in info:
            self._connect_options["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        if "application_name" not in info:
            self._connect_options["application_name"] = "s3lite"
        user = f"{info['user']}@" if info.get("user") else ""
        port = f":{info['port']}" if info.get("port") else ""
        self.name = f"postgresql://{user}{info.get('host', '')}{port}/{info.get('dbname', '')}"
        self.pool_size = POOL_SIZE
        self._idle: list[_PostgresConnection] = []
        self._pool_lock = threading.Lock()
        self._schema_ready = False
        self._limiter: anyio.CapacityLimiter | None = None
        self._open = False

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text.strip()

    def _connect(self) -> _PostgresConnection:
        raw = psycopg.connect(
            self._url, autocommit=True, row_factory=_rows, **self._connect_options
        )
        try:
            raw.execute(f"SET search_path TO {SCHEMA_NAME}")
            if not self._schema_ready:
                _create_or_upgrade(raw)
                self._schema_ready = True
        except BaseException:
            raw.close()
            raise
        return _PostgresConnection(raw)

    async def open(self) -> None:
        """Connect, creating the ``s3lite`` schema and its tables if needed."""
        self._limiter = anyio.CapacityLimiter(self.pool_size)
        problem: str | None = None
        try:
            first = await anyio.to_thread.run_sync(self._connect, limiter=self._limiter)
        except psycopg.Error as error:  # raised outside: no chained libpq text
            problem = self._redact(str(error))
        except StorageDatabaseError as error:  # a schema this s3lite cannot use
            problem = str(error)
        if problem is not None:
            raise StorageDatabaseError(f"cannot open storage database {self.name}: {problem}")
        self._idle.append(first)
        self._open = True

    def _checkout(self) -> _PostgresConnection:
        with self._pool_lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.raw.closed:
                    return conn
        return self._connect()

    def _checkin(self, conn: _PostgresConnection) -> None:
        with self._pool_lock:
            if self._open and not conn.raw.closed:
                self._idle.append(conn)
                return
        conn.raw.close()

    def _call(self, fn: Callable[[Connection, *Ts], T], args: tuple[*Ts]) -> T:
        conn = self._checkout()
        conflicts, may_reconnect = 0, True
        try:
            while True:
                conn.sent = 0
                try:
                    return fn(conn, *args)
                except (errors.SerializationFailure, errors.DeadlockDetected):
                    conflicts += 1
                    if conflicts >= ATTEMPTS:
                        raise
                    time.sleep(random.uniform(0.0, 0.002 * 2 ** min(conflicts, 6)))
                except psycopg.OperationalError:
                    if not (may_reconnect and conn.raw.closed and conn.sent <= 1):
                        raise
                    may_reconnect = False  # closed while idle: nothing was done
                    conn = self._connect()
        finally:
            self._checkin(conn)

    async def run(self, fn: Callable[[Connection, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(conn, *args)`` in a worker thread, on a connection of the pool."""
        if not self._open or self._limiter is None:
            raise RuntimeError("the storage database is not open")
        try:
            return await anyio.to_thread.run_sync(self._call, fn, args, limiter=self._limiter)
        except psycopg.Error as error:
            raise StorageDatabaseError(
                f"storage database {self.name}: {self._redact(str(error))}"
            ) from error

    async def aclose(self) -> None:
        """Close the connections; safe to call more than once.  A call still running
        closes its connection when it ends."""
        with self._pool_lock:
            self._open = False
            idle, self._idle = self._idle, []
        with anyio.CancelScope(shield=True):
            for conn in idle:
                await anyio.to_thread.run_sync(conn.raw.close)
