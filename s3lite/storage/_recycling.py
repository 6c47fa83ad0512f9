"""Soft delete and restore as one state machine, and the repair of interrupted work.

Rules of this module:
- A move is data (the ``DELETE`` and ``RESTORE`` table rows): mark the file
  ``during``, move its content in the store that holds it, mark it ``end``.
      delete:  active  -> deleting  -> (store.recycle) -> deleted
      restore: deleted -> restoring -> (store.restore) -> active
- A file found in ``during`` (a crash, an error, another task) is finished by
  rerunning the store step, which is idempotent.  A file found in the *other*
  move's ``during`` state has that move finished first.
- The state is never rolled back after an error: the next call or ``repair``
  finishes what was started, so content is always in exactly one known place.
- The caller holds the file's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from s3lite._exceptions import S3Error, StorageError

from ._errors import FileNotFoundInStorage
from ._locks import FileLocks, process_is_gone
from ._metadata import Metadata
from ._models import FileInfo, FileState, RepairReport, StorageCode
from ._stores import ContentStore

__all__ = ["DELETE", "RESTORE", "Move", "StoreLookup", "advance", "remove_leftovers", "repair"]

logger = logging.getLogger("s3lite.storage")

StoreLookup = Callable[[StorageCode], ContentStore]
"""The store for a code; raises ``StorageNotConfigured`` when it has no connection."""


@dataclass(frozen=True, slots=True)
class Move:
    """One direction of the recycle state machine."""

    name: str
    start: FileState
    during: FileState
    end: FileState
    step: Callable[[ContentStore, UUID], Awaitable[None]]


DELETE = Move("delete", "active", "deleting", "deleted", lambda store, i: store.recycle(i))
RESTORE = Move("restore", "deleted", "restoring", "active", lambda store, i: store.restore(i))
_OTHER = {DELETE.name: RESTORE, RESTORE.name: DELETE}


async def advance(meta: Metadata, stores: StoreLookup, file_id: UUID, move: Move) -> FileInfo:
    """Bring the file to ``move.end`` (finishing any interrupted move first)."""
    other = _OTHER[move.name]
    for _ in range(4):
        info = await meta.get(file_id)
        if info is None or info.state == "uploading":
            raise FileNotFoundInStorage(file_id)
        if info.state == move.end:
            return info
        if info.state == other.during:
            await advance(meta, stores, file_id, other)
            continue
        store = stores(info.storage)
        store.check_recycle()
        if info.state == move.start:
            marked = await meta.move_state(file_id, move.start, move.during, deleted=True)
            if marked is None:
                continue  # changed under us (another process): look again
        await move.step(store, file_id)
        done = await meta.move_state(file_id, move.during, move.end, deleted=move.end != "active")
        if done is not None:
            return done
    raise StorageError(f"file {file_id} kept changing state during {move.name}; try again")


async def _remove_leftover(
    meta: Metadata, stores: StoreLookup, file_id: UUID, code: StorageCode
) -> bool:
    current = await meta.stale_of(file_id)
    if current is None or current[1] != code or current[0] == code:
        return False  # changed meanwhile: the leftover is gone, or it is the content now
    await stores(code).delete(file_id)
    await meta.clear_stale(file_id, code)
    return True


async def remove_leftovers(
    meta: Metadata, stores: StoreLookup, locks: FileLocks
) -> tuple[int, list[tuple[UUID, str]]]:
    """Delete copies that interrupted migrations left in the store a file moved away from."""
    removed, failed = 0, []
    for file_id, code in await meta.stale():
        try:
            async with locks.hold(file_id):
                removed += await _remove_leftover(meta, stores, file_id, code)
        except S3Error as error:
            logger.warning("could not remove the leftover %s copy of %s: %s", code, file_id, error)
            failed.append((file_id, str(error)))
    return removed, failed


async def _discard_abandoned(meta: Metadata, stores: StoreLookup, info: FileInfo) -> bool:
    await stores(info.storage).discard(info.id)
    return await meta.delete_row(info.id, "uploading")


async def repair(
    meta: Metadata, stores: StoreLookup, locks: FileLocks, *, abandoned_after: timedelta
) -> RepairReport:
    """Finish interrupted deletes and restores, remove migration leftovers, and discard
    uploads unfinished for longer than ``abandoned_after``."""
    counts = {DELETE.name: 0, RESTORE.name: 0}
    failed: list[tuple[UUID, str]] = []
    for move in (DELETE, RESTORE):
        for info in await meta.in_state(move.during):
            try:
                async with locks.hold(info.id):
                    await advance(meta, stores, info.id, move)
            except FileNotFoundInStorage:
                continue
            except S3Error as error:
                logger.warning("could not finish the %s of %s: %s", move.name, info.id, error)
                failed.append((info.id, str(error)))
            else:
                counts[move.name] += 1
    removed, leftover_failures = await remove_leftovers(meta, stores, locks)
    failed.extend(leftover_failures)
    discarded = 0
    cutoff = (datetime.now(UTC) - abandoned_after).isoformat(timespec="microseconds")
    for info in await meta.in_state("uploading", before=cutoff):
        try:
            async with locks.hold(info.id):
                discarded += await _discard_abandoned(meta, stores, info)
        except S3Error as error:
            failed.append((info.id, str(error)))
    released = await meta.release_abandoned_leases(process_is_gone)
    return RepairReport(
        deletes_finished=counts[DELETE.name],
        restores_finished=counts[RESTORE.name],
        leftovers_removed=removed,
        uploads_discarded=discarded,
        failed=tuple(failed),
        leases_released=released,
    )
