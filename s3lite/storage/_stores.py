"""The content-store interface, and the helpers every store and caller shares.

Rules of this module:
- A store keeps content by file id in two areas, *objects* and *recycle* (S3: the
  object and recycle buckets; Database: a flag on the content row).  It knows
  nothing of metadata: the caller decides which store holds a file.
- Every method is idempotent, so a rerun after a crash finishes the job:
  ``recycle`` and ``restore`` copy first and delete second, and accept content
  already moved.  ``delete``, ``purge`` and ``discard`` accept missing content.
- Content flows as async iterators of bytes; nothing holds a whole file.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import Protocol
from uuid import UUID

from s3lite._body import make_source

from ._models import StorageCode

__all__ = ["CHUNK_SIZE", "ContentStore", "Digest", "PartWriter", "content_chunks", "digested"]

CHUNK_SIZE = 1024 * 1024
"""Bytes per chunk read from a caller's content and per row of the Database store."""


class PartWriter(Protocol):
    """Content written in parts (first / next / final): ``write`` ... ``complete``."""

    async def write(self, data: bytes) -> None:
        """Append ``data``."""
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

    async def write(self, file_id: UUID, chunks: AsyncIterable[bytes]) -> None:
        """Store the content (replacing any earlier, unreferenced copy)."""
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

    def update(self, data: bytes) -> None:
        self.size += len(data)
        self._sha.update(data)
        if self._progress is not None:
            self._progress(self.size)

    @property
    def sha256(self) -> str:
        """Hex digest of everything seen."""
        return self._sha.hexdigest()


async def digested(chunks: AsyncIterable[bytes], digest: Digest) -> AsyncGenerator[bytes, None]:
    """Pass ``chunks`` through, feeding ``digest``."""
    async for chunk in chunks:
        digest.update(chunk)
        yield chunk


async def content_chunks(
    content: object, chunk_size: int = CHUNK_SIZE
) -> AsyncGenerator[bytes, None]:
    """Any accepted content (bytes, path, binary file, async iterable) as chunks."""
    source = await make_source(content)
    try:
        while chunk := await source.read(chunk_size):
            yield bytes(chunk)
    finally:
        await source.aclose()
