"""Active-store routing, persisted settings, one S3 storage, configuration errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest

from s3lite import ConfigurationError, S3Client
from s3lite.storage import (
    DATABASE,
    S3,
    FileStorage,
    InvalidStorageRequest,
    StorageAlreadyConfigured,
    StorageDatabaseError,
    StorageNotConfigured,
    UnknownFeature,
    UnknownStorageCode,
)
from tests.conftest import TestServer, unique_bucket_name
from tests.storage.conftest import Buckets
from tests.storage.dbhelpers import DatabaseSpec

pytestmark = pytest.mark.anyio


async def test_switching_the_active_store_half_way_keeps_old_files_readable(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client
) -> None:
    buckets = bucket_names
    fs = fs_both
    record = uuid.uuid4()
    assert await fs.active_storage() == DATABASE
    old = await fs.upload("ActivityFile", record, "old.txt", b"in the database")
    assert await fs.set_active_storage("S3") == S3
    new = await fs.upload("ActivityFile", record, "new.txt", b"in s3")
    assert (old.storage, new.storage) == (DATABASE, S3)
    assert await fs.read(old.id) == b"in the database"
    assert await fs.read(new.id) == b"in s3"
    assert await s3.object_exists(buckets.object_bucket, str(new.id))
    assert not await s3.object_exists(buckets.object_bucket, str(old.id))
    # Deletes and restores route by the file's store, not by the active one.
    await fs.delete(old.id)
    await fs.set_active_storage("Database")
    await fs.delete(new.id)
    assert await s3.object_exists(buckets.recycle_bucket, str(new.id))
    await fs.restore(old.id)
    await fs.restore(new.id)
    assert await fs.read(old.id) == b"in the database"
    assert await fs.read(new.id) == b"in s3"


async def test_settings_and_toggles_survive_a_restart_and_are_shared(
    database: DatabaseSpec, buckets: Buckets
) -> None:
    async with (
        FileStorage(database, buckets.connection_string) as first,
        FileStorage(database, buckets.connection_string) as second,
    ):
        await first.set_active_storage("s3")  # codes are case-insensitive
        await first.set_feature("UseBaseEntityFileDeleteListener", True)
        assert await second.active_storage() == S3
        assert await second.feature("UseBaseEntityFileDeleteListener") is True
        info = await second.upload("ActivityFile", uuid.uuid4(), "a", b"shared")
        assert await first.read(info.id) == b"shared"
    async with FileStorage(database, buckets.connection_string) as again:
        assert await again.active_storage() == S3
        assert await again.features() == {"UseBaseEntityFileDeleteListener": True}


async def test_s3_cannot_be_active_without_a_connection(database: DatabaseSpec) -> None:
    async with FileStorage(database) as fs:
        with pytest.raises(StorageNotConfigured):
            await fs.set_active_storage("S3")
        assert await fs.active_storage() == DATABASE


async def test_files_in_s3_need_the_connection_to_be_read(
    database: DatabaseSpec, buckets: Buckets
) -> None:
    async with FileStorage(database, buckets.connection_string) as fs:
        await fs.set_active_storage("S3")
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a", b"x")
    async with FileStorage(database) as fs:
        assert (await fs.info(info.id)).storage == S3
        with pytest.raises(StorageNotConfigured, match="S3"):
            await fs.read(info.id)
        with pytest.raises(StorageNotConfigured):  # S3 active, but not connected here
            await fs.upload("ActivityFile", uuid.uuid4(), "b", b"y")


async def test_a_second_s3_storage_is_rejected(
    database: DatabaseSpec, buckets: Buckets, s3_server: TestServer
) -> None:
    other = s3_server.connection_string(unique_bucket_name("o2"), unique_bucket_name("r2"))
    with pytest.raises(InvalidStorageRequest, match="not both"):  # a usage error
        FileStorage(database, buckets.connection_string, config_file="ConnectionStrings.config")
    async with FileStorage(database, buckets.connection_string) as fs:
        with pytest.raises(StorageAlreadyConfigured, match="only one S3 storage"):
            await fs.connect_s3(other)
        await fs.connect_s3(buckets.connection_string)  # the same one again is fine
        await fs.set_active_storage("S3")
        await fs.upload("ActivityFile", uuid.uuid4(), "a", b"x")
    with pytest.raises(StorageAlreadyConfigured, match="already uses the S3 storage"):
        async with FileStorage(database, other):
            pass


async def test_an_unused_s3_registration_can_be_replaced(
    database: DatabaseSpec, buckets: Buckets, s3_server: TestServer
) -> None:
    async with FileStorage(database, buckets.connection_string):
        pass
    other = s3_server.connection_string(unique_bucket_name("o2"), unique_bucket_name("r2"))
    async with FileStorage(database, other) as fs:
        assert await fs.active_storage() == DATABASE


async def test_connect_s3_after_opening(database: DatabaseSpec, buckets: Buckets) -> None:
    async with FileStorage(database) as fs:
        await fs.connect_s3(buckets.connection_string)
        await fs.set_active_storage("S3")
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a", b"late")
        assert info.storage == S3


async def test_config_file_is_read(
    database: DatabaseSpec, buckets: Buckets, tmp_path: Path
) -> None:
    config = tmp_path / "ConnectionStrings.config"
    text = buckets.connection_string.replace("&", "&amp;").replace('"', "&quot;")
    config.write_text(
        f'<?xml version="1.0"?>\n<connectionStrings>\n'
        f'  <add name="s3Connection" connectionString="{text}"/>\n</connectionStrings>\n'
    )
    async with FileStorage(database, config_file=config) as fs:
        await fs.set_active_storage("S3")
        info = await fs.upload("ActivityFile", uuid.uuid4(), "a", b"configured")
        assert await fs.read(info.id) == b"configured"


async def test_bad_connection_strings_raise_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ObjectBucketName"):
        FileStorage(
            tmp_path / "f.db", "ServiceUrl=http://127.0.0.1:1; AccessKey=k; SecretKey=sEcReT9;"
        )
    with pytest.raises(ConfigurationError, match="does not exist"):
        async with FileStorage(tmp_path / "f.db", config_file=tmp_path / "missing.config"):
            pass


async def test_unknown_codes_and_features_are_rejected(database: DatabaseSpec) -> None:
    async with FileStorage(database) as fs:
        with pytest.raises(UnknownStorageCode, match="Database, S3"):
            await fs.set_active_storage("FileSystem")
        with pytest.raises(UnknownFeature, match="did you mean UseBaseEntityFileDeleteListener"):
            await fs.set_feature("UseBaseEntityFileDeleteListner", True)
        with pytest.raises(UnknownStorageCode):
            await fs.migrate("Database", "Disk")


async def test_no_secret_in_reprs_or_errors(database: DatabaseSpec, s3_server: TestServer) -> None:
    secret = s3_server.settings.secret_key
    good = s3_server.connection_string(unique_bucket_name("o"), unique_bucket_name("r"))
    fs = FileStorage(database, good)
    assert secret not in repr(fs)
    async with fs:
        assert secret not in repr(fs)
    bad = good.replace("ObjectBucketName=", "ObjectBucketName=Bad_Bucket")
    with pytest.raises(ConfigurationError) as caught:
        FileStorage(database, bad)
    assert secret not in str(caught.value)


async def test_copy_reads_from_the_files_store_and_writes_to_the_active_one(
    fs_both: FileStorage,
) -> None:
    original = await fs_both.upload("ActivityFile", uuid.uuid4(), "a.txt", b"copied across")
    await fs_both.set_active_storage("S3")
    copied = await fs_both.copy(original.id, name="b.txt")
    assert (original.storage, copied.storage) == (DATABASE, S3)
    assert copied.sha256 == original.sha256
    assert await fs_both.read(copied.id) == b"copied across"


async def test_an_unusable_database_path_raises_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageDatabaseError, match="cannot open"):
        async with FileStorage(tmp_path / "missing-folder" / "files.db"):
            pass


async def test_two_storages_on_one_database_write_and_delete_concurrently(
    database: DatabaseSpec,
) -> None:
    async with FileStorage(database) as first, FileStorage(database) as second:
        ids: list[uuid.UUID] = []

        async def work(fs: FileStorage, i: int) -> None:
            info = await fs.upload("ActivityFile", uuid.uuid4(), f"{i}", bytes([i]) * 70_000)
            ids.append(info.id)
            if i % 3 == 0:
                await (second if fs is first else first).delete(info.id)

        async with anyio.create_task_group() as group:
            for i in range(40):
                group.start_soon(work, first if i % 2 else second, i)
        live = [f async for f in first.list()]
        assert len(live) == 40 - len(range(0, 40, 3))
        for info in live:
            assert await second.read(info.id) == bytes([int(info.name)]) * 70_000
