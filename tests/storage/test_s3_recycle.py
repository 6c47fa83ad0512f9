"""Soft deletion on S3: copy into the recycle bucket, then delete; crashes in between."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from s3lite import NotImplementedByServer, S3Client
from s3lite.storage import ContentConflict, FileDeleted, FileStorage, StorageNotConfigured
from s3lite.storage._s3_store import S3Store
from tests.conftest import TestServer, empty_and_delete_bucket, unique_bucket_name
from tests.storage.conftest import Buckets
from tests.storage.dbhelpers import DatabaseSpec

pytestmark = pytest.mark.anyio


class SimulatedCrash(Exception):
    """Stands for the process dying between two steps."""


def crash_when_removing_from(monkeypatch: pytest.MonkeyPatch, bucket: str) -> None:
    """Make the delete step (after the copy) fail once for ``bucket``."""
    real = S3Store._remove

    async def remove(self: S3Store, target: str, key: str) -> None:
        if target == bucket:
            monkeypatch.setattr(S3Store, "_remove", real)
            raise SimulatedCrash(f"crash before deleting {key} from {target}")
        await real(self, target, key)

    monkeypatch.setattr(S3Store, "_remove", remove)


async def test_delete_moves_the_object_into_the_recycle_bucket(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client
) -> None:
    await fs_both.set_active_storage("S3")
    info = await fs_both.upload("ActivityFile", uuid.uuid4(), "a.txt", b"recycle me")
    await fs_both.delete(info.id)
    assert not await s3.object_exists(bucket_names.object_bucket, str(info.id))
    assert (
        await (await s3.get_object(bucket_names.recycle_bucket, str(info.id))).read()
        == b"recycle me"
    )
    await fs_both.restore(info.id)
    assert await s3.object_exists(bucket_names.object_bucket, str(info.id))
    assert not await s3.object_exists(bucket_names.recycle_bucket, str(info.id))


@pytest.mark.parametrize("finish", ["repair", "delete again"])
async def test_a_crash_between_copy_and_delete_loses_nothing_and_is_repaired(
    fs_both: FileStorage,
    bucket_names: Buckets,
    s3: S3Client,
    monkeypatch: pytest.MonkeyPatch,
    finish: str,
) -> None:
    fs = fs_both
    await fs.set_active_storage("S3")
    info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"precious")
    key = str(info.id)
    crash_when_removing_from(monkeypatch, bucket_names.object_bucket)
    with pytest.raises(SimulatedCrash):
        await fs.delete(info.id)
    # Half done: copied into the recycle bucket, still in the object bucket.
    assert (await fs.info(info.id)).state == "deleting"
    assert await s3.object_exists(bucket_names.object_bucket, key)
    assert await s3.object_exists(bucket_names.recycle_bucket, key)
    with pytest.raises(FileDeleted):
        await fs.read(info.id)

    if finish == "repair":
        assert (await fs.repair()).deletes_finished == 1
    else:
        assert (await fs.delete(info.id)).state == "deleted"
    assert (await fs.info(info.id)).state == "deleted"
    assert not await s3.object_exists(bucket_names.object_bucket, key)
    assert await (await s3.get_object(bucket_names.recycle_bucket, key)).read() == b"precious"
    await fs.restore(info.id)
    assert await fs.read(info.id) == b"precious"


async def test_a_crash_during_restore_is_finished_by_delete_then_deletes(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = fs_both
    await fs.set_active_storage("S3")
    info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"both ways")
    await fs.delete(info.id)
    crash_when_removing_from(monkeypatch, bucket_names.recycle_bucket)
    with pytest.raises(SimulatedCrash):
        await fs.restore(info.id)
    assert (await fs.info(info.id)).state == "restoring"
    # A delete finishes the interrupted restore first, then deletes.
    assert (await fs.delete(info.id)).state == "deleted"
    assert not await s3.object_exists(bucket_names.object_bucket, str(info.id))
    await fs.restore(info.id)
    assert await fs.read(info.id) == b"both ways"


async def test_a_crash_after_both_steps_is_finished_too(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Content already gone from the object bucket counts as moved."""
    fs = fs_both
    await fs.set_active_storage("S3")
    info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"moved")
    key = str(info.id)
    await s3.copy_object(bucket_names.object_bucket, key, bucket_names.recycle_bucket, key)
    await s3.delete_object(bucket_names.object_bucket, key)
    await fs.delete(info.id)
    assert (await fs.info(info.id)).state == "deleted"
    await fs.restore(info.id)
    assert await fs.read(info.id) == b"moved"


