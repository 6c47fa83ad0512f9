"""Migration of file content between stores (Database -> S3 and back).

Rules of this module:
- Per file, under its lock: stream the content source -> target (checking it against
  the metadata's size and SHA-256), re-read the target copy and check it again,
  switch the file's ``storage`` in one conditional transaction (which also records
  the source as holding a leftover copy), then delete the source copy and clear
  that record.  Until the switch, reads use the source; after it, the target.
- Resumable and idempotent: the target is written create-only (never over other
  content); an earlier partial copy, unreferenced by the metadata, is removed first;
  leftovers of a run interrupted after the switch are deleted at the start of
  the next run (or by ``repair``).  Nothing is copied twice or lost.
- A file that fails is logged, counted with its error, and stays in the source.
- Batches are claimed (``Metadata.claim_candidates``): files another host is
  migrating at the same time are passed over, not waited for; the files a run
  leaves behind (limits, failures, another host's) count in ``remaining``.
- Only active files migrate.  Recycled files stay in their store's recycle area,
  where their store's retention removes them; ``restore`` returns them there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from uuid import UUID

import anyio

from s3lite._exceptions import IntegrityError, S3Error

from ._errors import ContentConflict, InvalidStorageRequest
from ._locks import FileLocks, process_is_gone
from ._metadata import Metadata
from ._models import MigrationFailure, MigrationReport, StorageCode
from ._recycling import StoreLookup, remove_leftovers
from ._stores import Content, ContentStore, Digest

__all__ = ["MigrationOptions", "migrate"]

logger = logging.getLogger("s3lite.storage")


@dataclass(frozen=True, slots=True)
class MigrationOptions:
    """Which files to migrate and how (see ``FileStorage.migrate``)."""

    schemas: tuple[str, ...] | None = None
    exclude_schemas: tuple[str, ...] | None = None
    limit: int | None = None
    batch_size: int = 100
    concurrency: int = 4
    progress: Callable[[MigrationReport], object] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 0):
            raise InvalidStorageRequest(f"limit must be an int >= 0 or None, got {self.limit!r}")
        if not 1 <= self.batch_size <= 10_000:
            raise InvalidStorageRequest("batch_size must be between 1 and 10000")
        if not 1 <= self.concurrency <= 64:
            raise InvalidStorageRequest("concurrency must be between 1 and 64")


async def migrate(
    meta: Metadata,
    stores: StoreLookup,
    locks: FileLocks,
    source: StorageCode,
    target: StorageCode,
    options: MigrationOptions,
) -> MigrationReport:
    """Move active files from ``source`` to ``target``; see the module rules."""
    if source == target:
        raise InvalidStorageRequest(f"source and target are both {source}; nothing to migrate")
    source_store, target_store = stores(source), stores(target)
    cleaned, _ = await remove_leftovers(meta, stores, locks)
    report = MigrationReport(source, target, cleaned=cleaned)
    attempted, after = 0, ""
    limiter = anyio.CapacityLimiter(options.concurrency)

    async def one(file_id: UUID) -> None:
        nonlocal report
        async with limiter:
            try:
                async with locks.hold(file_id):
                    moved = await _migrate_file(meta, source_store, target_store, file_id)
            except S3Error as error:
                logger.warning(
                    "file %s was not migrated from %s to %s: %s", file_id, source, target, error
                )
                info = await meta.get(file_id)
                failure = MigrationFailure(file_id, info.name if info else "", str(error))
                report = replace(report, failed=(*report.failed, failure))
            else:
                if moved is None:
                    report = replace(report, skipped=report.skipped + 1)
                else:
                    report = replace(
                        report, migrated=report.migrated + 1, bytes=report.bytes + moved
                    )
            if options.progress is not None:
                options.progress(report)

    while options.limit is None or attempted < options.limit:
        size = options.batch_size
        if options.limit is not None:
            size = min(size, options.limit - attempted)
        batch, last = await meta.claim_candidates(
            source,
            options.schemas,
            options.exclude_schemas,
            after,
            size,
            locks.owner,
            locks.lease_seconds,
            process_is_gone,
        )
        if last is None:
            break
        after = last
        attempted += len(batch)
        try:
            async with anyio.create_task_group() as group:
                for info in batch:
                    group.start_soon(one, info.id)
        except ExceptionGroup as group_error:  # a bug, not a per-file failure: unwrap it
            if len(group_error.exceptions) == 1:
                raise group_error.exceptions[0] from None
            raise
        finally:  # the claims of files not reached (a cancellation, a bug)
            with anyio.CancelScope(shield=True):
                await meta.release_leases([info.id for info in batch], locks.owner)
    remaining = await meta.count_candidates(source, options.schemas, options.exclude_schemas)
    return replace(report, remaining=remaining)


async def _migrate_file(
    meta: Metadata, source: ContentStore, target: ContentStore, file_id: UUID
) -> int | None:
    """Migrate one file; its size when moved, ``None`` when it changed meanwhile."""
    info = await meta.get(file_id)
    if info is None or info.state != "active" or info.storage != source.code:
        return None
    expected = (info.size, info.sha256)

    async def copy_to_target() -> Digest:
        copied = Digest()
        async with aclosing(source.read(file_id)) as chunks:
            await target.write(file_id, Content(chunks, copied), create_only=True)
        return copied

    try:
        try:
            copied = await copy_to_target()
        except ContentConflict:
            # A copy left by an interrupted run: the metadata says it is not the file's
            # content, so it is removed, and the copy written anew (never over it).
            await _drop_copy(meta, target, file_id)
            copied = await copy_to_target()
        if (copied.size, copied.sha256) != expected:
            raise IntegrityError(
                f"the {source.code} content of file {file_id} does not match its metadata "
                f"({copied.size} bytes, SHA-256 {copied.sha256[:12]}...; expected "
                f"{info.size} bytes, {str(info.sha256)[:12]}...)"
            )
        check = Digest()
        async with aclosing(target.read(file_id)) as chunks:
            async for chunk in chunks:
                check.update(chunk)
        if (check.size, check.sha256) != expected:
            raise IntegrityError(
                f"the {target.code} copy of file {file_id} differs from the source after "
                f"writing ({check.size} of {info.size} bytes)"
            )
        switched = await meta.switch_storage(file_id, source.code, target.code, copied.sha256)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _drop_copy(meta, target, file_id)
        raise
    if not switched:
        await _drop_copy(meta, target, file_id)
        return None
    try:
        await source.delete(file_id)
        await meta.clear_stale(file_id, source.code)
    except S3Error as error:  # the file is migrated; the leftover goes on the next run
        logger.warning("file %s migrated, but its %s copy remains: %s", file_id, source.code, error)
    return info.size


async def _drop_copy(meta: Metadata, target: ContentStore, file_id: UUID) -> None:
    """Delete a target copy that did not become the file's content (best effort)."""
    try:
        latest = await meta.get(file_id)
        if latest is None or latest.storage != target.code:
            await target.delete(file_id)
    except S3Error as error:
        logger.warning("could not remove the %s copy of %s: %s", target.code, file_id, error)
