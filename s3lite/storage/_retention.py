"""Retention of recycled files: the recycle bucket's lifecycle rule, and purging.

Rules of this module:
- On S3, a lifecycle rule (id ``s3lite-recycle-expiry``) on the recycle bucket
  expires recycled objects after N days; other rules on the bucket are kept.
- ``purge`` removes recycled files older than the retention period for good, in
  every configured store (their content, then their metadata row).  For S3 it
  only does early what the lifecycle rule would do anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from s3lite._exceptions import NoSuchBucket, S3Error
from s3lite._models import LifecycleRule

from ._errors import InvalidStorageRequest
from ._locks import FileLocks
from ._metadata import Metadata
from ._models import PurgeReport, StorageCode
from ._recycling import StoreLookup
from ._s3_store import S3Store

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "RECYCLE_RETENTION_DAYS",
    "RULE_ID",
    "check_days",
    "purge",
    "put_recycle_rule",
    "recycle_rule",
]

DEFAULT_RETENTION_DAYS = 90
RECYCLE_RETENTION_DAYS = "RecycleRetentionDays"
"""The setting holding the retention period used by ``purge`` (and the rule)."""
RULE_ID = "s3lite-recycle-expiry"


def check_days(days: object) -> int:
    """A retention period: a whole number of days from 1 to 36500."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500:
        raise InvalidStorageRequest(f"days must be an int from 1 to 36500, got {days!r}")
    return days


async def put_recycle_rule(store: S3Store, days: int) -> LifecycleRule:
    """Put (or replace) the rule expiring the recycle bucket's objects after ``days``."""
    store.check_recycle()
    assert store.recycle_bucket is not None
    await store.ensure_buckets()
    rules = await store.client.get_bucket_lifecycle(store.recycle_bucket)
    rule = LifecycleRule(id=RULE_ID, days=days)
    if rule not in rules:
        kept = [r for r in rules if r.id != RULE_ID]
        await store.client.put_bucket_lifecycle(store.recycle_bucket, [*kept, rule])
    return rule


async def recycle_rule(store: S3Store) -> LifecycleRule | None:
    """The rule that expires the whole recycle bucket soonest (ours first), or ``None``."""
    store.check_recycle()
    assert store.recycle_bucket is not None
    try:
        rules = await store.client.get_bucket_lifecycle(store.recycle_bucket)
    except NoSuchBucket:
        return None
    whole = [r for r in rules if r.enabled and not r.prefix]
    for rule in whole:
        if rule.id == RULE_ID:
            return rule
    return min(whole, key=lambda r: r.days, default=None)


async def _purge_one(
    meta: Metadata, stores: StoreLookup, file_id: UUID, storage: StorageCode
) -> bool:
    current = await meta.get(file_id)
    if current is None or current.state != "deleted":
        return False  # restored meanwhile
    await stores(storage).purge(file_id)
    return await meta.delete_row(file_id, "deleted")


async def purge(
    meta: Metadata, stores: StoreLookup, locks: FileLocks, older_than: timedelta
) -> PurgeReport:
    """Remove recycled files deleted more than ``older_than`` ago, content and metadata."""
    cutoff = (datetime.now(UTC) - older_than).isoformat(timespec="microseconds")
    purged, failed = 0, list[tuple[UUID, str]]()
    for info in await meta.in_state("deleted", before=cutoff):
        try:
            async with locks.hold(info.id):
                purged += await _purge_one(meta, stores, info.id, info.storage)
        except S3Error as error:
            failed.append((info.id, str(error)))
    return PurgeReport(purged=purged, failed=tuple(failed))
