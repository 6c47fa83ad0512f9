"""A hypothesis state machine drives ``FileStorage`` against a simple in-memory model.

Rules: upload (random schema, record and content), delete, restore, switch the active
store, migrate (either direction, with or without a limit), toggle
``UseBaseEntityFileDeleteListener``, delete a record, repair.  After every step, every
file of the model is readable with its content when active, and in the recycle bin
(listed as deleted, reads refused with ``FileDeleted``) when deleted; its metadata
names the store the model expects; and its content is in exactly one place, checked
directly (the ``file_content`` table, the object and recycle buckets), with nothing
else anywhere.  Never lost, never duplicated.

The machine runs on one event loop backend (asyncio) through a blocking portal, on
each metadata backend: SQLite in a temporary folder, or a fresh database on the
session's PostgreSQL server.  S3 is the session's server, with fresh buckets for
every machine instance.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Literal, TypeVar

import anyio.from_thread
import anyio.to_thread
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from s3lite import NoSuchBucket, S3Client
from s3lite.storage import (
    DATABASE,
    S3,
    STORAGE_CODES,
    USE_BASE_ENTITY_FILE_DELETE_LISTENER,
    FileDeleted,
    FileStorage,
    RepairReport,
    StorageCode,
)
from tests.conftest import TestServer, empty_and_delete_bucket, unique_bucket_name
from tests.pgserver import PostgresServer
from tests.storage.dbhelpers import DatabaseSpec, close_connections, rows

pytestmark = pytest.mark.integration

T = TypeVar("T")

SCHEMAS = ("ActivityFile", "ContactFile")
RECORDS: tuple[uuid.UUID | str, ...] = (
    uuid.UUID("0b6c4c5e-39ba-4f5e-9df3-0d4b5b0c1a2e"),
    uuid.UUID("7d0b3c1e-5a8f-4c2e-9b61-2f4e8a7c9d10"),
    "ACC-42",  # record ids need not be UUIDs
)
DIRECTIONS: tuple[tuple[StorageCode, StorageCode], ...] = ((DATABASE, S3), (S3, DATABASE))
MACHINE_SETTINGS = settings(max_examples=25, stateful_step_count=25, deadline=None)

# State machines cannot take fixtures: the test hands them the servers through these.
_SERVER: TestServer | None = None
_NEW_DATABASE: Callable[[ExitStack], DatabaseSpec] | None = None
"""A new storage database, removed when the machine's stack closes."""


@pytest.fixture
def machine_environment(
    s3_server: TestServer,
    tmp_path_factory: pytest.TempPathFactory,
    backend: str,
    request: pytest.FixtureRequest,
) -> Iterator[None]:
    global _SERVER, _NEW_DATABASE

    def new_database(stack: ExitStack) -> DatabaseSpec:
        if backend == "sqlite":
            return tmp_path_factory.mktemp("stateful") / "files.db"
        server: PostgresServer = request.getfixturevalue("pg_server")
        url = stack.enter_context(server.fresh_database())
        stack.callback(close_connections)  # runs first: before the database is dropped
        return url

    _SERVER, _NEW_DATABASE = s3_server, new_database
    try:
        yield
    finally:
        _SERVER = _NEW_DATABASE = None


@dataclass
class ModelFile:
    content: bytes
    state: Literal["active", "deleted"]
    owner: tuple[str, str]
    """Schema name and record id text."""
    storage: StorageCode


Place = tuple[StorageCode, str]
"""A store and an area of it: ``objects`` or ``recycle`` (or ``incomplete``)."""


Rows = tuple[list[tuple[str, str, int]], set[str], list[tuple[object, ...]]]


def _content_rows(database: DatabaseSpec) -> Rows:
    """``file_content`` rows, ids with chunks, and rows that should not exist between steps."""
    content = [
        (str(row[0]), str(row[1]), int(row[2]))
        for row in rows(database, "SELECT file_id, area, complete FROM file_content")
    ]
    chunks = {str(row[0]) for row in rows(database, "SELECT DISTINCT file_id FROM file_chunks")}
    odd: list[tuple[object, ...]] = rows(
        database,
        "SELECT id, state, stale_storage FROM files "
        "WHERE state NOT IN ('active', 'deleted') OR stale_storage IS NOT NULL "
        "UNION ALL SELECT file_id, 'lease', owner FROM leases",
    )
    return content, chunks, odd


