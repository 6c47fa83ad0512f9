"""The ``Database`` content store: content in the storage database, in chunks.

Rules of this module:
- It owns the ``file_content`` and ``file_chunks`` tables.  Content is written and
  read one chunk (about 1 MiB) per call: never one giant blob in memory.  Chunks
  are cut by the shared ``Rechunker``.
- A content row is ``complete`` only after its last chunk: a crash mid-write leaves
  an incomplete row that reads refuse and the next write or ``discard`` replaces.
- Recycling flips the row's ``area`` between ``objects`` and ``recycle`` in one
  transaction: no bytes are rewritten, and there is no half-done state.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Final
from uuid import UUID

import anyio

from s3lite._body import Buffer
from s3lite._exceptions import StorageError

from ._database import Connection, Database
from ._errors import ContentConflict, ContentMissing
from ._metadata import now
from ._models import DATABASE, StorageCode
from ._stores import CHUNK_SIZE, Content, Rechunker

__all__ = ["DatabaseStore"]

_WHERE: Final = "the Database store"


def _begin(conn: Connection, file_id: str) -> None:
    with conn.transaction():
        row = conn.execute(
            "SELECT area, complete FROM file_content WHERE file_id = ?", (file_id,)
        ).fetchone()
        if row is not None and row["area"] == "recycle":
            raise StorageError(f"file {file_id} has recycled content; refusing to overwrite it")
        conn.execute("DELETE FROM file_chunks WHERE file_id = ?", (file_id,))
        conn.execute("DELETE FROM file_content WHERE file_id = ?", (file_id,))
        conn.execute("INSERT INTO file_content (file_id, area) VALUES (?, 'objects')", (file_id,))


def _append(conn: Connection, file_id: str, seq: int, data: Buffer) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO file_chunks (file_id, seq, data) VALUES (?, ?, ?)", (file_id, seq, data)
        )


def _complete(conn: Connection, file_id: str, chunks: int, size: int) -> None:
    with conn.transaction():
        cursor = conn.execute(
            "UPDATE file_content SET complete = 1, chunks = ?, size = ? "
            "WHERE file_id = ? AND area = 'objects' AND complete = 0",
            (chunks, size, file_id),
        )
        if cursor.rowcount != 1:
            raise ContentMissing(file_id, f"{_WHERE} (the write was discarded)")


def _remove(conn: Connection, file_id: str, condition: str) -> None:
    with conn.transaction():
        row = conn.execute(
            f"SELECT 1 FROM file_content WHERE file_id = ? AND {condition}", (file_id,)
        ).fetchone()
        if row is not None:
            conn.execute("DELETE FROM file_chunks WHERE file_id = ?", (file_id,))
            conn.execute("DELETE FROM file_content WHERE file_id = ?", (file_id,))


def _chunk_count(conn: Connection, file_id: str) -> int | None:
    row = conn.execute(
        "SELECT chunks FROM file_content WHERE file_id = ? AND area = 'objects' AND complete = 1",
        (file_id,),
    ).fetchone()
    return None if row is None else int(row[0])


def _chunk(conn: Connection, file_id: str, seq: int) -> bytes | None:
    row = conn.execute(
        "SELECT data FROM file_chunks WHERE file_id = ? AND seq = ?", (file_id, seq)
    ).fetchone()
    return None if row is None else bytes(row[0])


def _copy(conn: Connection, source_id: str, target_id: str) -> bool:
    with conn.transaction():
        row = conn.execute(
            "SELECT chunks, size FROM file_content "
            "WHERE file_id = ? AND area = 'objects' AND complete = 1",
            (source_id,),
        ).fetchone()
        if row is None:
            return False
        conn.execute("DELETE FROM file_chunks WHERE file_id = ?", (target_id,))
        conn.execute("DELETE FROM file_content WHERE file_id = ?", (target_id,))
        conn.execute(
            "INSERT INTO file_chunks (file_id, seq, data) "
            "SELECT CAST(? AS TEXT), seq, data FROM file_chunks WHERE file_id = ?",
            (target_id, source_id),
        )
        conn.execute(
            "INSERT INTO file_content (file_id, area, complete, chunks, size) "
            "VALUES (?, 'objects', 1, ?, ?)",
            (target_id, row["chunks"], row["size"]),
        )
        return True


def _move(conn: Connection, file_id: str, source: str, target: str, at: str) -> bool:
    """Move complete content between areas; true if it is (now or already) in ``target``."""
    with conn.transaction():
        row = conn.execute(
            "SELECT area FROM file_content WHERE file_id = ? AND complete = 1", (file_id,)
        ).fetchone()
        if row is None:
            return False
        if row["area"] == source:
            recycled_at = at if target == "recycle" else None
            conn.execute(
                "UPDATE file_content SET area = ?, recycled_at = ? WHERE file_id = ?",
                (target, recycled_at, file_id),
            )
        return True


class DatabaseStore:
    """Content in the storage database itself (SQLite or PostgreSQL; the default store)."""

    code: StorageCode = DATABASE

    def __init__(self, db: Database, chunk_size: int = CHUNK_SIZE) -> None:
        self._db = db
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"DatabaseStore({self._db.name!r})"

    async def read(self, file_id: UUID) -> AsyncGenerator[bytes, None]:
        key = str(file_id)
        count = await self._db.run(_chunk_count, key)
        if count is None:
            raise ContentMissing(file_id, _WHERE)
        for seq in range(count):
            data = await self._db.run(_chunk, key, seq)
            if data is None:
                raise ContentMissing(file_id, f"{_WHERE} (removed while it was read)")
            yield data

    async def write(self, file_id: UUID, content: Content, *, create_only: bool = False) -> None:
        # The file's lock is held by whoever writes with create_only (the migration), and
        # no other writer uses this id, so a check before the write cannot be raced.
        if create_only and await self.exists(file_id):
            raise ContentConflict(file_id, _WHERE)
        writer = await self.begin_write(file_id)
        try:
            async with aclosing(content.chunks(self.chunk_size)) as chunks:
                async for chunk in chunks:
                    await writer.write(chunk)
            await writer.complete()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await writer.abort()
            raise

    async def begin_write(self, file_id: UUID) -> _ChunkWriter:
        await self._db.run(_begin, str(file_id))
        return _ChunkWriter(self._db, str(file_id), self.chunk_size)

    async def copy(self, source_id: UUID, target_id: UUID) -> None:
        if not await self._db.run(_copy, str(source_id), str(target_id)):
            raise ContentMissing(source_id, _WHERE)

    async def exists(self, file_id: UUID) -> bool:
        return await self._db.run(_chunk_count, str(file_id)) is not None

    async def delete(self, file_id: UUID) -> None:
        await self._db.run(_remove, str(file_id), "area = 'objects'")

    def check_recycle(self) -> None:
        """The Database store can always recycle."""

    async def recycle(self, file_id: UUID) -> None:
        if not await self._db.run(_move, str(file_id), "objects", "recycle", now()):
            raise ContentMissing(file_id, _WHERE)

    async def restore(self, file_id: UUID) -> None:
        if not await self._db.run(_move, str(file_id), "recycle", "objects", now()):
            raise ContentMissing(file_id, f"the recycle area of {_WHERE}")

    async def purge(self, file_id: UUID) -> None:
        await self._db.run(_remove, str(file_id), "area = 'recycle'")

    async def discard(self, file_id: UUID) -> None:
        await self._db.run(_remove, str(file_id), "area = 'objects'")


class _ChunkWriter:
    """Appends content to the Database store one chunk per transaction."""

    def __init__(self, db: Database, file_id: str, chunk_size: int) -> None:
        self._db = db
        self._file_id = file_id
        self._chunks = Rechunker(chunk_size, self._flush)
        self._seq = 0
        self._size = 0
        self._done = False

    async def _flush(self, data: Buffer) -> None:
        await self._db.run(_append, self._file_id, self._seq, data)
        self._seq += 1

    async def write(self, data: Buffer) -> None:
        if self._done:
            raise RuntimeError("this write has already been completed or aborted")
        await self._chunks.write(data)
        self._size += len(data)

    async def complete(self) -> None:
        if self._done:
            raise RuntimeError("this write has already been completed or aborted")
        last = self._chunks.remainder()
        if last:
            await self._flush(last)
        await self._db.run(_complete, self._file_id, self._seq, self._size)
        self._done = True

    async def abort(self) -> None:
        if not self._done:
            self._done = True
            self._chunks.remainder()
            await self._db.run(_remove, self._file_id, "area = 'objects' AND complete = 0")
