"""Fixtures of the storage suite: one ``FileStorage`` per content store.

``fs`` is parametrized over the stores, so every test using it is a conformance test
run against ``Database`` (no S3 connection) and ``S3`` (the session's real S3 server,
fresh buckets per test, S3 active).  ``database`` is parametrized over the metadata
backends: a SQLite file, or a fresh database on the session's PostgreSQL server
(tests/pgserver.py), so every test using it runs on both.  ``fs_both`` is connected to S3
with the default ``Database`` active, for tests that switch stores.  Both remove
their buckets afterwards through their own client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from s3lite import S3Client
from s3lite.storage import DATABASE, S3, FileStorage, StorageCode
from tests.conftest import TestServer, empty_and_delete_bucket, unique_bucket_name
from tests.pgserver import PostgresServer
from tests.storage.dbhelpers import DatabaseSpec, close_connections


@dataclass(frozen=True)
class Buckets:
    """A pair of not-yet-created bucket names and the connection string naming them."""

    object_bucket: str
    recycle_bucket: str
    connection_string: str


@pytest.fixture
def bucket_names(s3_server: TestServer) -> Buckets:
    """Fresh object and recycle bucket names (created on first use by the storage)."""
    objects, recycle = unique_bucket_name("obj"), unique_bucket_name("rec")
    return Buckets(objects, recycle, s3_server.connection_string(objects, recycle))


@pytest.fixture
async def buckets(bucket_names: Buckets, s3: S3Client) -> AsyncIterator[Buckets]:
    """``bucket_names``, with both buckets removed afterwards."""
    try:
        yield bucket_names
    finally:
        for name in (bucket_names.object_bucket, bucket_names.recycle_bucket):
            await empty_and_delete_bucket(s3, name)


@pytest.fixture(params=[DATABASE, S3])
def store_code(request: pytest.FixtureRequest) -> StorageCode:
    """The content store under test."""
    code: StorageCode = request.param
    return code


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The metadata backend under test."""
    return str(request.param)


@pytest.fixture
def database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[DatabaseSpec]:
    """A new storage database: a SQLite file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield tmp_path / "files.db"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    with server.fresh_database() as url:
        try:
            yield url
        finally:
            close_connections()  # the helpers' own, before the database is dropped


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Path:
    """A SQLite storage database, for tests of what only SQLite has."""
    return tmp_path / "files.db"


async def _remove_buckets(storage: FileStorage, names: Buckets) -> None:
    client = storage._s3_store().client
    for name in (names.object_bucket, names.recycle_bucket):
        await empty_and_delete_bucket(client, name)


@pytest.fixture
async def fs(
    store_code: StorageCode, database: DatabaseSpec, bucket_names: Buckets
) -> AsyncIterator[FileStorage]:
    """An open ``FileStorage`` whose active store is ``store_code`` (no S3 connection at
    all for ``Database``)."""
    if store_code == DATABASE:
        async with FileStorage(database) as storage:
            yield storage
        return
    async with FileStorage(database, bucket_names.connection_string) as storage:
        await storage.set_active_storage(S3)
        try:
            yield storage
        finally:
            await _remove_buckets(storage, bucket_names)


@pytest.fixture
async def fs_both(database: DatabaseSpec, bucket_names: Buckets) -> AsyncIterator[FileStorage]:
    """An open ``FileStorage`` connected to S3, with ``Database`` still active."""
    async with FileStorage(database, bucket_names.connection_string) as storage:
        try:
            yield storage
        finally:
            await _remove_buckets(storage, bucket_names)
