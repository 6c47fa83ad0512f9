"""Request bodies: one place turns every accepted body type into a ``Source``.

Rules of this module:
- Accepted bodies: ``bytes``/``bytearray``/``memoryview``, an ``os.PathLike``
  (a file path), a binary file object, or an async iterable of bytes.  A
  ``str`` is refused: it is ambiguous (text or path?).
- Nothing is ever read whole into memory: sources hand out chunks.
- File reads run in a worker thread, never on the event loop.
- A source is *replayable* when any byte range can be read again (bytes,
  paths, seekable files); only replayable sources are retried or uploaded as
  concurrent ranged parts.  One-shot sources are read sequentially.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterable, AsyncIterator
from typing import IO, Any, Union

import anyio
import anyio.to_thread

from ._exceptions import IntegrityError, InvalidRequestError

__all__ = ["Body", "Buffer", "Source", "make_source"]

Buffer = bytes | bytearray | memoryview
Body = Union[bytes, bytearray, memoryview, "os.PathLike[str]", IO[bytes], AsyncIterable[bytes]]

READ_SIZE = 1024 * 1024


class Source:
    """A body that can be read sequentially and, when replayable, by range."""

    length: int | None = None
    replayable: bool = False

    async def read(self, size: int) -> Buffer:
        """Read the next ``size`` bytes (fewer only at the end; empty at EOF)."""
        raise NotImplementedError

    def ranged(self, start: int, size: int, chunk: int = READ_SIZE) -> AsyncIterator[Buffer]:
        """Yield bytes ``[start, start + size)`` in chunks (replayable sources only)."""
        raise InvalidRequestError("this body can only be read once and cannot be replayed")

    async def aclose(self) -> None:
        """Release what the source holds (files it opened)."""


class BytesSource(Source):
    """An in-memory buffer: sliced with memoryviews, never copied."""

    replayable = True

    def __init__(self, data: Buffer) -> None:
        self._view = memoryview(data).cast("B")
        self.length = len(self._view)
        self._position = 0

    @property
    def view(self) -> memoryview:
        """The whole buffer."""
        return self._view

    async def read(self, size: int) -> Buffer:
        start = self._position
        self._position = min(start + size, self.length or 0)
        return self._view[start : self._position]

    async def ranged(self, start: int, size: int, chunk: int = READ_SIZE) -> AsyncIterator[Buffer]:
        end = start + size
        for offset in range(start, end, chunk):
            yield self._view[offset : min(offset + chunk, end)]


class FileSource(Source):
    """A seekable binary file (opened here from a path, or given by the caller)."""

    replayable = True

    def __init__(self, file: IO[bytes], *, owned: bool) -> None:
        self._file = file
        self._owned = owned
        self._start = file.tell()
        self.length = file.seek(0, io.SEEK_END) - self._start
        file.seek(self._start)
        self._position = 0
        self._lock = anyio.Lock()

    async def _read_at(self, offset: int, size: int) -> bytes:
        def read() -> bytes:
            self._file.seek(self._start + offset)
            return self._file.read(size)

        async with self._lock:
            return await anyio.to_thread.run_sync(read)

    async def read(self, size: int) -> Buffer:
        size = min(size, (self.length or 0) - self._position)
        if size <= 0:
            return b""
        data = await self._read_at(self._position, size)
        if len(data) != size:
            raise IntegrityError("the file shrank while it was being uploaded")
        self._position += size
        return data

    async def ranged(self, start: int, size: int, chunk: int = READ_SIZE) -> AsyncIterator[Buffer]:
        end = start + size
        for offset in range(start, end, chunk):
            want = min(chunk, end - offset)
            data = await self._read_at(offset, want)
            if len(data) != want:
                raise IntegrityError("the file shrank while it was being uploaded")
            yield data

    async def aclose(self) -> None:
        if self._owned:
            await anyio.to_thread.run_sync(self._file.close)


class StreamSource(Source):
    """A one-shot stream: an async iterable, or a non-seekable file object."""

    def __init__(self, chunks: AsyncIterator[Any], length: int | None) -> None:
        self._chunks = chunks
        self.length = length
        self._pending = bytearray()
        self._done = False
        self._seen = 0

    async def _next_chunk(self) -> bool:
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            self._done = True
            if self.length is not None and self._seen != self.length:
                raise IntegrityError(
                    f"the body produced {self._seen} bytes but content_length said {self.length}"
                ) from None
            return False
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise InvalidRequestError(
                f"an async iterable body must yield bytes, got {type(chunk).__name__}"
            )
        self._seen += len(chunk)
        if self.length is not None and self._seen > self.length:
            raise IntegrityError(
                f"the body produced more bytes than content_length ({self.length})"
            )
        self._pending += chunk
        return True

    async def read(self, size: int) -> Buffer:
        while len(self._pending) < size and not self._done:
            if not await self._next_chunk():
                break
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data

    async def aclose(self) -> None:
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()


async def _file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    while True:
        data = await anyio.to_thread.run_sync(file.read, READ_SIZE)
        if not data:
            return
        yield data


async def _iterate(body: AsyncIterable[Any]) -> AsyncIterator[Any]:
    async for chunk in body:
        yield chunk


def _is_seekable(file: IO[bytes]) -> bool:
    try:
        return bool(file.seekable())
    except (AttributeError, OSError, ValueError):
        return False


async def make_source(body: object, *, content_length: int | None = None) -> Source:
    """Normalise any accepted body into a ``Source``; raise ``InvalidRequestError`` otherwise."""
    if content_length is not None and (
        isinstance(content_length, bool)
        or not isinstance(content_length, int)
        or content_length < 0
    ):
        raise InvalidRequestError(f"content_length must be an int >= 0, got {content_length!r}")
    source: Source
    if isinstance(body, bytes | bytearray | memoryview):
        source = BytesSource(body)
    elif isinstance(body, str):
        raise InvalidRequestError(
            "a str body is ambiguous: pass bytes (e.g. text.encode()) or a pathlib.Path for a file"
        )
    elif isinstance(body, os.PathLike):
        path = os.fspath(body)
        try:
            file = await anyio.to_thread.run_sync(open, path, "rb")
        except OSError as exc:
            raise InvalidRequestError(f"cannot open file {path!r}: {exc.strerror}") from exc
        source = FileSource(file, owned=True)
    elif hasattr(body, "read"):
        file_obj: IO[bytes] = body  # type: ignore[assignment]
        if isinstance(file_obj, io.TextIOBase):
            raise InvalidRequestError("file bodies must be opened in binary mode ('rb')")
        if _is_seekable(file_obj):
            source = FileSource(file_obj, owned=False)
        else:
            source = StreamSource(_file_chunks(file_obj), content_length)
    elif hasattr(body, "__aiter__"):
        source = StreamSource(_iterate(body), content_length)
    else:
        raise InvalidRequestError(
            "body must be bytes, a file path (os.PathLike), a binary file object or an "
            f"async iterable of bytes, got {type(body).__name__}"
        )
    if (
        content_length is not None
        and source.length is not None
        and not isinstance(source, StreamSource)
        and content_length != source.length
    ):
        await source.aclose()
        raise InvalidRequestError(
            f"content_length={content_length} but the body holds {source.length} bytes"
        )
    return source
