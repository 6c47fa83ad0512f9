"""The storage database's tables, and the steps that bring an older schema up to date.

Rules of this module:
- One schema for SQLite and PostgreSQL: the DDL is written once, with ``{blob}`` and
  ``{bigint}`` standing for the two types they spell differently.
- ``STEPS[n]`` turns a version ``n - 1`` database into version ``n``; a new database
  runs every step from 1.  A step is only ever added, never edited: databases in
  the field are at every earlier version.
- Each backend stores the version its own way and runs the steps inside one
  write transaction, so a crash mid-upgrade leaves the old version whole.
"""

from __future__ import annotations

from typing import Final

from ._errors import StorageDatabaseError
from ._models import FILE_STATES, STORAGE_CODES

__all__ = ["SCHEMA_VERSION", "STEPS", "statements", "upgrade_statements"]


def _sql_list(values: tuple[str, ...]) -> str:
    """``'a', 'b'``: SQL string literals of plain identifiers (checked, not escaped)."""
    assert all(value.isidentifier() for value in values)
    return ", ".join(f"'{value}'" for value in values)


# Version 1: the tables.  Timestamps are ISO 8601 UTC text with microseconds (they
# sort as text, the same way in both databases).
_TABLES = """
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
    size          {bigint} NOT NULL DEFAULT 0,
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
    size        {bigint} NOT NULL DEFAULT 0,
    recycled_at TEXT
);
-- The bytes of the Database store, in chunks of about 1 MiB.
CREATE TABLE IF NOT EXISTS file_chunks (
    file_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    data    {blob} NOT NULL,
    PRIMARY KEY (file_id, seq)
);
"""

# Version 2: migration batches are claimed in id order within one store.
_MIGRATION_INDEX = """
CREATE INDEX IF NOT EXISTS files_migration ON files (storage, state, id);
"""

STEPS: Final[dict[int, str]] = {1: _TABLES, 2: _MIGRATION_INDEX}
SCHEMA_VERSION: Final = max(STEPS)

_TYPES: Final = {
    "sqlite": {"blob": "BLOB", "bigint": "INTEGER"},
    "postgresql": {"blob": "BYTEA", "bigint": "BIGINT"},
}


def statements(step: int, dialect: str) -> list[str]:
    """The statements of ``STEPS[step]`` in ``dialect`` (``sqlite`` or ``postgresql``)."""
    text = STEPS[step].format(
        file_states=_sql_list(FILE_STATES),
        storage_codes=_sql_list(STORAGE_CODES),
        **_TYPES[dialect],
    )
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [sql.strip() for sql in "\n".join(lines).split(";") if sql.strip()]


def upgrade_statements(version: int, dialect: str) -> list[str]:
    """Every statement that brings a version ``version`` database (0: a new one) to
    ``SCHEMA_VERSION``; a database of a newer s3lite is refused."""
    if version > SCHEMA_VERSION:
        raise StorageDatabaseError(
            f"database schema version {version} is newer than this s3lite ({SCHEMA_VERSION})"
        )
    return [
        sql for step in range(version + 1, SCHEMA_VERSION + 1) for sql in statements(step, dialect)
    ]
