"""Which storage database backend a ``FileStorage`` database argument names.

Rules of this module:
- The spec alone decides: ``postgresql://`` and ``postgres://`` URLs are PostgreSQL,
  anything else is a SQLite path.
- PostgreSQL's module (and with it the psycopg driver) is imported only when such a
  URL is given; without the driver, the error says which extra to install.
"""

from __future__ import annotations

import os

from ._database import Database
from ._errors import StorageDatabaseError
from ._sqlite import SqliteDatabase

__all__ = ["is_postgres_url", "open_database"]


def is_postgres_url(spec: str | os.PathLike[str]) -> bool:
    """Whether a ``FileStorage`` database argument names a PostgreSQL server."""
    return isinstance(spec, str) and spec.startswith(("postgresql://", "postgres://"))


def open_database(spec: str | os.PathLike[str]) -> Database:
    """The backend for ``spec`` (not yet opened)."""
    if is_postgres_url(spec):
        try:
            from ._postgres import PostgresDatabase
        except ImportError as error:
            raise StorageDatabaseError(
                "a PostgreSQL storage database needs the psycopg driver: "
                "pip install 's3lite[postgres]'"
            ) from error
        return PostgresDatabase(str(spec))
    return SqliteDatabase(spec)
