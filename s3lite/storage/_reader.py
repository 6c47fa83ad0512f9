"""Reading a file's content as a stream, checked against its metadata.

Rules of this module:
- The store is chosen from the file's metadata when reading starts.
- Every byte passes through SHA-256; at the end size and digest must match the
  metadata, or ``IntegrityError`` is raised instead of ending quietly.
- The underlying stream is closed on every exit (end, error, ``break`` + ``aclose``,
  leaving ``async with``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from contextlib import aclosing
from typing import Self

from s3lite._exceptions import IntegrityError
from s3lite._lifecycle import AsyncResource

from ._models import FileInfo
from ._stores import ContentStore, Digest

__all__ = ["FileReader"]


class FileReader(AsyncResource):
    """A file's content in chunks: ``async with fs.open(file_id) as f: async for chunk in f``.

    ``info`` is set once the reader is entered, awaited, or iteration starts.
    Iterating without ``async with`` also works; the stream closes when the loop
    ends (or on ``aclose()``).
    """

    def __init__(
        self,
        resolve: Callable[[], Awaitable[tuple[FileInfo, ContentStore]]],
        progress: Callable[[int], object] | None = None,
    ) -> None:
        self.info: FileInfo | None = None
        self._resolve = resolve
        self._store: ContentStore | None = None
        self._progress = progress
        self._iterator: AsyncGenerator[bytes, None] | None = None

    def __repr__(self) -> str:
        what = str(self.info.id) if self.info else "unopened"
        return f"<FileReader {what}>"

    async def _open(self) -> tuple[FileInfo, ContentStore]:
        if self.info is None or self._store is None:
            self.info, self._store = await self._resolve()
        return self.info, self._store

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._iterator is not None:
            raise RuntimeError("the file content has already been read")
        self._iterator = self._iterate()
        return self._iterator

    async def _iterate(self) -> AsyncGenerator[bytes, None]:
        info, store = await self._open()
        digest = Digest(self._progress)
        async with aclosing(store.read(info.id)) as chunks:
            async for chunk in chunks:
                digest.update(chunk)
                yield chunk
        if (digest.size, digest.sha256) != (info.size, info.sha256):
            raise IntegrityError(
                f"content of file {info.id} read from {store.code} does not match its metadata "
                f"({digest.size} bytes read, {info.size} expected, or a different SHA-256)"
            )

    async def read(self) -> bytes:
        """The whole content."""
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        """Stop reading and release the stream; safe to call more than once."""
        if self._iterator is not None:
            await self._iterator.aclose()

    def __await__(self) -> Generator[object, None, Self]:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> Self:
        """Resolve the file (``info``); leaving the block closes the stream."""
        await self._open()
        return self
