"""Per-file locks: one operation at a time changes a file, across tasks and processes.

Rules of this module:
- In one process, an ``anyio.Lock`` per file id, existing only while someone holds
  or waits for it (the table does not grow with the number of files).
- Across processes, a lease row in the database (``leases``), taken with the lock
  and released with it.  A lease expires after ``lease_seconds``, and a lease of a
  process that died on this host is taken over at once, so a crash never blocks a
  file for long.  Waiting for a lease ends in ``FileBusy`` after ``wait_seconds``.
- Only operations that move content (delete, restore, migration, repair, purge)
  take the lock; reads and new uploads do not need it.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID, uuid4

import anyio

from ._errors import FileBusy
from ._metadata import Metadata

__all__ = ["FileLocks", "process_is_gone"]

_HOST = socket.gethostname()


def process_is_gone(owner: str) -> bool:
    """Whether a lease owner (``host:pid:token``) is a process of this host that has exited."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != _HOST or not parts[1].isdigit() or sys.platform == "win32":
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: it exists
        return False
    return False


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = anyio.Lock()
        self.users = 0


class FileLocks:
    """One lock per file id: an ``anyio.Lock`` in this process and a lease in the database."""

    def __init__(
        self, meta: Metadata, *, lease_seconds: float = 900.0, wait_seconds: float = 60.0
    ) -> None:
        self._meta = meta
        self.owner = f"{_HOST}:{os.getpid()}:{uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self._entries: dict[UUID, _Entry] = {}

    @asynccontextmanager
    async def hold(self, file_id: UUID) -> AsyncIterator[None]:
        """Hold the lock of ``file_id`` for the ``async with`` block."""
        entry = self._entries.setdefault(file_id, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                await self._lease(file_id)
                try:
                    yield
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._meta.release_lease(file_id, self.owner)
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[file_id]

    async def _lease(self, file_id: UUID) -> None:
        delay, holder = 0.02, "unknown"
        with anyio.move_on_after(self.wait_seconds):
            while True:
                found = await self._meta.acquire_lease(
                    file_id, self.owner, self.lease_seconds, process_is_gone
                )
                if found is None:
                    return
                holder = found
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.5)
        raise FileBusy(file_id, holder)
