"""Migration between the Database and S3 stores: verified, resumable, idempotent."""

from __future__ import annotations

import uuid
from contextlib import aclosing

import anyio
import anyio.lowlevel
import pytest

from s3lite import S3Client, TransportError
from s3lite.storage import DATABASE, S3, FileInfo, FileStorage, MigrationReport, StorageCode
from s3lite.storage._database_store import DatabaseStore
from s3lite.storage._s3_store import S3Store
from tests.storage.conftest import Buckets
from tests.storage.dbhelpers import DatabaseSpec, rows
from tests.storage.test_conformance import payload

pytestmark = pytest.mark.anyio

STORE_CLASSES: dict[StorageCode, type[DatabaseStore] | type[S3Store]] = {
    DATABASE: DatabaseStore,
    S3: S3Store,
}
OTHER: dict[StorageCode, StorageCode] = {DATABASE: S3, S3: DATABASE}


async def make_files(fs: FileStorage, code: StorageCode, count: int) -> dict[uuid.UUID, bytes]:
    await fs.set_active_storage(code)
    files = {}
    for i in range(count):
        data = payload(2000 + i * 37, i)
        schema = "ActivityFile" if i % 3 else "ContactFile"
        info = await fs.upload(schema, uuid.uuid4(), f"{i}.bin", data)
        files[info.id] = data
    return files


async def holders(
    fs: FileStorage, database: DatabaseSpec, bucket_names: Buckets, s3: S3Client
) -> dict[uuid.UUID, set[str]]:
    """Which stores physically hold content for each file id (any area)."""
    held: dict[uuid.UUID, set[str]] = {}
    for (file_id,) in rows(database, "SELECT file_id FROM file_content"):
        held.setdefault(uuid.UUID(file_id), set()).add(DATABASE)
    for bucket in (bucket_names.object_bucket, bucket_names.recycle_bucket):
        if await s3.bucket_exists(bucket):
            async for entry in s3.list_objects(bucket):
                held.setdefault(uuid.UUID(entry.key), set()).add(S3)
    return held


async def assert_each_file_once(
    fs: FileStorage,
    files: dict[uuid.UUID, bytes],
    expected_store: StorageCode,
    database: DatabaseSpec,
    bucket_names: Buckets,
    s3: S3Client,
) -> None:
    held = await holders(fs, database, bucket_names, s3)
    assert set(held) == set(files), "content without a file, or a file without content"
    for file_id, data in files.items():
        info = await fs.info(file_id)
        assert info.storage == expected_store
        assert held[file_id] == {expected_store}, f"{file_id} is held by {held[file_id]}"
        assert await fs.read(file_id) == data


@pytest.mark.parametrize("source", [DATABASE, S3])
async def test_migration_moves_every_file_and_back(
    fs_both: FileStorage,
    database: DatabaseSpec,
    bucket_names: Buckets,
    s3: S3Client,
    source: StorageCode,
) -> None:
    target = OTHER[source]
    files = await make_files(fs_both, source, 7)
    seen: list[MigrationReport] = []
    report = await fs_both.migrate(source, target, batch_size=3, progress=seen.append)
    assert (report.migrated, report.failed, report.remaining) == (7, (), 0)
    assert report.bytes == sum(len(d) for d in files.values())
    assert len(seen) == 7 and seen[-1].migrated == 7
    await assert_each_file_once(fs_both, files, target, database, bucket_names, s3)

    back = await fs_both.migrate(target, source)
    assert (back.migrated, back.remaining) == (7, 0)
    await assert_each_file_once(fs_both, files, source, database, bucket_names, s3)


async def test_a_rerun_after_a_complete_migration_does_nothing(fs_both: FileStorage) -> None:
    await make_files(fs_both, DATABASE, 3)
    assert (await fs_both.migrate("Database", "S3")).migrated == 3
    again = await fs_both.migrate("Database", "S3")
    assert (again.migrated, again.skipped, again.failed, again.remaining) == (0, 0, (), 0)


async def test_schema_filters_and_limit_choose_the_files(fs_both: FileStorage) -> None:
    files = await make_files(fs_both, DATABASE, 9)  # 3 ContactFile, 6 ActivityFile
    only_contacts = await fs_both.migrate("Database", "S3", schemas=["ContactFile"])
    assert (only_contacts.migrated, only_contacts.remaining) == (3, 0)
    limited = await fs_both.migrate("Database", "S3", exclude_schemas=["ContactFile"], limit=4)
    assert (limited.migrated, limited.remaining) == (4, 2)
    stores = {(await fs_both.info(i)).storage for i in files}
    assert stores == {DATABASE, S3}


