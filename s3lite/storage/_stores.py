"""The content-store interface, and the helpers every store and caller shares.

Rules of this module:
- A store keeps content by file id in two areas, *objects* and *recycle* (S3: the
  object and recycle buckets; Database: a flag on the content row).  It knows
  nothing of metadata: the caller decides which store holds a file.
- Every method is idempotent, so a rerun after a crash finishes the job:
  ``recycle`` and ``restore`` copy first and delete second, and accept content
  already moved.  ``delete``, ``purge`` and ``discard`` accept missing content.
- New content reaches a store once, as a ``Content``: a replayable body (bytes, a
  path, a seekable file) can be handed on as it is, a stream stays a stream; either
  way its size and SHA-256 are recorded from the caller's bytes.  Nothing holds a
  whole file.
- Written bytes are cut into blocks by one ``Rechunker``: one copy per block at
  most, none for blocks that already have the size.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import IO, Protocol
from uuid import UUID

import anyio
import anyio.lowlevel
import anyio.to_thread

from s3lite._body import (
    Body,
    Buffer,
    StreamSource,
    is_replayable_body,
    make_source,
    whole_bytes,
)
from s3lite._exceptions import IntegrityError

from ._models import StorageCode

__all__ = ["CHUNK_SIZE", "Content", "ContentStore", "Digest", "PartWriter", "Rechunker"]

CHUNK_SIZE = 1024 * 1024
"""Bytes per chunk read from a caller's content and per row of the Database store."""


class PartWriter(Protocol):
    """Content written in parts (first / next / final): ``write`` ... ``complete``."""

    async def write(self, data: Buffer) -> None:
        """Append ``data`` (not kept after the call returns)."""
        ...

    async def complete(self) -> None:
        """Store everything written so far as the file's content."""
        ...

    async def abort(self) -> None:
        """Discard everything written; safe to call more than once."""
        ...


class ContentStore(Protocol):
    """Where file content lives; see the module rules."""

    code: StorageCode

    def read(self, file_id: UUID) -> AsyncGenerator[bytes, None]:
        """The content in chunks; raises ``ContentMissing`` when it is not in *objects*."""
        ...

    async def write(self, file_id: UUID, content: Content, *, create_only: bool = False) -> None:
        """Store the content (replacing any earlier, unreferenced copy); its size and
        SHA-256 end up in ``content.digest``.  With ``create_only``, content already held
        under ``file_id`` is never replaced: ``ContentConflict``."""
        ...

    async def begin_write(self, file_id: UUID) -> PartWriter:
        """Start writing content in parts."""
        ...

    async def copy(self, source_id: UUID, target_id: UUID) -> None:
        """Copy content within the store (server-side where possible)."""
        ...

    async def exists(self, file_id: UUID) -> bool:
        """Whether the content is complete in *objects*."""
        ...

    async def delete(self, file_id: UUID) -> None:
        """Remove the content from *objects* for good (it was copied elsewhere)."""
        ...

    def check_recycle(self) -> None:
        """Raise ``StorageNotConfigured`` unless soft delete is possible."""
        ...

    async def recycle(self, file_id: UUID) -> None:
        """Move the content from *objects* to *recycle*: copy first, then delete."""
        ...

    async def restore(self, file_id: UUID) -> None:
        """Move the content from *recycle* back to *objects*: copy first, then delete."""
        ...

    async def purge(self, file_id: UUID) -> None:
        """Remove the content from *recycle* for good."""
        ...

    async def discard(self, file_id: UUID) -> None:
        """Remove what an unfinished write left behind (partial content, parts)."""
        ...


class Digest:
    """Size and SHA-256 of bytes seen so far; reports progress to an optional callback."""

    def __init__(self, progress: Callable[[int], object] | None = None) -> None:
        self.size = 0
        self._sha = hashlib.sha256()
        self._progress = progress

    def update(self, data: Buffer) -> None:
        self.size += len(data)
        self._sha.update(data)
        if self._progress is not None:
            self._progress(self.size)

    @property
    def sha256(self) -> str:
        """Hex digest of everything seen."""
        return self._sha.hexdigest()


