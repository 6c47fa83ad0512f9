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
- A file opened here reads its chunks into buffers it keeps (``ranged_reusing``),
  and can read the first chunk of a range ahead (``prefetch``): that buffer then
  serves the rest of the range, and goes back to the source when the range ends
  or when the read-ahead is released unused.
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from typing import IO, Any, TypeVar, Union, cast

import anyio
import anyio.to_thread

from ._exceptions import IntegrityError, InvalidRequestError

__all__ = [
    "MIN_PIECE",
    "Body",
    "Buffer",
    "BufferPool",
    "ChunksSource",
    "Prefetched",
    "Source",
    "StreamSource",
    "is_replayable_body",
    "make_source",
    "whole_bytes",
]

Buffer = bytes | bytearray | memoryview
Body = Union[
    bytes, bytearray, memoryview, "os.PathLike[str]", IO[bytes], AsyncIterable[Buffer]
]

READ_SIZE = 1024 * 1024
MIN_PIECE = 64 * 1024
"""The smallest piece a buffered stream is sent in (except the last)."""
_T = TypeVar("_T")


class BufferPool:
    """The chunk buffers of one source: taken for a range, given back when it ends.

    Buffers given back are kept for the next range, at most ``keep`` of them in all
    (None: every one): a buffer given back while more are alive is dropped, so a
    moment that needed more buffers (a retried part) does not keep them."""

    __slots__ = ("_spare", "alive", "keep")

    def __init__(self) -> None:
        self._spare: list[bytearray] = []
        self.alive = 0
        """Buffers taken or kept, not yet dropped."""
        self.keep: int | None = None

    def take(self, size: int) -> bytearray:
        """A buffer of at least ``size`` bytes: a kept one, else a new one."""
        if self._spare and len(self._spare[-1]) >= size:
            return self._spare.pop()
        self.alive += 1
        return bytearray(size)

    def give_back(self, buffer: bytearray) -> None:
        """``buffer`` is free: keep it, unless ``keep`` buffers are alive without it."""
        if self.keep is not None and self.alive > self.keep:
            self.alive -= 1
            return
        self._spare.append(buffer)


