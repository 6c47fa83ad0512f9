"""Ranged GETs of one version of an object: the first part, the parts after it, and
the checksum the whole is verified against.

Rules of this module:
- The first request is a ranged GET of the first part; its answer gives the
  object's size and ETag.  A HEAD asking for the stored checksum goes at the same
  time (ranged answers carry no full-object checksum); neither waits for the other.
- Every later part is a ranged GET pinned to that ETag (``If-Match``): a 412 means
  the object changed mid-way, and is an ``IntegrityError``.
- Every answer is checked against what was asked: a part's body is exactly its
  range of an object of the same size, else ``MalformedResponseError``.
- A server that ignores ``Range`` (200) sends the whole object in the first answer:
  that answer is then the whole download.  An empty object (a range of it is not
  satisfiable) is fetched with a plain GET.
- Parts resume themselves when a connection drops (``_download.ObjectStream``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import anyio

from . import _requests
from ._checksum_policy import VerifiedBy, download_check
from ._checksums import ChecksumAlgorithm
from ._download import ObjectStream, open_object
from ._exceptions import (
    IntegrityError,
    InvalidRange,
    InvalidRequestError,
    MalformedResponseError,
    PreconditionFailed,
    S3Error,
)
from ._http import Response
from ._pipeline import Pipeline
from ._requests import Same
from ._tasks import first_error

__all__ = [
    "MIN_DOWNLOAD_PART",
    "FirstPart",
    "StoredCheck",
    "check_transfer_arguments",
    "open_first",
    "open_part",
    "plan_parts",
]

MIN_DOWNLOAD_PART = 1024 * 1024
"""The smallest part a parallel download may ask for."""

Span = tuple[int, int]
"""Inclusive byte positions ``(first, last)``."""


@dataclass(frozen=True, slots=True)
class StoredCheck:
    """What the whole object is verified against: a label for ``verified_by``, and the
    algorithm and base64 value of the stored checksum (``None`` for size only)."""

    verified_by: VerifiedBy
    algorithm: ChecksumAlgorithm | None = None
    expected: str | None = None


@dataclass(slots=True)
class FirstPart:
    """The opened first part of a download."""

    stream: ObjectStream
    """The body of the first part (of the whole object when ``whole``)."""
    total: int
    etag: str
    whole: bool
    """The first answer holds the whole object (no other part is needed)."""
    check: StoredCheck
    same: Same = ((), ())
    """The version and SSE-C headers every later part repeats."""

    def spans(self, part_size: int) -> list[Span]:
        """The parts of the download, this one first (one, of no byte, for an empty
        object)."""
        if self.whole:
            return [(0, self.total - 1)]
        return plan_parts(self.total, part_size) or [(0, -1)]


def check_transfer_arguments(part_size: int, max_concurrency: int) -> None:
    """``InvalidRequestError`` unless both are sensible ints."""
    if isinstance(part_size, bool) or not isinstance(part_size, int):
        raise InvalidRequestError(f"part_size must be an int, got {part_size!r}")
    if part_size < MIN_DOWNLOAD_PART:
        raise InvalidRequestError(
            f"part_size must be at least {MIN_DOWNLOAD_PART} bytes (1 MiB), got {part_size}"
        )
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
        raise InvalidRequestError(f"max_concurrency must be an int, got {max_concurrency!r}")
    if max_concurrency < 1:
        raise InvalidRequestError(f"max_concurrency must be at least 1, got {max_concurrency}")


def plan_parts(total: int, part_size: int) -> list[Span]:
    """The byte spans of an object of ``total`` bytes cut into ``part_size`` parts."""
    return [(start, min(start + part_size, total) - 1) for start in range(0, total, part_size)]


def _stored_check(response: Response | None, etag: str, *, etag_md5: bool) -> StoredCheck:
    if response is None:
        return StoredCheck("size-only")
    info = _requests.object_info("", response.headers)
    if info.etag != etag:  # the HEAD saw another version: its checksum is not ours
        return StoredCheck("size-only")
    label, algorithm, expected = download_check(
        response.headers, dict(info.checksums), etag, whole=True, etag_md5=etag_md5
    )
    return StoredCheck(label, algorithm, expected)


async def open_first(
    pipeline: Pipeline, bucket: str, key: str, part_size: int, same: Same = ((), ())
) -> FirstPart:
    """Open the first ``part_size`` bytes of the object (``same``: the version and SSE-C
    headers every request repeats), and learn its stored checksum."""
    heads: list[Response] = []
    query, headers = same

    async def head() -> None:
        # A failed HEAD only costs the checksum: the GET says whether the object exists.
        request = _requests.head_with_checksum(bucket, key, query=query, headers=headers)
        with contextlib.suppress(S3Error):
            heads.append(await pipeline.send(request))

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(head)
            try:
                request = _requests.first_part(bucket, key, part_size, same)
                stream = await open_object(pipeline, request)
            except InvalidRange:  # an empty object has no first byte
                request = _requests.get_object(bucket, key, None, query=query, headers=headers)
                stream = await open_object(pipeline, request)
    except BaseExceptionGroup as errors:
        raise first_error(errors) from None
    etag = stream.etag
    if stream.content_range is None:  # the whole object, verified as any whole GET
        check = StoredCheck(stream.verified_by)
        return FirstPart(stream, stream.size, etag, True, check, same)
    expected = (0, min(part_size, stream.total_size) - 1)
    if stream.content_range != expected:
        await stream.aclose()
        raise MalformedResponseError(
            f"asked for bytes {expected[0]}-{expected[1]} of {key!r}, the server sent "
            f"{stream.content_range[0]}-{stream.content_range[1]}"
        )
    etag_md5 = pipeline.options.checksum is not None
    check = _stored_check(heads[0] if heads else None, etag, etag_md5=etag_md5)
    whole = stream.total_size <= part_size
    return FirstPart(stream, stream.total_size, etag, whole, check, same)


async def open_part(
    pipeline: Pipeline, bucket: str, key: str, first: FirstPart, span: Span
) -> ObjectStream:
    """Open one later part, pinned to the first part's ETag."""
    request = _requests.resume_object(bucket, key, span[0], span[1], first.etag, first.same)
    try:
        stream = await open_object(pipeline, request)
    except PreconditionFailed as error:
        raise IntegrityError(
            f"{key!r} changed while it was being downloaded (ETag no longer matches)"
        ) from error
    if stream.content_range != span or stream.total_size != first.total:
        got = stream.content_range
        await stream.aclose()
        raise MalformedResponseError(
            f"asked for bytes {span[0]}-{span[1]} of {first.total} of {key!r}, the server "
            f"sent {'the whole object' if got is None else f'{got[0]}-{got[1]}'} of "
            f"{stream.total_size}"
        )
    return stream
