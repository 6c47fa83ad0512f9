"""The streaming body of a GET, and the call object that opens it.

Rules of this module:
- It talks to the pipeline; it never sees the client.  ``open_object`` sends
  the GET and builds the stream; the stream resumes itself.
- A body is read once, in chunks, and closed at the end of iteration, by
  ``read()``, by ``aclose()`` or on leaving ``async with``: the pooled
  connection is never leaked.
- Bad data is never returned as good: the byte count is checked against the
  ``Content-Length``, and a full-object checksum the server returned (else an
  MD5 ETag, ``_checksum_policy.download_check``) is checked at the end
  (``IntegrityError`` on any mismatch); ``verified_by`` says which.
- A connection lost mid-body is resumed with a ranged GET from the next byte,
  pinned to the same ETag (bounded number of resumes).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Generator, Mapping
from datetime import datetime
from types import TracebackType

from . import _requests
from ._checksum_policy import VerifiedBy, download_check
from ._checksums import ChecksumAlgorithm, Hasher
from ._exceptions import IntegrityError, PreconditionFailed, TransportError
from ._http import Body
from ._lifecycle import AsyncResource
from ._models import ObjectInfo
from ._pipeline import Pipeline
from ._progress import Progress, ProgressCallback
from ._requests import S3Request

Chunks = Body
Reopen = Callable[[int], Awaitable[Chunks]]

__all__ = ["GetObjectCall", "ObjectStream", "checksum_mismatch", "open_object"]


class StreamState(enum.Enum):
    """Where an ``ObjectStream`` is in its life."""

    READY = "ready"
    """Opened; no chunk taken yet."""
    STREAMING = "streaming"
    """Being iterated."""
    CLOSED = "closed"
    """Read to the end, or closed early: its connection is released."""


class ObjectStream(AsyncResource):
    """An object's metadata and its body, streamed.

    Iterate with ``async for chunk in stream``, or ``await stream.read()`` for
    the whole body.  ``info.size`` is the length of this body (of the range, for
    a ranged GET); ``total_size`` is the size of the whole object.  ``verified_by``
    says what the body is checked against when it ends: ``"crc32"`` or
    ``"sha256"`` (the checksum the server stored), ``"etag-md5"`` (the MD5 ETag of a
    single-part object) or ``"size-only"`` (its length).
    """

    def __init__(
        self,
        info: ObjectInfo,
        chunks: Chunks,
        *,
        total_size: int,
        content_range: tuple[int, int] | None,
        verify: tuple[ChecksumAlgorithm, str] | None = None,
        verified_by: VerifiedBy = "size-only",
        reopen: Reopen | None = None,
        max_resumes: int = 0,
        progress: Progress | None = None,
    ) -> None:
        self.info = info
        self.verified_by = verified_by
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
        self._progress = progress or Progress(None, info.size)
        self._state = StreamState.READY

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
        if self._state is not StreamState.READY:
            raise RuntimeError("the object body has already been read")
        self._state = StreamState.STREAMING
        return self

    async def __anext__(self) -> bytes:
        if self._state is StreamState.CLOSED:
            raise StopAsyncIteration
        while True:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                await self.aclose()
                self._check_complete()
                await self._progress.finish()
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
        await self._progress.advance(len(chunk))
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
            self._state = StreamState.CLOSED
            raise

    def _check_complete(self) -> None:
        if self._received != self.info.size:
            raise IntegrityError(
                f"body of {self.info.key!r} ended after {self._received} of {self.info.size} bytes"
            )
        if self._hasher is not None and self._hasher.b64() != self._expected:
            raise checksum_mismatch(
                self.info.key, self.verified_by, str(self._expected), self._hasher.b64()
            )

    async def read(self) -> bytes:
        """Read the whole body (and close it)."""
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        """Release the connection; safe to call more than once."""
        if self._state is not StreamState.CLOSED:
            self._state = StreamState.CLOSED
            await _close_chunks(self._chunks)

    def __repr__(self) -> str:
        return f"<ObjectStream key={self.info.key!r} size={self.info.size}>"


def checksum_mismatch(key: str, verified_by: VerifiedBy, stored: str, got: str) -> IntegrityError:
    """The error for bytes whose checksum is not the one the server stored."""
    what = "an MD5 ETag" if verified_by == "etag-md5" else verified_by
    return IntegrityError(
        f"checksum mismatch for {key!r}: the server stored {what} {stored}, "
        f"the bytes received give {got}"
    )


async def _close_chunks(chunks: Chunks) -> None:
    await chunks.aclose()


async def open_object(
    pipeline: Pipeline, request: S3Request, *, progress: ProgressCallback | None = None
) -> ObjectStream:
    """Send a GetObject request (built by ``_requests``) and return its body as a stream
    that verifies what it delivers and resumes from the next byte (pinned to the ETag)
    when the connection drops.  A whole body (no ``Content-Range``) is checked against
    the stored checksum; a ranged one by its length."""
    bucket, key = request.bucket, request.key
    assert bucket is not None and key is not None
    response = await pipeline.send(request)
    assert response.body is not None
    info = _requests.object_info(key, response.headers)
    total, bounds = _requests.content_range(response.headers, info.size)
    verified_by, algorithm, expected = download_check(
        response.headers,
        dict(info.checksums),
        info.etag,
        whole=bounds is None,
        etag_md5=pipeline.options.checksum is not None,
    )
    verify = (algorithm, expected) if algorithm and expected else None
    last = bounds[1] if bounds else info.size - 1

    same = _requests.same_object(request)

    async def reopen(offset: int) -> Chunks:
        request = _requests.resume_object(bucket, key, offset, last, info.etag, same)
        try:
            again = await pipeline.send(request)
        except PreconditionFailed as error:
            raise IntegrityError(
                f"{key!r} changed while it was being downloaded (ETag no longer matches)"
            ) from error
        assert again.body is not None
        return again.body

    return ObjectStream(
        info,
        response.body,
        total_size=total,
        content_range=bounds,
        verify=verify,
        verified_by=verified_by,
        reopen=reopen,
        max_resumes=pipeline.options.retry.max_attempts - 1,
        progress=Progress(progress, info.size),
    )


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
