"""The streaming body of a GET, and the call object that opens it.

Rules of this module:
- A body is read once, in chunks, and closed at the end of iteration, by
  ``read()``, by ``aclose()`` or on leaving ``async with``: the pooled
  connection is never leaked.
- A whole-object body is checked against its ``Content-Length``; fewer bytes
  raise ``IntegrityError`` instead of returning truncated data as good.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from datetime import datetime
from types import TracebackType

from ._exceptions import IntegrityError
from ._models import ObjectInfo

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
        chunks: AsyncIterator[bytes],
        *,
        total_size: int,
        content_range: tuple[int, int] | None,
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self.info = info
        self.total_size = total_size
        self.content_range = content_range
        self._chunks = chunks
        self._close = close
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
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            await self.aclose()
            if self._received != self.info.size:
                raise IntegrityError(
                    f"body of {self.info.key!r} ended after {self._received} of "
                    f"{self.info.size} bytes"
                ) from None
            raise
        except BaseException:
            await self.aclose()
            raise
        self._received += len(chunk)
        return chunk

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
            try:
                closer = getattr(self._chunks, "aclose", None)
                if closer is not None:
                    await closer()
            finally:
                await self._close()

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