class StorageMachine(RuleBasedStateMachine):
    """``FileStorage`` with both stores, against ``model``: file id -> ``ModelFile``."""

    files = Bundle("files")

    def __init__(self) -> None:
        super().__init__()
        assert _SERVER is not None and _NEW_DATABASE is not None, "use machine_environment"
        server = _SERVER
        self.object_bucket = unique_bucket_name("smo")
        self.recycle_bucket = unique_bucket_name("smr")
        self.model: dict[uuid.UUID, ModelFile] = {}
        self.active: StorageCode = DATABASE
        self.listener = False
        self._stack = ExitStack()
        try:
            self.database = _NEW_DATABASE(self._stack)
            self.portal = self._stack.enter_context(
                anyio.from_thread.start_blocking_portal("asyncio")
            )
            self.client: S3Client = self.portal.call(server.client().__aenter__)
            self._stack.callback(self.portal.call, self.client.aclose)
            self._stack.callback(self.portal.call, self._remove_buckets)
            text = server.connection_string(self.object_bucket, self.recycle_bucket)
            self.fs: FileStorage = self.portal.call(FileStorage(self.database, text).__aenter__)
            self._stack.callback(self.portal.call, self.fs.aclose)
        except BaseException:
            self._stack.close()
            raise

    def teardown(self) -> None:
        self._stack.close()

    def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` in the machine's event loop."""
        return self.portal.call(fn)

    async def _remove_buckets(self) -> None:
        for name in (self.object_bucket, self.recycle_bucket):
            await empty_and_delete_bucket(self.client, name)

    # --- rules ----------------------------------------------------------------------

    @initialize(
        target=files,
        schemas=st.lists(st.sampled_from(SCHEMAS), min_size=2, max_size=2),
        records=st.lists(st.sampled_from(RECORDS), min_size=2, max_size=2),
        contents=st.lists(st.binary(max_size=64), min_size=2, max_size=2),
        active=st.sampled_from(STORAGE_CODES),
    )
    def one_file_in_each_store(
        self,
        schemas: list[str],
        records: list[uuid.UUID | str],
        contents: list[bytes],
        active: StorageCode,
    ) -> MultipleResults[uuid.UUID]:
        """Start with a file in each store, so that every rule has work from the start."""
        ids = []
        for code, schema, record, content in zip(
            STORAGE_CODES, schemas, records, contents, strict=True
        ):
            self._switch(code)
            ids.append(self._upload(schema, record, content))
        self._switch(active)
        return multiple(*ids)

    @rule(
        target=files,
        schema=st.sampled_from(SCHEMAS),
        record=st.sampled_from(RECORDS),
        content=st.binary(max_size=64),
    )
    def upload(self, schema: str, record: uuid.UUID | str, content: bytes) -> uuid.UUID:
        return self._upload(schema, record, content)

    def _upload(self, schema: str, record: uuid.UUID | str, content: bytes) -> uuid.UUID:
        info = self.call(lambda: self.fs.upload(schema, record, "file.bin", content))
        assert (info.state, info.storage, info.size) == ("active", self.active, len(content))
        assert info.id not in self.model
        self.model[info.id] = ModelFile(content, "active", (schema, str(record)), self.active)
        return info.id

    @rule(file_id=files)
    def delete(self, file_id: uuid.UUID) -> None:
        info = self.call(lambda: self.fs.delete(file_id))
        self.model[file_id].state = "deleted"  # deleting a deleted file changes nothing
        assert (info.state, info.storage) == ("deleted", self.model[file_id].storage)

    @rule(file_id=files)
    def restore(self, file_id: uuid.UUID) -> None:
        info = self.call(lambda: self.fs.restore(file_id))
        self.model[file_id].state = "active"  # restoring an active file changes nothing
        assert (info.state, info.storage) == ("active", self.model[file_id].storage)

    @rule(code=st.sampled_from(STORAGE_CODES))
    def switch_store(self, code: StorageCode) -> None:
        self._switch(code)

    def _switch(self, code: StorageCode) -> None:
        assert self.call(lambda: self.fs.set_active_storage(code)) == code
        self.active = code

    @rule(direction=st.sampled_from(DIRECTIONS), limit=st.none() | st.integers(0, 3))
    def migrate(self, direction: tuple[StorageCode, StorageCode], limit: int | None) -> None:
        source, target = direction
        candidates = sorted(
            (i for i, f in self.model.items() if f.state == "active" and f.storage == source),
            key=str,  # the migration takes files in id order
        )
        moving = candidates if limit is None else candidates[:limit]
        report = self.call(lambda: self.fs.migrate(source, target, limit=limit))
        assert report.failed == ()
        assert (report.migrated, report.skipped, report.cleaned) == (len(moving), 0, 0)
        assert report.remaining == len(candidates) - len(moving)
        assert report.bytes == sum(len(self.model[i].content) for i in moving)
        for file_id in moving:
            self.model[file_id].storage = target

    @rule(enabled=st.booleans())
    def toggle_delete_listener(self, enabled: bool) -> None:
        self.call(lambda: self.fs.set_feature(USE_BASE_ENTITY_FILE_DELETE_LISTENER, enabled))
        self.listener = enabled

    @rule(file_id=files)
    def delete_record(self, file_id: uuid.UUID) -> None:
        """The record owning ``file_id`` was deleted (its other files share its fate)."""
        owner = self.model[file_id].owner
        recycled = self.call(lambda: self.fs.delete_record(*owner))
        expected = {
            file_id
            for file_id, f in self.model.items()
            if self.listener and f.owner == owner and f.state == "active"
        }
        assert sorted(info.id for info in recycled) == sorted(expected)
        assert all(info.state == "deleted" for info in recycled)
        for file_id in expected:
            self.model[file_id].state = "deleted"

    @rule()
    def repair(self) -> None:
        assert self.call(self.fs.repair) == RepairReport()  # nothing was interrupted

    # --- invariants -------------------------------------------------------------------

    async def _keys(self, bucket: str) -> list[str]:
        try:
            return [entry.key async for entry in self.client.list_objects(bucket)]
        except NoSuchBucket:  # created on the first write to S3
            return []

    async def _uploads(self, bucket: str) -> list[str]:
        try:
            return [u.key async for u in self.client.list_multipart_uploads(bucket)]
        except NoSuchBucket:
            return []

    async def _places(self) -> dict[uuid.UUID, list[Place]]:
        """Where content physically is, read from the stores themselves."""
        content, chunks, odd = await anyio.to_thread.run_sync(_content_rows, self.database)
        assert odd == [], f"files in an unfinished state, leftovers or leases: {odd}"
        assert chunks <= {file_id for file_id, _, _ in content}, "chunks without content"
        places: dict[uuid.UUID, list[Place]] = {}
        for file_id, area, complete in content:
            place: Place = (DATABASE, area if complete else "incomplete")
            places.setdefault(uuid.UUID(file_id), []).append(place)
        for bucket, area in ((self.object_bucket, "objects"), (self.recycle_bucket, "recycle")):
            for key in await self._keys(bucket):
                places.setdefault(uuid.UUID(key), []).append((S3, area))
            assert await self._uploads(bucket) == [], "a multipart upload was left behind"
        return places

    async def _check(self) -> None:
        fs = self.fs
        assert await fs.active_storage() == self.active
        assert await fs.feature(USE_BASE_ENTITY_FILE_DELETE_LISTENER) == self.listener
        live = [info.id async for info in fs.list()]
        recycled = [info.id async for info in fs.list(deleted=True)]
        assert sorted(live, key=str) == sorted(
            (i for i, f in self.model.items() if f.state == "active"), key=str
        )
        assert sorted(recycled, key=str) == sorted(
            (i for i, f in self.model.items() if f.state == "deleted"), key=str
        )
        places = await self._places()
        assert set(places) == set(self.model), "content of no known file, or a file lost"
        for file_id, expected in self.model.items():
            info = await fs.info(file_id)
            assert info.storage in STORAGE_CODES
            assert (info.state, info.storage) == (expected.state, expected.storage)
            assert (info.schema, str(info.record_id)) == expected.owner
            assert info.size == len(expected.content)
            assert info.sha256 == hashlib.sha256(expected.content).hexdigest()
            area = "objects" if expected.state == "active" else "recycle"
            assert places[file_id] == [(expected.storage, area)], "not in exactly one place"
            if expected.state == "active":
                assert await fs.read(file_id) == expected.content
            else:
                assert (await fs.info(file_id)).deleted_at is not None
                with pytest.raises(FileDeleted):
                    await fs.read(file_id)

    @invariant()
    def every_file_is_in_exactly_one_place_and_readable_or_recycled(self) -> None:
        self.call(self._check)


def test_no_sequence_of_storage_operations_loses_or_duplicates_a_file(
    machine_environment: None, s3_server: TestServer
) -> None:
    chosen = MACHINE_SETTINGS
    if s3_server.kind != "seaweedfs":  # slower servers (RGW: ~5x per step) get fewer runs
        chosen = settings(chosen, max_examples=8)
    run_state_machine_as_test(StorageMachine, settings=chosen)
