"""Direct SQL on a storage database, SQLite or PostgreSQL, for tests that inspect or
damage it behind ``FileStorage``'s back (``?`` placeholders, as in the library)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DatabaseSpec",
    "IntegrityErrors",
    "close_connections",
    "execute",
    "is_postgres",
    "rows",
]

DatabaseSpec = Path | str
"""A SQLite path or a ``postgresql://`` URL: what the ``database`` fixture gives."""


def is_postgres(database: DatabaseSpec) -> bool:
    return isinstance(database, str) and database.startswith("postgresql://")


def _integrity_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the test extra installs it
        return (sqlite3.IntegrityError,)
    return (sqlite3.IntegrityError, psycopg.errors.IntegrityError)


IntegrityErrors = _integrity_errors()
"""What either database raises for a violated constraint."""


_PG: dict[str, Any] = {}
"""One open connection per PostgreSQL URL (logging in costs more than a query)."""


def _pg_connection(url: str) -> Any:
    import psycopg

    conn = _PG.get(url)
    if conn is None or conn.closed:
        conn = _PG[url] = psycopg.connect(url, autocommit=True)
        conn.execute("SET search_path TO s3lite")
    return conn


def close_connections() -> None:
    """Close the cached PostgreSQL connections (before their database is dropped)."""
    while _PG:
        _PG.popitem()[1].close()


def execute(database: DatabaseSpec, sql: str, params: Sequence[object] = ()) -> list[Any]:
    """Run one statement (committed at once); its rows, if it returns any."""
    if is_postgres(database):
        pg = _pg_connection(str(database))
        cursor = pg.execute(sql.replace("?", "%s").encode(), params)
        return list(cursor.fetchall()) if cursor.description is not None else []
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def rows(database: DatabaseSpec, sql: str, params: Sequence[object] = ()) -> list[Any]:
    """The rows of a query."""
    return execute(database, sql, params)