class Prefetched:
    """The first chunk of a range, read ahead into a buffer of its source's.

    ``ranged_reusing(..., first=...)`` starts from it and keeps the buffer for the rest
    of the range; ``release`` hands it back unused.  The buffer is given back once,
    whichever comes first.  ``when_free`` learns when the buffer is free again: given
    back unused, or the range that took it has ended; at the latest when its user
    calls ``release`` (a range never closed leaves its buffer to the garbage
    collector)."""

    __slots__ = ("_free", "_on_free", "_pool", "buffer", "length", "start", "view")

    def __init__(self, pool: BufferPool, buffer: bytearray, start: int, length: int) -> None:
        self._pool: BufferPool | None = pool
        self._on_free: Callable[[], object] | None = None
        self._free = False
        self.buffer = buffer
        self.start = start
        self.length = length
        self.view = memoryview(buffer)[:length]
        """The chunk's bytes: ``ranged_reusing`` yields this very object when it uses the
        chunk (so a consumer can tell it from the same bytes read again)."""

    def when_free(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once, when the buffer is free again (now, if it is)."""
        if self._free:
            callback()
        else:
            self._on_free = callback

    def claim(self, pool: BufferPool) -> bool:
        """Take the buffer for the source of ``pool`` (False once claimed or released,
        or for another source)."""
        if self._pool is None or self._pool is not pool:
            return False
        self._pool = None
        return True

    def release(self) -> None:
        """Give the buffer back to its source unused (nothing once claimed); either way
        its user is done with it."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.give_back(self.buffer)
        self.freed()

    def freed(self) -> None:
        """The buffer is free again (the ``when_free`` callback runs the first time)."""
        self._free = True
        callback, self._on_free = self._on_free, None
        if callback is not None:
            callback()


class Source:
    """A body that can be read sequentially and, when replayable, by range."""

    length: int | None = None
    replayable: bool = False

    async def read(self, size: int) -> Buffer:
        """Read the next ``size`` bytes (fewer only at the end; empty at EOF)."""
        raise NotImplementedError

    def ranged(self, start: int, size: int, chunk: int = READ_SIZE) -> AsyncGenerator[Buffer, None]:
        """Yield bytes ``[start, start + size)`` in chunks (replayable sources only)."""
        raise InvalidRequestError("this body can only be read once and cannot be replayed")

    def ranged_reusing(
        self, start: int, size: int, chunk: int, first: Prefetched | None = None
    ) -> AsyncGenerator[Buffer, None]:
        """Like ``ranged``, but a chunk is valid only until the next is asked for (a
        file's chunks are read into one reused buffer); ``first``: the range's first
        chunk as ``prefetch`` read it."""
        if first is not None:
            first.release()
        return self.ranged(start, size, chunk)

    async def prefetch(
        self, start: int, size: int, chunk: int, then: Callable[[memoryview], _T]
    ) -> tuple[Prefetched, _T] | None:
        """Read the first chunk of range ``[start, start + size)`` ahead and run ``then``
        over it, in one worker-thread job; None where this source reads no chunk ahead."""
        return None

    def piece_sizes(self, start: int, size: int, chunk: int = READ_SIZE) -> list[int]:
        """The sizes of the pieces ``ranged(start, size, chunk)`` yields, in order."""
        full, rest = divmod(size, chunk)
        return [chunk] * full + ([rest] if rest else [])

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

    async def ranged(
        self, start: int, size: int, chunk: int = READ_SIZE
    ) -> AsyncGenerator[Buffer, None]:
        end = start + size
        for offset in range(start, end, chunk):
            yield self._view[offset : min(offset + chunk, end)]


class FileSource(Source):
    """A seekable binary file (opened here from a path, or given by the caller).

    A file opened here is read with positional reads (``os.pread``), so the parts of
    a multipart upload read it in parallel; a caller's file object is read under a
    lock (seek, then read), since its position and buffer are the caller's.
    """

    replayable = True

    def __init__(self, file: IO[bytes], *, owned: bool) -> None:
        self._file = file
        self._owned = owned
        self._start = file.tell()
        self.length = file.seek(0, io.SEEK_END) - self._start
        file.seek(self._start)
        self._position = 0
        self._lock = anyio.Lock()
        self._fd = file.fileno() if owned and hasattr(os, "preadv") else None
        self.buffers = BufferPool()
        """The chunk buffers of ``ranged_reusing`` and ``prefetch``."""

    async def _read_at(self, offset: int, size: int) -> bytes:
        if self._fd is not None:
            return await anyio.to_thread.run_sync(_pread_all, self._fd, size, self._start + offset)

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

    async def ranged(
        self, start: int, size: int, chunk: int = READ_SIZE
    ) -> AsyncGenerator[Buffer, None]:
        end = start + size
        for offset in range(start, end, chunk):
            want = min(chunk, end - offset)
            data = await self._read_at(offset, want)
            if len(data) != want:
                raise IntegrityError("the file shrank while it was being uploaded")
            yield data

    async def ranged_reusing(
        self, start: int, size: int, chunk: int, first: Prefetched | None = None
    ) -> AsyncGenerator[Buffer, None]:
        """Each chunk is read into a buffer this source keeps for the next chunk and the
        next range.  A fresh 4 MiB buffer per chunk had its pages mapped and zeroed by
        the kernel every time: a page fault per 4-128 KiB read, about a tenth of a file
        upload's client CPU (perf, benchmarks/results/analysis.md)."""
        if first is not None:
            fits = first.start == start and first.length == min(chunk, size)
            if not (fits and len(first.buffer) >= chunk and first.claim(self.buffers)):
                first.release()  # not this range's first chunk, or not ours
                first = None
        if self._fd is None:
            async for piece in self.ranged(start, size, chunk):
                yield piece
            return
        buffer = first.buffer if first is not None else self.buffers.take(chunk)
        whole = memoryview(buffer)
        try:
            end = start + size
            rest = start
            if first is not None:
                # Read ahead by ``prefetch``: not read again, but the file must still hold
                # the range (as a read here would have found out).
                if os.fstat(self._fd).st_size < self._start + end:
                    raise IntegrityError("the file shrank while it was being uploaded")
                yield first.view
                rest += first.length
            for offset in range(rest, end, chunk):
                view = whole[: min(chunk, end - offset)]
                await anyio.to_thread.run_sync(_fill, self._fd, view, self._start + offset)
                yield view
        finally:
            self.buffers.give_back(buffer)
            if first is not None:
                first.freed()

    async def prefetch(
        self, start: int, size: int, chunk: int, then: Callable[[memoryview], _T]
    ) -> tuple[Prefetched, _T] | None:
        """The first ``min(chunk, size)`` bytes at ``start``, read into one of this
        source's buffers, and ``then`` run over them, both in one worker-thread job.
        None for a caller's file object (read under its lock, chunk by chunk)."""
        fd = self._fd
        if fd is None or size <= 0:
            return None
        buffer = self.buffers.take(chunk)
        view = memoryview(buffer)[: min(chunk, size)]

        def read_then() -> _T:
            _fill(fd, view, self._start + start)
            return then(view)

        try:
            result = await anyio.to_thread.run_sync(read_then)
        except BaseException:
            self.buffers.give_back(buffer)  # the thread has finished: nothing writes to it now
            raise
        return Prefetched(self.buffers, buffer, start, len(view)), result

    async def aclose(self) -> None:
        if self._owned:
            await anyio.to_thread.run_sync(self._file.close)


def _pread_all(fd: int, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset`` (fewer only at the end of the file)."""
    data = os.pread(fd, size, offset)
    if len(data) == size or not data:
        return data
    pieces = [data]
    got = len(data)
    while got < size:
        more = os.pread(fd, size - got, offset + got)
        if not more:
            break
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)


def _fill(fd: int, view: memoryview, offset: int) -> None:
    """Fill ``view`` from ``offset``; ``IntegrityError`` if the file ends before it is full."""
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if not n:
            raise IntegrityError("the file shrank while it was being uploaded")
        got += n


class ChunksSource(Source):
    """Bytes buffered from a one-shot stream, kept as the chunks they arrived in.

    Replayable and never joined whole.  When a range is read in pieces, runs of
    small chunks are joined into pieces of at least ``MIN_PIECE`` bytes (AWS
    refuses aws-chunks under 8 KiB but the last); larger chunks are only cut.
    """

    replayable = True

    def __init__(self, chunks: list[memoryview]) -> None:
        self._chunks = chunks
        self.length = sum(len(c) for c in chunks)

    @property
    def chunks(self) -> list[memoryview]:
        """The buffered chunks, in order."""
        return self._chunks

    @classmethod
    def joined(cls, parts: list[ChunksSource]) -> ChunksSource:
        """One source holding the chunks of ``parts`` in order (nothing copied)."""
        return cls([chunk for part in parts for chunk in part.chunks])

    async def read(self, size: int) -> Buffer:  # pragma: no cover - parts are sent by range
        raise InvalidRequestError("buffered parts are sent by range")

    def _groups(self, start: int, size: int, chunk: int) -> list[list[memoryview]]:
        """The pieces of ``[start, start + size)``, each a list of views sent as one."""
        groups: list[list[memoryview]] = []
        small: list[memoryview] = []
        small_size = 0
        end, offset = start + size, 0
        for stored in self._chunks:
            low, high = max(start - offset, 0), min(end - offset, len(stored))
            for cut in range(low, high, chunk):
                view = stored[cut : min(cut + chunk, high)]
                if not small and len(view) >= MIN_PIECE:
                    groups.append([view])
                    continue
                small.append(view)
                small_size += len(view)
                if small_size >= MIN_PIECE:
                    groups.append(small)
                    small, small_size = [], 0
            offset += len(stored)
            if offset >= end:
                break
        if small:
            groups.append(small)
        return groups

    async def ranged(
        self, start: int, size: int, chunk: int = READ_SIZE
    ) -> AsyncGenerator[Buffer, None]:
        for group in self._groups(start, size, chunk):
            yield group[0] if len(group) == 1 else b"".join(group)

    def piece_sizes(self, start: int, size: int, chunk: int = READ_SIZE) -> list[int]:
        return [sum(len(view) for view in group) for group in self._groups(start, size, chunk)]


class StreamSource(Source):
    """A one-shot stream: an async iterable, or a non-seekable file object.

    ``take(size)`` buffers the next ``size`` bytes as a replayable ``ChunksSource``
    without copying immutable ``bytes`` chunks (mutable buffers are copied once,
    since the producer may reuse them).
    """

    def __init__(self, chunks: AsyncIterator[Any], length: int | None) -> None:
        self._chunks = chunks
        self.length = length
        self._pending: deque[memoryview] = deque()
        self._pending_size = 0
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
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)
        self._seen += len(chunk)
        if self.length is not None and self._seen > self.length:
            raise IntegrityError(
                f"the body produced more bytes than content_length ({self.length})"
            )
        if chunk:
            self._pending.append(memoryview(chunk))
            self._pending_size += len(chunk)
        return True

    async def take(self, size: int) -> ChunksSource:
        """The next ``size`` bytes (fewer only at the end of the stream)."""
        while self._pending_size < size and not self._done:
            await self._next_chunk()
        taken: list[memoryview] = []
        need = size
        while need and self._pending:
            head = self._pending[0]
            if len(head) <= need:
                taken.append(self._pending.popleft())
                need -= len(head)
            else:
                taken.append(head[:need])
                self._pending[0] = head[need:]
                need = 0
        self._pending_size -= size - need
        return ChunksSource(taken)

    async def exhausted(self) -> bool:
        """Whether the stream has no byte left (reads ahead one chunk to know)."""
        while not self._pending_size and not self._done:
            await self._next_chunk()
        return not self._pending_size

    async def read(self, size: int) -> Buffer:
        part = await self.take(size)
        return b"".join(part.chunks)

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


def whole_bytes(buffer: Buffer) -> Buffer:
    """A view of a whole ``bytes`` object as that object, so it is passed on uncopied."""
    if isinstance(buffer, memoryview):
        obj = buffer.obj
        if isinstance(obj, bytes) and buffer.nbytes == len(obj):
            return obj
    return buffer


def is_replayable_body(body: object) -> bool:
    """Whether ``make_source`` makes a replayable source of ``body``: bytes, a path,
    or a seekable binary file."""
    if isinstance(body, bytes | bytearray | memoryview | os.PathLike):
        return True
    if not hasattr(body, "read") or isinstance(body, io.TextIOBase):
        return False
    return _is_seekable(cast("IO[bytes]", body))


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
        # The caller's own iterator, so that aclose() reaches their generator.
        source = StreamSource(body.__aiter__(), content_length)
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