async def test_without_a_recycle_bucket_s3_files_cannot_be_deleted(
    database: DatabaseSpec, s3_server: TestServer, s3: S3Client
) -> None:
    objects = unique_bucket_name("obj")
    text = s3_server.connection_string(objects, "unused").replace(" RecycleBucketName=unused;", "")
    assert "RecycleBucketName" not in text
    try:
        async with FileStorage(database, text) as fs:
            await fs.set_active_storage("S3")
            info = await fs.upload("ActivityFile", uuid.uuid4(), "a.txt", b"stays")
            with pytest.raises(StorageNotConfigured, match="RecycleBucketName"):
                await fs.delete(info.id)
            assert (await fs.info(info.id)).state == "active"
            assert await fs.read(info.id) == b"stays"
    finally:
        await empty_and_delete_bucket(s3, objects)


async def test_recycling_never_overwrites_other_content_in_the_recycle_bucket(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client
) -> None:
    await fs_both.set_active_storage("S3")
    info = await fs_both.upload("ActivityFile", uuid.uuid4(), "a.txt", b"the file")
    # Something else already sits under the file's key in the recycle bucket.
    await s3.put_object(bucket_names.recycle_bucket, str(info.id), b"someone else's bytes")

    with pytest.raises(ContentConflict):
        await fs_both.delete(info.id)

    kept = await s3.get_object(bucket_names.object_bucket, str(info.id))
    assert await kept.read() == b"the file"  # the content was not moved, nor lost
    recycled = await s3.get_object(bucket_names.recycle_bucket, str(info.id))
    assert await recycled.read() == b"someone else's bytes"  # and nothing overwritten
    assert (await fs_both.info(info.id)).state == "deleting"  # stopped half-way, visibly

    await s3.delete_object(bucket_names.recycle_bucket, str(info.id))  # the stale copy goes
    await fs_both.delete(info.id)  # and the move finishes
    assert (await fs_both.info(info.id)).state == "deleted"
    await fs_both.restore(info.id)
    assert await fs_both.read(info.id) == b"the file"


async def test_a_copy_left_by_an_interrupted_recycle_counts_as_done(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client
) -> None:
    await fs_both.set_active_storage("S3")
    info = await fs_both.upload("ActivityFile", uuid.uuid4(), "a.txt", b"moved once")
    await s3.copy_object(
        bucket_names.object_bucket, str(info.id), bucket_names.recycle_bucket, str(info.id)
    )
    await fs_both.delete(info.id)  # the same bytes are already there: the move completes
    assert not await s3.object_exists(bucket_names.object_bucket, str(info.id))
    await fs_both.restore(info.id)
    assert await fs_both.read(info.id) == b"moved once"


async def test_a_server_that_refuses_conditional_copies_is_checked_with_a_head(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fs_both.set_active_storage("S3")
    info = await fs_both.upload("ActivityFile", uuid.uuid4(), "a.txt", b"plain copy")
    real_copy = S3Client.copy_object
    refused: list[str] = []

    async def copy_refusing_conditions(self: S3Client, *args: Any, **kwargs: Any) -> Any:
        if "if_none_match" in kwargs:
            refused.append(args[1])
            raise NotImplementedByServer("NotImplemented", "no conditions", status=501)
        return await real_copy(self, *args, **kwargs)

    monkeypatch.setattr(S3Client, "copy_object", copy_refusing_conditions)
    await fs_both.delete(info.id)
    await fs_both.restore(info.id)
    assert refused == [str(info.id)]  # asked once, then remembered
    assert await fs_both.read(info.id) == b"plain copy"
