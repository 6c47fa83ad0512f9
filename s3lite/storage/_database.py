"""The seam between the storage layer and its database: SQLite or PostgreSQL.

Rules of this module:
- A backend is a ``Database``: ``open``, ``run(fn, *args)`` and ``aclose``, plus a
  ``name`` that is safe to print (a path, or a URL without its password).
- ``run`` calls ``fn(conn, *args)`` whole in a worker thread, one call at a time
  per ``Database``; ``fn`` is a plain function that speaks ``Connection`` and holds
  at most one transaction.  A backend may call ``fn`` again after a transient
  conflict (a PostgreSQL serialization failure), so ``fn`` touches nothing but
  the connection.
- Query functions write SQL in the subset both databases share, with ``?``
  placeholders; where the two differ, the ``Connection`` supplies the text.
- Which backend a ``FileStorage`` gets is ``_backends``' choice, not this module's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar, TypeVarTuple

__all__ = ["Connection", "Cursor", "Database"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Cursor(Protocol):
    """What a query returns: rows (indexable by position and by column name)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """One database connection, as the query functions see it."""

    skip_locked: str
    """Appended to a ``SELECT`` that claims rows: ``FOR UPDATE SKIP LOCKED`` where
    other hosts may claim the same rows at once, empty where writes are serial."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        """Run one statement with ``?`` placeholders."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction: committed at the end of the block, rolled back on error."""
        ...

    def now(self) -> datetime:
        """The current time (UTC) by the clock every user of this database shares."""
        ...


class Database(Protocol):
    """A storage database, opened in a worker thread and used one call at a time."""

    @property
    def name(self) -> str:
        """The path or the URL without its password: safe for logs and messages."""
        ...

    async def open(self) -> None:
        """Connect, creating or upgrading the schema as needed."""
        ...

    async def run(self, fn: Callable[[Connection, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(conn, *args)`` in the database's worker thread."""
        ...

    async def aclose(self) -> None:
        """Close the connection; safe to call more than once."""
        ...
