"""Multipart upload and multipart copy, with parts in flight concurrently.

Rules of this module:
- Structured concurrency only: parts run in an anyio task group; a semaphore
  bounds how many are in flight, and so how much memory one-shot streams
  need (at most ``max_concurrency`` buffered parts).
- Replayable sources (bytes, files) are never buffered: each part reads its own
  byte range.
- Any failure or cancellation aborts the upload under a shielded cancel scope,
  so no orphaned parts are left behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import anyio

from ._body import ChunksSource, Source, StreamSource
from ._checksums import combine_crc32_b64
from ._exceptions import InvalidRequestError, S3Error
from ._models import CompletedPart, CopyObjectResult, ObjectInfo, PutObjectResult

if TYPE_CHECKING:
    from ._client import S3Client

__all__ = ["copy_multipart", "upload_multipart"]


PartSender = Callable[[], Awaitable[CompletedPart]]
Submit = Callable[[int, PartSender], Awaitable[None]]
Schedule = Callable[[Submit], Awaitable[None]]

MAX_PARTS = 10_000
ABORT_TIMEOUT = 30.0


async def _abort_quietly(client: S3Client, bucket: str, key: str, upload_id: str) -> None:
    # The original error matters more than a failed abort; a lifecycle rule cleans up.
    with (
        anyio.CancelScope(shield=True),
        anyio.move_on_after(ABORT_TIMEOUT),
        contextlib.suppress(S3Error),
    ):
        await client.abort_multipart_upload(bucket, key, upload_id)


async def _run_parts(
    client: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    schedule: Schedule,
    *,
    in_flight: int,
) -> list[CompletedPart]:
    """Run ``schedule(submit)``; each ``submit(number, send)`` waits for one of
    ``in_flight`` slots."""
    done: dict[int, CompletedPart] = {}
    slots = anyio.Semaphore(in_flight)

    async def run(number: int, send: PartSender) -> None:
        try:
            done[number] = await send()
        finally:
            slots.release()

    try:
        async with anyio.create_task_group() as group:

            async def submit(number: int, send: PartSender) -> None:
                if number > MAX_PARTS:
                    raise InvalidRequestError(
                        "the body needs more than 10,000 parts: raise part_size"
                    )
                await slots.acquire()
                group.start_soon(run, number, send)

            await schedule(submit)
    except BaseExceptionGroup as group_error:
        raise _first_error(group_error) from None
    return [done[n] for n in sorted(done)]


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to report from a failed task group: the first that is not a cancellation.

    Callers see the exception their body or the server raised, not a group.
    """
    cancelled = anyio.get_cancelled_exc_class()
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(group)
    for leaf in leaves:
        if not isinstance(leaf, cancelled):
            return leaf
    return leaves[0] if leaves else group


async def upload_multipart(
    client: S3Client,
    bucket: str,
    key: str,
    source: Source,
    headers: Sequence[tuple[str, str]],
    *,
    first_part: tuple[ChunksSource, int] | None = None,
) -> PutObjectResult:
    """Upload ``source`` as a multipart upload; abort it on any failure."""
    # CRC32 uploads state the whole object's CRC32 (FULL_OBJECT), so that downloads
    # can verify multipart objects too; it is combined from the parts' CRCs.
    full_object = client.checksum == "crc32"
    upload_id = await client._create_multipart(
        bucket, key, headers, client.checksum, full_object=full_object
    )
    total = 0
    sizes: dict[int, int] = {}
    try:

        async def schedule(
            submit: Submit,
        ) -> None:
            nonlocal total
            if source.replayable and source.length is not None and first_part is None:
                part_size = client.plan_parts(source.length)
                total = source.length
                for index, start in enumerate(range(0, source.length, part_size)):
                    size = min(part_size, source.length - start)
                    sizes[index + 1] = size
                    await submit(
                        index + 1,
                        _ranged_sender(
                            client, bucket, key, upload_id, index + 1, source, start, size
                        ),
                    )
                if source.length == 0:
                    await submit(1, _ranged_sender(client, bucket, key, upload_id, 1, source, 0, 0))
                return
            # A one-shot stream: buffered part by part; a short part is the last.
            assert isinstance(source, StreamSource)
            number = 0
            pending = first_part
            while True:
                if pending is not None:
                    part, requested = pending
                    pending = None
                else:
                    requested = client.part_size
                    part = await source.take(requested)
                size = part.length or 0
                if not size and number:
                    return
                number += 1
                total += size
                sizes[number] = size
                await submit(
                    number,
                    _ranged_sender(client, bucket, key, upload_id, number, part, 0, size),
                )
                if size < requested:
                    return

        # Ranged parts read their own bytes; buffered parts of a one-shot stream are
        # held in memory, so their number is bounded by max_buffer_size as well.
        in_flight = client.max_concurrency
        if not source.replayable:  # in flight, plus the next part being filled
            buffers = client.max_buffer_size // client.part_size
            in_flight = min(in_flight, max(1, buffers - 1))
        parts = await _run_parts(client, bucket, key, upload_id, schedule, in_flight=in_flight)
        whole = None
        if full_object and all(part.checksum for part in parts):
            whole = combine_crc32_b64([(str(p.checksum), sizes[p.part_number]) for p in parts])
        result = await client.complete_multipart_upload(
            bucket, key, upload_id, parts, full_object_crc32=whole
        )
    except BaseException:
        await _abort_quietly(client, bucket, key, upload_id)
        raise
    return PutObjectResult(
        etag=result.etag, size=total, version_id=result.version_id, parts=len(parts)
    )


def _ranged_sender(
    client: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    number: int,
    source: Source,
    start: int,
    size: int,
) -> PartSender:
    def send() -> Awaitable[CompletedPart]:
        return client._upload_part_range(
            bucket, key, upload_id, number, source, start, size, client.checksum
        )

    return send


async def copy_multipart(
    client: S3Client,
    src_bucket: str,
    src_key: str,
    dst_bucket: str,
    dst_key: str,
    source: ObjectInfo,
    headers: Sequence[tuple[str, str]],
) -> CopyObjectResult:
    """Copy a large object part by part with UploadPartCopy; abort on any failure."""
    upload_id = await client._create_multipart(dst_bucket, dst_key, headers, None)
    try:
        part_size = max(client.copy_part_size, -(-source.size // MAX_PARTS))

        async def schedule(
            submit: Submit,
        ) -> None:
            for index, start in enumerate(range(0, source.size, part_size)):
                last = min(start + part_size, source.size) - 1

                def send(
                    n: int = index + 1, first: int = start, end: int = last
                ) -> Awaitable[CompletedPart]:
                    return client.upload_part_copy(
                        src_bucket,
                        src_key,
                        dst_bucket,
                        dst_key,
                        upload_id,
                        n,
                        range=(first, end),
                        source_etag=source.etag,
                    )

                await submit(index + 1, send)

        parts = await _run_parts(
            client, dst_bucket, dst_key, upload_id, schedule, in_flight=client.max_concurrency
        )
        result = await client.complete_multipart_upload(dst_bucket, dst_key, upload_id, parts)
    except BaseException:
        await _abort_quietly(client, dst_bucket, dst_key, upload_id)
        raise
    return CopyObjectResult(etag=result.etag, version_id=result.version_id)