class Rechunker:
    """Cuts written bytes into blocks of exactly ``size`` bytes for ``flush``.

    A write that starts on a block boundary passes its whole blocks straight to
    ``flush`` as memoryview slices (no copy); only the bytes of a partial block are
    copied, once, into a fresh buffer.  Each ``flush`` is awaited before ``write``
    returns, so the caller may reuse its buffer afterwards.  ``remainder()`` hands
    over the last, partial block.
    """

    def __init__(self, size: int, flush: Callable[[Buffer], Awaitable[None]]) -> None:
        if size < 1:
            raise ValueError("the block size must be at least 1 byte")
        self._size = size
        self._flush = flush
        self._block = bytearray()
        self._fill = 0

    @property
    def pending(self) -> int:
        """Bytes held in the partial block."""
        return self._fill

    async def write(self, data: Buffer) -> None:
        view = memoryview(data).cast("B")
        if self._fill:
            take = min(len(view), self._size - self._fill)
            self._block[self._fill : self._fill + take] = view[:take]
            self._fill += take
            view = view[take:]
            if self._fill < self._size:
                return
            block, self._block, self._fill = self._block, bytearray(), 0
            await self._flush(block)
        while len(view) >= self._size:
            await self._flush(view[: self._size])
            view = view[self._size :]
        if view:  # sized to the data, grown by later writes: small files stay small
            self._block = bytearray(view)
            self._fill = len(view)

    def remainder(self) -> memoryview:
        """The partial block (possibly empty), handed over: the rechunker is empty after."""
        block = memoryview(self._block)[: self._fill]
        self._block, self._fill = bytearray(), 0
        return block


def _stat(target: str | IO[bytes]) -> tuple[int, int] | None:
    """(size, mtime in ns) of a path or of a real file behind a file object."""
    try:
        result = os.stat(target) if isinstance(target, str) else os.fstat(target.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return result.st_size, result.st_mtime_ns


class Content:
    """A caller's body on its way into a store, read once, with its size and SHA-256.

    A store either reads it as ``chunks()`` (the digest is fed as they pass), or
    asks for ``replayable()``: for bytes, a path or a seekable file that is the body
    itself, digested in one pass first, to be handed on (e.g. to ``put_object``,
    which can then send ranged parts concurrently and retry them); then
    ``check_unchanged()`` refuses a file that changed meanwhile.  For a stream
    ``replayable()`` is ``None``.
    """

    def __init__(self, body: Body, digest: Digest | None = None) -> None:
        self.body = body
        self.digest = digest if digest is not None else Digest()
        self._used = False
        self._stat: tuple[int, int] | None = None

    def _use(self) -> None:
        if self._used:
            raise RuntimeError("content can be handed to a store only once")
        self._used = True

    @property
    def is_replayable(self) -> bool:
        """Whether the body can be read again: bytes, a path or a seekable file."""
        return is_replayable_body(self.body)

    async def chunks(self, size: int = CHUNK_SIZE) -> AsyncGenerator[Buffer, None]:
        """The body read once, in order, feeding the digest (pieces of any size up to
        ``size``; views into the caller's buffer when it is bytes)."""
        self._use()
        source = await make_source(self.body)
        try:
            if isinstance(source, StreamSource):  # pieces as they arrived: no joining
                while (part := await source.take(size)).length:
                    async with aclosing(part.ranged(0, part.length or 0, size)) as pieces:
                        async for piece in pieces:
                            self.digest.update(piece)
                            yield whole_bytes(piece)
                return
            while chunk := await source.read(size):
                self.digest.update(chunk)
                yield chunk
        finally:
            await source.aclose()

    async def replayable(self) -> Body | None:
        """The body itself, digested, when it is replayable; ``None`` for a stream."""
        if not self.is_replayable:
            return None
        self._use()
        body = self.body
        if isinstance(body, bytes | bytearray | memoryview):
            view = memoryview(body).cast("B")
            for start in range(0, len(view), CHUNK_SIZE):
                self.digest.update(view[start : start + CHUNK_SIZE])
                await anyio.lowlevel.checkpoint()
            return body
        if isinstance(body, os.PathLike):
            self._stat = await anyio.to_thread.run_sync(_stat, os.fspath(body))
            await self._digest_all(body)
            return body
        file: IO[bytes] = body  # type: ignore[assignment]
        start = await anyio.to_thread.run_sync(file.tell)
        self._stat = await anyio.to_thread.run_sync(_stat, file)
        await self._digest_all(file)
        await anyio.to_thread.run_sync(file.seek, start)
        return file

    async def _digest_all(self, body: Body) -> None:
        source = await make_source(body)
        try:
            while chunk := await source.read(CHUNK_SIZE):
                self.digest.update(chunk)
        finally:
            await source.aclose()

    async def check_unchanged(self) -> None:
        """After a replayable body was sent: ``IntegrityError`` if its file changed
        (size or modification time) since it was digested."""
        if self._stat is None:
            return
        body = self.body
        target = os.fspath(body) if isinstance(body, os.PathLike) else body
        now = await anyio.to_thread.run_sync(_stat, target)  # type: ignore[arg-type]
        if now != self._stat:
            raise IntegrityError("the file changed while it was being stored")
