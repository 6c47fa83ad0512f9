"""The storage database's schema: created by the library, upgraded in place."""

from __future__ import annotations

import uuid

import pytest

from s3lite.storage import FileStorage, StorageDatabaseError
from s3lite.storage._schema import SCHEMA_VERSION, statements
from tests.storage.dbhelpers import DatabaseSpec, execute, is_postgres, rows

pytestmark = pytest.mark.anyio


def schema_version(database: DatabaseSpec) -> int:
    if is_postgres(database):
        return int(rows(database, "SELECT max(version) FROM schema_version")[0][0])
    return int(rows(database, "PRAGMA user_version")[0][0])


def set_schema_version(database: DatabaseSpec, version: int) -> None:
    if is_postgres(database):
        execute(database, "DELETE FROM schema_version")
        execute(database, "INSERT INTO schema_version (version) VALUES (?)", (version,))
    else:
        execute(database, f"PRAGMA user_version = {version}")


def index_names(database: DatabaseSpec) -> set[str]:
    if is_postgres(database):
        found = rows(database, "SELECT indexname FROM pg_indexes WHERE schemaname = 's3lite'")
    else:
        found = rows(database, "SELECT name FROM sqlite_master WHERE type = 'index'")
    return {str(row[0]) for row in found}


def make_version_1(database: DatabaseSpec) -> str:
    """A database as s3lite's schema version 1 left it, holding one active file."""
    if is_postgres(database):
        execute(database, "CREATE SCHEMA s3lite")
        execute(database, "CREATE TABLE schema_version (version INTEGER NOT NULL)")
        dialect = "postgresql"
    else:
        dialect = "sqlite"
    for statement in statements(1, dialect):
        execute(database, statement)
    set_schema_version(database, 1)
    file_id = str(uuid.uuid4())
    at = "2026-01-02T03:04:05.000006+00:00"
    execute(
        database,
        "INSERT INTO files (id, schema_name, record_id, name, size, storage, sha256, state, "
        "created_at, modified_at) VALUES (?, 'ActivityFile', 'ACC-1', 'old.txt', 0, "
        "'Database', ?, 'active', ?, ?)",
        (file_id, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", at, at),
    )
    execute(
        database,
        "INSERT INTO file_content (file_id, area, complete, chunks, size) "
        "VALUES (?, 'objects', 1, 0, 0)",
        (file_id,),
    )
    execute(database, "INSERT INTO settings VALUES ('ActiveFileContentStorage', 'Database')")
    return file_id


async def test_a_new_database_gets_the_current_schema(database: DatabaseSpec) -> None:
    async with FileStorage(database) as fs:
        await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"a")
    assert schema_version(database) == SCHEMA_VERSION
    assert "files_migration" in index_names(database)


async def test_a_version_1_database_is_upgraded_in_place_keeping_its_files(
    database: DatabaseSpec,
) -> None:
    file_id = make_version_1(database)
    assert "files_migration" not in index_names(database)
    async with FileStorage(database) as fs:
        info = await fs.info(file_id)
        assert (info.name, info.state, info.storage) == ("old.txt", "active", "Database")
        assert await fs.read(file_id) == b""
        assert [i.id async for i in fs.list()] == [info.id]
        new = await fs.upload("ActivityFile", uuid.uuid4(), "new.txt", b"new")
    assert schema_version(database) == SCHEMA_VERSION == 2
    assert "files_migration" in index_names(database)
    async with FileStorage(database) as fs:  # opening again changes nothing
        assert await fs.read(new.id) == b"new"
    assert schema_version(database) == SCHEMA_VERSION


async def test_a_database_from_a_newer_s3lite_is_refused_untouched(
    database: DatabaseSpec,
) -> None:
    async with FileStorage(database) as fs:
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"a")
    set_schema_version(database, SCHEMA_VERSION + 1)
    with pytest.raises(StorageDatabaseError, match="newer than this s3lite"):
        async with FileStorage(database):
            pass
    assert schema_version(database) == SCHEMA_VERSION + 1
    assert rows(database, "SELECT name FROM files WHERE id = ?", (str(info.id),)) == [("a.txt",)]
