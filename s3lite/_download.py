"""The streaming body of a GET, and the call object that opens it.

Rules of this module:
- A body is read once, in chunks, and closed at the end of iteration, by
  ``read()``, by ``aclose()`` or on leaving ``async with``: the pooled
  connection is never leaked.
- Bad data is never returned as good: the byte count is checked against the
  ``Content-Length``, and a full-object checksum the server returned is
  checked at the end (``IntegrityError`` on any mismatch).
- A connection lost mid-body is resumed with a ranged GET from the next byte,
  pinned to the same ETag (bounded number of resumes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from datetime import datetime
from types import TracebackType

from ._checksums import ChecksumAlgorithm, Hasher
from ._exceptions import IntegrityError, TransportError
from ._models import ObjectInfo

Chunks = AsyncIterator[bytes]
Reopen = Callable[[int], Awaitable[Chunks]]

__all__ = ["GetObjectCall", "ObjectStream"]


class ObjectStream:
    """An object's metadata and its body, streamed.

    Iterate with ``async for chunk in stream``, or ``await stream.read()`` for
    the whole body.  ``info.size`` is the length of this body (of the range, for
    a ranged GET); ``total_size`` is the size of the whole object.
    """

    def __init__(
        self,
        info: ObjectInfo,
        chunks: Chunks,
        *,
        total_size: int,
        content_range: tuple[int, int] | None,
        verify: tuple[ChecksumAlgorithm, str] | None = None,
        reopen: Reopen | None = None,
        max_resumes: int = 0,
    ) -> None:
        self.info = info
        self.total_size = total_size
        self.content_range = content_range
        self.resumes = 0
        """How many times the body was resumed after a lost connection."""
        self._chunks = chunks
        self._offset = content_range[0] if content_range else 0
        self._expected = verify[1] if verify else None
        self._hasher = Hasher(verify[0]) if verify else None
        self._reopen = reopen
        self._max_resumes = max_resumes
        self._received = 0
        self._consumed = False
        self._closed = False

    # Shortcuts to the metadata.
    @property
    def size(self) -> int:
        """Length of this body in bytes."""
        return self.info.size

    @property
    def etag(self) -> str:
        """The object's ETag (without quotes)."""
        return self.info.etag

    @property
    def content_type(self) -> str | None:
        """The object's Content-Type."""
        return self.info.content_type

    @property
    def last_modified(self) -> datetime | None:
        """When the object was last written."""
        return self.info.last_modified

    @property
    def metadata(self) -> Mapping[str, str]:
        """User metadata (``x-amz-meta-*`` without the prefix)."""
        return self.info.metadata

    def __aiter__(self) -> ObjectStream:
        if self._consumed:
            raise RuntimeError("the object body has already been read")
        self._consumed = True
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        while True:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                await self.aclose()
                self._check_complete()
                raise
            except TransportError:
                if not self._can_resume():
                    await self.aclose()
                    raise
                await self._resume()
                continue
            except BaseException:
                await self.aclose()
                raise
            if chunk:
                break
        self._received += len(chunk)
        if self._hasher is not None:
            self._hasher.update(chunk)
        return chunk

    def _can_resume(self) -> bool:
        return (
            self._reopen is not None
            and self.resumes < self._max_resumes
            and self._received < self.info.size
        )

    async def _resume(self) -> None:
        assert self._reopen is not None
        self.resumes += 1
        await _close_chunks(self._chunks)
        try:
            self._chunks = await self._reopen(self._offset + self._received)
        except BaseException:
            self._closed = True
            raise

    def _check_complete(self) -> None:
        if self._received != self.info.size:
            raise IntegrityError(
                f"body of {self.info.key!r} ended after {self._received} of {self.info.size} bytes"
            )
        if self._hasher is not None and self._hasher.b64() != self._expected:
            raise IntegrityError(
                f"checksum mismatch for {self.info.key!r}: the server stored "
                f"{self._hasher.algorithm} {self._expected}, the bytes received give "
                f"{self._hasher.b64()}"
            )

    async def read(self) -> bytes:
        """Read the whole body (and close it)."""
        data = bytearray()
        async for chunk in self:
            data += chunk
        return bytes(data)

    async def aclose(self) -> None:
        """Release the connection; safe to call more than once."""
        if not self._closed:
            self._closed = True
            await _close_chunks(self._chunks)

    async def __aenter__(self) -> ObjectStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<ObjectStream key={self.info.key!r} size={self.info.size}>"


async def _close_chunks(chunks: Chunks) -> None:
    closer = getattr(chunks, "aclose", None)
    if closer is not None:
        await closer()


class GetObjectCall:
    """What ``get_object`` returns: await it, or use it with ``async with``."""

    def __init__(self, opener: Callable[[], Awaitable[ObjectStream]]) -> None:
        self._opener = opener
        self._stream: ObjectStream | None = None

    def __await__(self) -> Generator[object, None, ObjectStream]:
        return self._opener().__await__()

    async def __aenter__(self) -> ObjectStream:
        self._stream = await self._opener()
        return self._stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            await self._stream.aclose()