@pytest.mark.parametrize("source", [DATABASE, S3])
async def test_a_failure_half_way_leaves_files_in_place_and_a_rerun_finishes(
    fs_both: FileStorage,
    database: DatabaseSpec,
    bucket_names: Buckets,
    s3: S3Client,
    monkeypatch: pytest.MonkeyPatch,
    source: StorageCode,
) -> None:
    target = OTHER[source]
    files = await make_files(fs_both, source, 8)
    doomed = sorted(files)[2:5]
    target_class = STORE_CLASSES[target]
    real_write = target_class.write

    async def flaky_write(self, file_id, content, **options):  # type: ignore[no-untyped-def]
        if file_id in doomed:
            async with aclosing(content.chunks()) as chunks:
                async for _ in chunks:  # fail half-way through the content
                    raise TransportError("connection reset while writing")
        await real_write(self, file_id, content, **options)

    monkeypatch.setattr(target_class, "write", flaky_write)
    report = await fs_both.migrate(source, target, batch_size=3)
    assert report.migrated == 5
    assert sorted(f.file_id for f in report.failed) == doomed
    assert all("connection reset" in f.error for f in report.failed)
    assert report.remaining == 3
    for file_id in doomed:
        assert (await fs_both.info(file_id)).storage == source
        assert await fs_both.read(file_id) == files[file_id]

    monkeypatch.undo()
    rerun = await fs_both.migrate(source, target)
    assert (rerun.migrated, rerun.failed, rerun.remaining) == (3, (), 0)
    await assert_each_file_once(fs_both, files, target, database, bucket_names, s3)


@pytest.mark.parametrize("source", [DATABASE, S3])
async def test_a_crash_after_the_switch_leaves_a_leftover_that_the_rerun_removes(
    fs_both: FileStorage,
    database: DatabaseSpec,
    bucket_names: Buckets,
    s3: S3Client,
    monkeypatch: pytest.MonkeyPatch,
    source: StorageCode,
) -> None:
    target = OTHER[source]
    files = await make_files(fs_both, source, 6)
    source_class = STORE_CLASSES[source]
    real_delete = source_class.delete
    deletes = 0

    with anyio.CancelScope() as crash:

        async def dying_delete(self, file_id):  # type: ignore[no-untyped-def]
            nonlocal deletes
            deletes += 1
            if deletes == 3:  # the process dies before deleting the 3rd source copy
                crash.cancel()
                await anyio.lowlevel.checkpoint()
            await real_delete(self, file_id)

        monkeypatch.setattr(source_class, "delete", dying_delete)
        await fs_both.migrate(source, target, concurrency=1)
    assert crash.cancelled_caught
    monkeypatch.undo()

    held = await holders(fs_both, database, bucket_names, s3)
    assert sum(1 for stores in held.values() if stores == {DATABASE, S3}) == 1
    for file_id, data in files.items():  # every file readable meanwhile
        assert await fs_both.read(file_id) == data

    rerun = await fs_both.migrate(source, target)
    assert rerun.cleaned == 1
    assert rerun.migrated == 3
    assert rerun.remaining == 0
    await assert_each_file_once(fs_both, files, target, database, bucket_names, s3)


async def test_recycled_files_stay_in_their_store_and_restore_there(
    fs_both: FileStorage, database: DatabaseSpec, bucket_names: Buckets, s3: S3Client
) -> None:
    files = await make_files(fs_both, DATABASE, 3)
    recycled = next(iter(files))
    await fs_both.delete(recycled)
    report = await fs_both.migrate("Database", "S3")
    assert report.migrated == 2
    info: FileInfo = await fs_both.restore(recycled)
    assert info.storage == DATABASE
    assert await fs_both.read(recycled) == files[recycled]
    assert (await fs_both.migrate("Database", "S3")).migrated == 1
    await assert_each_file_once(fs_both, files, S3, database, bucket_names, s3)


async def test_migrating_to_the_same_store_is_refused(fs_both: FileStorage) -> None:
    with pytest.raises(ValueError, match="both S3"):
        await fs_both.migrate("S3", "s3")


async def test_a_stale_copy_in_the_target_is_replaced_only_because_nothing_references_it(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client
) -> None:
    info = await fs_both.upload("ActivityFile", uuid.uuid4(), "a.txt", b"database bytes")
    await s3.create_bucket(bucket_names.object_bucket, exist_ok=True)
    await s3.put_object(bucket_names.object_bucket, str(info.id), b"stale partial copy")

    report = await fs_both.migrate(DATABASE, S3)

    assert report.migrated == 1
    assert (await fs_both.info(info.id)).storage == S3
    assert await fs_both.read(info.id) == b"database bytes"


async def test_two_storages_migrating_at_once_split_the_files_between_them(
    fs_both: FileStorage, database: DatabaseSpec, bucket_names: Buckets, s3: S3Client
) -> None:
    files = await make_files(fs_both, DATABASE, 24)
    reports: list[MigrationReport] = []

    async def run(fs: FileStorage) -> None:
        reports.append(await fs.migrate(DATABASE, S3, batch_size=3, concurrency=2))

    async with (
        FileStorage(database, bucket_names.connection_string) as other,
        anyio.create_task_group() as group,
    ):
        group.start_soon(run, fs_both)
        group.start_soon(run, other)
    assert sum(report.migrated for report in reports) == len(files)
    # Each passed over the batches the other had claimed, rather than waiting for
    # them and finding them moved (which would count as skipped).
    assert all(report.migrated > 0 and report.skipped == 0 for report in reports), reports
    assert all(report.ok for report in reports)
    await assert_each_file_once(fs_both, files, S3, database, bucket_names, s3)
