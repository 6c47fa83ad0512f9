"""Retention: the recycle bucket's lifecycle rule and purging recycled files."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3lite import LifecycleRule, S3Client
from s3lite.storage import FileStorage, InvalidStorageRequest, StorageNotConfigured
from tests.storage.conftest import Buckets

pytestmark = pytest.mark.anyio


async def test_lifecycle_rule_expires_the_recycle_bucket_after_n_days(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client
) -> None:
    assert await fs_both.recycle_lifecycle() is None
    rule = await fs_both.put_recycle_lifecycle()
    assert (rule.days, rule.prefix, rule.enabled) == (90, "", True)
    assert await fs_both.recycle_lifecycle() == rule
    assert await s3.get_bucket_lifecycle(bucket_names.recycle_bucket) == [rule]
    assert await fs_both.retention_days() == 90

    shorter = await fs_both.put_recycle_lifecycle(30)
    assert await fs_both.recycle_lifecycle() == shorter
    assert await fs_both.retention_days() == 30


async def test_putting_the_rule_keeps_other_rules(
    fs_both: FileStorage, bucket_names: Buckets, s3: S3Client
) -> None:
    await fs_both.put_recycle_lifecycle(10)
    other = LifecycleRule(id="tmp-cleanup", days=1, prefix="tmp/")
    rules = await s3.get_bucket_lifecycle(bucket_names.recycle_bucket)
    await s3.put_bucket_lifecycle(bucket_names.recycle_bucket, [*rules, other])
    await fs_both.put_recycle_lifecycle(20)
    kept = {r.id: r.days for r in await s3.get_bucket_lifecycle(bucket_names.recycle_bucket)}
    assert kept == {"tmp-cleanup": 1, "s3lite-recycle-expiry": 20}


async def test_lifecycle_needs_s3_and_sane_days(tmp_path: Path, fs_both: FileStorage) -> None:
    with pytest.raises(InvalidStorageRequest):
        await fs_both.put_recycle_lifecycle(0)
    async with FileStorage(tmp_path / "other.db") as fs:
        with pytest.raises(StorageNotConfigured):
            await fs.put_recycle_lifecycle()
