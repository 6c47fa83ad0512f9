"""Uploads and multipart copies: one PUT or many parts, with parts in flight concurrently.

Rules of this module:
- It talks to the pipeline and reads ``TransferOptions``; it never sees the
  client.  ``put_source`` decides single PUT or multipart upload.
- Structured concurrency only: parts run in an anyio task group; a semaphore
  bounds how many are in flight, and so how much memory one-shot streams
  need (at most ``TransferOptions.buffered_parts_in_flight`` buffered parts).
- Replayable sources (bytes, files) are never buffered: each part reads its own
  byte range.  A one-shot stream is cut into parts of exactly ``part_size``
  bytes (the last may be shorter): some stores require equal parts.
- A file part's first chunk is read and hashed ahead (``_payload.read_lead``):
  the next parts' while the parts in flight wait for their answers, the first
  round's while CreateMultipartUpload is in flight.  So a part's body follows its
  head at once, and the file's chunk buffers number the parts in flight plus one,
  and one more for each part being retried (dropped when it ends).
- Any failure or cancellation aborts the upload under a shielded cancel scope,
  so no orphaned parts are left behind.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from . import _requests, _xml
from ._body import BytesSource, ChunksSource, FileSource, Source, StreamSource
from ._checksum_policy import (
    TRAILER_REFUSALS,
    ChecksumSetting,
    upload_checksum,
    with_content_md5,
)
from ._checksums import ChecksumAlgorithm, combine_crc32_b64
from ._exceptions import (
    IntegrityError,
    InvalidRequestError,
    NoSuchKey,
    NoSuchUpload,
    PreconditionFailed,
    S3Error,
    ServiceError,
)
from ._http import Response
from ._models import CompletedPart, CopyObjectResult, ObjectInfo, PutObjectResult
from ._options import MAX_PARTS, MAX_SINGLE_PUT, TransferOptions
from ._payload import Lead, Payload, payload_for_source, read_lead
from ._pipeline import Pipeline, no_such_upload
from ._progress import Progress
from ._tasks import first_error

__all__ = [
    "abort",
    "complete",
    "copy_in_parts",
    "create",
    "put_source",
    "send_body",
    "send_part",
    "upload_one_part",
]

PartSender = Callable[[], Awaitable[CompletedPart]]
Submit = Callable[[int, PartSender], Awaitable[None]]
Schedule = Callable[[Submit], Awaitable[None]]

ABORT_TIMEOUT = 30.0


# --- the S3 calls of a multipart upload ----------------------------------------------


async def create(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    headers: Sequence[tuple[str, str]],
    checksum: ChecksumAlgorithm | None,
    *,
    full_object: bool = False,
) -> str:
    """CreateMultipartUpload; returns the upload id."""
    request = _requests.create_multipart_upload(
        bucket, key, headers, checksum, full_object=full_object
    )
    response = await pipeline.send(request)
    pipeline.features.note_create_answer(checksum, response.headers)
    return _xml.parse_initiate_multipart_upload(response.content)


async def send_body(
    pipeline: Pipeline,
    build: Callable[[Payload], _requests.S3Request],
    source: Source,
    start: int,
    size: int,
    setting: ChecksumSetting,
    lead: Lead | None = None,
) -> tuple[Response, Payload, ChecksumAlgorithm | None]:
    """Send an upload of bytes ``[start, start + size)`` of a replayable source with the
    checksum ``setting`` asks for (``_checksum_policy``).  Under ``"auto"``, a trailer the
    server refuses is dropped (for the client's life) and the body is sent once more.
    ``lead``: the range's first chunk, read ahead (``read_lead``)."""
    features = pipeline.features
    signed = pipeline.payload_signed
    in_memory = isinstance(source, BytesSource) or size == 0
    algorithm = upload_checksum(setting, features, in_memory=in_memory, signed=signed)
    md5 = with_content_md5(setting, features, signed=signed)
    payload = await payload_for_source(
        source, start, size, signed=signed, checksum=algorithm, content_md5=md5, lead=lead
    )
    try:
        response = await pipeline.send(build(payload))
    except ServiceError as error:
        if setting != "auto" or not payload.uses_trailer or error.code not in TRAILER_REFUSALS:
            raise
        features.refuse_trailers(error.code)
        algorithm = upload_checksum(setting, features, in_memory=in_memory, signed=signed)
        payload = await payload_for_source(source, start, size, signed=signed, checksum=algorithm)
        response = await pipeline.send(build(payload))
    if setting == "auto":
        features.note_upload_answer(algorithm, response.headers)
    return response, payload, algorithm


async def send_part(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    upload_id: str,
    number: int,
    source: Source,
    start: int,
    size: int,
    checksum: ChecksumSetting,
    headers: Sequence[tuple[str, str]] = (),
    lead: Lead | None = None,
) -> CompletedPart:
    """UploadPart of bytes ``[start, start + size)`` of a replayable source (``headers``:
    what every part repeats, SSE-C; ``lead``: its first chunk, read ahead)."""

    def build(payload: Payload) -> _requests.S3Request:
        return _requests.upload_part(bucket, key, upload_id, number, payload, headers)

    response, payload, algorithm = await send_body(
        pipeline, build, source, start, size, checksum, lead
    )
    etag = _xml.unquote_etag(response.headers.get("etag") or "")
    if algorithm not in ("crc32", "sha256"):
        return CompletedPart(number, etag)
    value = payload.sent_checksum or response.headers.get(f"x-amz-checksum-{algorithm}")
    return CompletedPart(number, etag, value, algorithm)


async def upload_one_part(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    upload_id: str,
    number: int,
    source: Source,
    checksum: ChecksumAlgorithm | None,
) -> CompletedPart:
    """UploadPart of a whole body (a one-shot stream is buffered, at most 5 GiB)."""
    _requests.check_part_number(number)
    part = source
    if isinstance(source, StreamSource):
        part = await source.take(MAX_SINGLE_PUT + 1)
        if part.length is not None and part.length > MAX_SINGLE_PUT:
            raise InvalidRequestError("a part cannot exceed 5 GiB")
    assert part.length is not None
    return await send_part(pipeline, bucket, key, upload_id, number, part, 0, part.length, checksum)


async def complete(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    upload_id: str,
    parts: Sequence[CompletedPart],
    *,
    full_object_crc32: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> PutObjectResult:
    """CompleteMultipartUpload (``size`` in the result is -1: the caller knows it);
    ``extra``: conditions and SSE-C headers.

    Once the server has answered 200 the object exists, so nothing after that raises:
    an answer without an ETag (a Ceph RGW bug) takes the ``ETag`` header, else the
    ETag a HEAD shows, else ``None``.
    """
    request = _requests.complete_multipart_upload(
        bucket, key, upload_id, parts, full_object_crc32=full_object_crc32, extra=extra
    )
    try:
        response = await pipeline.send(request)
    except ServiceError as error:
        # Ceph RGW answers 500 to completing an aborted upload: say what it means.
        if error.status >= 500 and not await _upload_exists(pipeline, bucket, key, upload_id):
            raise no_such_upload(error) from error
        raise
    etag = _xml.parse_complete_multipart_upload(response.content)
    if etag is None:
        etag = _xml.unquote_etag(response.headers.get("etag") or "") or None
    if etag is None:
        with contextlib.suppress(S3Error):
            head = await pipeline.send(_requests.object_request("HEAD", bucket, key))
            etag = _xml.unquote_etag(head.headers.get("etag") or "") or None
    return PutObjectResult(
        etag=etag,
        size=-1,
        version_id=response.headers.get("x-amz-version-id"),
        parts=len(parts),
    )


async def _upload_exists(pipeline: Pipeline, bucket: str, key: str, upload_id: str) -> bool:
    """Whether the server still knows the upload (a failed check counts as yes)."""
    try:
        await pipeline.send(_requests.list_parts_page(bucket, key, upload_id, None))
    except NoSuchUpload:
        return False
    except S3Error:
        return True
    return True


async def abort(pipeline: Pipeline, bucket: str, key: str, upload_id: str) -> None:
    """AbortMultipartUpload."""
    await pipeline.send(_requests.abort_multipart_upload(bucket, key, upload_id))


async def _abort_quietly(pipeline: Pipeline, bucket: str, key: str, upload_id: str) -> None:
    # The original error matters more than a failed abort; a lifecycle rule cleans up.
    with (
        anyio.CancelScope(shield=True),
        anyio.move_on_after(ABORT_TIMEOUT),
        contextlib.suppress(S3Error),
    ):
        await abort(pipeline, bucket, key, upload_id)


async def _current_etag(pipeline: Pipeline, bucket: str, key: str) -> str | None:
    """The ETag (unquoted) the object has now, from a HEAD; None when there is none."""
    try:
        head = await pipeline.send(_requests.object_request("HEAD", bucket, key))
    except NoSuchKey:
        return None
    return _xml.unquote_etag(head.headers.get("etag") or "")


async def _if_match_holds(
    pipeline: Pipeline, bucket: str, key: str, headers: Sequence[tuple[str, str]]
) -> bool:
    """Whether the object's ETag is the ``If-Match`` of ``headers`` (False without one)."""
    wanted = dict(headers).get("if-match")
    if wanted is None or wanted == "*":
        return False
    return await _current_etag(pipeline, bucket, key) == _xml.unquote_etag(wanted)


async def _check_conditions_first(
    pipeline: Pipeline, bucket: str, key: str, conditions: Sequence[tuple[str, str]]
) -> None:
    """Check a conditional multipart upload's ``If-Match`` / ``If-None-Match`` with a HEAD
    before any part is sent.  Complete carries them too, for the servers that check them
    atomically; this catches what it can on the servers that ignore them there (Ceph
    RGW 16), and saves uploading parts that would be refused."""
    wanted = dict(conditions)
    if not wanted:
        return
    current = await _current_etag(pipeline, bucket, key)
    none_match, match = wanted.get("if-none-match"), wanted.get("if-match")
    if (none_match == "*" and current is not None) or (
        match is not None and current != _xml.unquote_etag(match)
    ):
        raise PreconditionFailed(
            "PreconditionFailed",
            "the condition of this upload does not hold (checked before its parts were sent)",
            status=412,
            bucket=bucket,
            key=key,
        )


@dataclass(frozen=True, slots=True)
class _Extra:
    part_headers: Sequence[tuple[str, str]]
    conditions: Sequence[tuple[str, str]]


# --- running parts -----------------------------------------------------------------


async def _run_parts(schedule: Schedule, *, in_flight: int) -> list[CompletedPart]:
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
                        f"the body needs more than {MAX_PARTS:,} parts: raise part_size"
                    )
                await slots.acquire()
                group.start_soon(run, number, send)

            await schedule(submit)
    except BaseExceptionGroup as group_error:
        raise first_error(group_error) from None
    return [done[n] for n in sorted(done)]


def _part_ranges(length: int, part_size: int) -> list[tuple[int, int]]:
    """``(start, size)`` of every part of a body of ``length`` bytes (one, if empty)."""
    starts = range(0, max(length, 1), part_size)
    return [(start, min(part_size, length - start)) for start in starts]


class _LeadReader:
    """Reads the first chunk of every part of a replayable body ahead, in order.

    One task (``run``) reads the leads one after the other, so reading ahead never
    competes with itself for the cores.  At most ``ahead`` lead buffers are out at
    once: read and not yet taken, or serving their part's body.  A buffer comes back
    when its part's body has been sent, not when the part's answer arrives, so the
    next leads are read while the parts in flight wait for their answers (the first
    round's leads while the upload is created).  A part that reads its range without
    its lead (a retry, or a lead hashed for another plan) takes a buffer beyond those;
    the file keeps no more than ``ahead`` of them once such parts end.  A lead it
    cannot read (a caller's file object, an in-memory body, a read error) is
    ``None``: that part reads its range itself, and reports any error of it.
    """

    def __init__(
        self, pipeline: Pipeline, source: Source, ranges: list[tuple[int, int]], ahead: int
    ) -> None:
        self.ranges = ranges
        self._pipeline = pipeline
        self._source = source
        if isinstance(source, FileSource):
            source.buffers.keep = ahead
        self._places = anyio.Semaphore(ahead)
        self._send, self._receive = anyio.create_memory_object_stream[Lead | None](ahead)

    async def run(self) -> None:
        """Read every part's lead, in order (a task of its own)."""
        async with self._send:
            for start, size in self.ranges:
                await self._places.acquire()
                lead = await self._read(start, size)
                if lead is None:
                    self._places.release()  # no buffer of ours is out
                else:
                    lead.prefetched.when_free(self._places.release)
                try:
                    await self._send.send(lead)
                except BaseException:
                    if lead is not None:
                        lead.release()
                    raise

    async def _read(self, start: int, size: int) -> Lead | None:
        pipeline = self._pipeline
        signed = pipeline.payload_signed
        setting = pipeline.options.checksum
        algorithm = upload_checksum(setting, pipeline.features, in_memory=False, signed=signed)
        try:
            return await read_lead(self._source, start, size, signed=signed, checksum=algorithm)
        except (OSError, IntegrityError):
            return None  # the part reads its range itself and raises there

    async def next(self) -> Lead | None:
        """The next part's lead (waits for it)."""
        return await self._receive.receive()

    def close(self) -> None:
        """Give back the buffers of leads never taken."""
        while True:
            try:
                lead = self._receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
            if lead is not None:
                lead.release()
        self._receive.close()


# --- uploads -----------------------------------------------------------------------


async def put_source(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    source: Source,
    headers: Sequence[tuple[str, str]],
    *,
    transfer: TransferOptions | None = None,
    progress: Progress | None = None,
    part_headers: Sequence[tuple[str, str]] = (),
    conditions: Sequence[tuple[str, str]] = (),
) -> PutObjectResult:
    """Upload a whole body: one PUT up to ``multipart_threshold``, else a multipart
    upload.  A one-shot stream is buffered part by part until it is known which.
    ``transfer`` overrides the client's transfer options for this upload; ``progress``
    counts each part's bytes once the server has taken it.  ``headers`` describe the
    object (on the PUT, or on CreateMultipartUpload), ``part_headers`` go on each
    UploadPart, ``conditions`` on the PUT or on CompleteMultipartUpload."""
    transfer = transfer or pipeline.options.transfer
    progress = progress or Progress(None, source.length)
    extra = _Extra(part_headers, conditions)
    if isinstance(source, StreamSource):
        head: list[ChunksSource] = []
        buffered = 0
        ended = False
        while buffered < transfer.multipart_threshold:
            part = await source.take(transfer.part_size)
            head.append(part)
            buffered += part.length or 0
            if (part.length or 0) < transfer.part_size or await source.exhausted():
                ended = True
                break
        if ended and buffered <= transfer.multipart_threshold:
            whole = ChunksSource.joined(head)
            single = [*headers, *conditions]
            return await _put_single(pipeline, bucket, key, whole, single, progress)
        return await _upload_parts(
            pipeline, bucket, key, source, headers, head, transfer, progress, extra
        )
    assert source.length is not None
    if source.length <= transfer.multipart_threshold:
        return await _put_single(
            pipeline, bucket, key, source, [*headers, *conditions], progress
        )
    return await _upload_parts(
        pipeline, bucket, key, source, headers, [], transfer, progress, extra
    )


async def _put_single(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    source: Source,
    headers: Sequence[tuple[str, str]],
    progress: Progress,
) -> PutObjectResult:
    length = source.length or 0
    sent = list(headers)

    def build(payload: Payload) -> _requests.S3Request:
        return _requests.object_request("PUT", bucket, key, headers=sent, payload=payload)

    try:
        response, _, _ = await send_body(
            pipeline, build, source, 0, length, pipeline.options.checksum
        )
    except PreconditionFailed:
        # Ceph RGW 16 compares a write's If-Match without its quotes: when the object
        # does carry the ETag asked for, ask once more in the form it reads.
        if not await _if_match_holds(pipeline, bucket, key, sent):
            raise
        sent = [(n, _xml.unquote_etag(v) if n == "if-match" else v) for n, v in sent]
        response, _, _ = await send_body(
            pipeline, build, source, 0, length, pipeline.options.checksum
        )
    await progress.advance(length)
    await progress.finish()
    return _requests.put_result(response.headers, length)


async def _upload_parts(
    pipeline: Pipeline,
    bucket: str,
    key: str,
    source: Source,
    headers: Sequence[tuple[str, str]],
    buffered: list[ChunksSource],
    transfer: TransferOptions,
    progress: Progress,
    extra: _Extra,
) -> PutObjectResult:
    """Upload ``source`` as a multipart upload (``buffered``: the parts of a one-shot
    stream already read); abort it on any failure."""
    await _check_conditions_first(pipeline, bucket, key, extra.conditions)
    checksum = pipeline.options.checksum
    # The algorithm the upload announces: what its parts will carry as far as is known
    # now (under "auto" a part may still learn that the server takes no trailer; then
    # the remaining parts go without a flexible checksum, which such a server ignores).
    announced = upload_checksum(
        checksum, pipeline.features, in_memory=False, signed=pipeline.payload_signed
    )
    # CRC32 uploads state the whole object's CRC32 (FULL_OBJECT), so that downloads
    # can verify multipart objects too; it is combined from the parts' CRCs.
    full_object = announced == "crc32"
    reader = None
    if not isinstance(source, StreamSource):
        length = source.length or 0
        ranges = _part_ranges(length, transfer.part_size_for(length))
        reader = _LeadReader(pipeline, source, ranges, transfer.max_concurrency + 1)
    sizes: dict[int, int] = {}

    def sender(
        number: int, part: Source, start: int, size: int, lead: Lead | None = None
    ) -> PartSender:
        sizes[number] = size

        async def send() -> CompletedPart:
            try:
                done = await send_part(
                    pipeline,
                    bucket,
                    key,
                    upload_id,
                    number,
                    part,
                    start,
                    size,
                    checksum,
                    extra.part_headers,
                    lead,
                )
            finally:
                if lead is not None:
                    lead.release()  # unless the body took it (an attempt that never started)
            await progress.advance(size)
            return done

        return send

    async def ranged_parts(submit: Submit) -> None:
        assert reader is not None
        for number, (start, size) in enumerate(reader.ranges, 1):
            lead = await reader.next()
            try:
                await submit(number, sender(number, source, start, size, lead))
            except BaseException:
                if lead is not None:
                    lead.release()
                raise

    async def stream_parts(submit: Submit) -> None:
        assert isinstance(source, StreamSource)
        pending = deque(buffered)
        number = 0
        while True:
            part = pending.popleft() if pending else await source.take(transfer.part_size)
            size = part.length or 0
            if not size and number:
                return
            number += 1
            await submit(number, sender(number, part, 0, size))
            if size < transfer.part_size or (not pending and await source.exhausted()):
                return

    try:
        async with anyio.create_task_group() as readers:
            if reader is not None:
                readers.start_soon(reader.run)  # the first leads are read during Create
            upload_id = await create(
                pipeline, bucket, key, headers, announced, full_object=full_object
            )
            try:
                if reader is None:
                    in_flight = transfer.buffered_parts_in_flight
                    parts = await _run_parts(stream_parts, in_flight=in_flight)
                else:
                    parts = await _run_parts(ranged_parts, in_flight=transfer.max_concurrency)
                whole = None
                if full_object and all(part.checksum for part in parts):
                    pairs = [(str(p.checksum), sizes[p.part_number]) for p in parts]
                    whole = combine_crc32_b64(pairs)
                result = await complete(
                    pipeline,
                    bucket,
                    key,
                    upload_id,
                    parts,
                    full_object_crc32=whole,
                    extra=[*extra.conditions, *extra.part_headers],
                )
            except BaseException:
                readers.cancel_scope.cancel()
                await _abort_quietly(pipeline, bucket, key, upload_id)
                raise
    except BaseExceptionGroup as group_error:
        raise first_error(group_error) from None
    finally:
        if reader is not None:
            reader.close()
    await progress.finish()
    total = sum(sizes.values())
    return PutObjectResult(
        etag=result.etag, size=total, version_id=result.version_id, parts=len(parts)
    )


# --- copies ------------------------------------------------------------------------


async def copy_part(
    pipeline: Pipeline,
    src_bucket: str,
    src_key: str,
    bucket: str,
    key: str,
    upload_id: str,
    number: int,
    *,
    range_: _requests.Range | None = None,
    source_etag: str | None = None,
    source_version_id: str | None = None,
) -> CompletedPart:
    """UploadPartCopy of (a byte range of) an existing object (or of one version)."""
    request = _requests.upload_part_copy(
        src_bucket,
        src_key,
        bucket,
        key,
        upload_id,
        number,
        range_=range_,
        source_etag=source_etag,
        source_version_id=source_version_id,
    )
    response = await pipeline.send(request)
    return CompletedPart(number, _xml.parse_copy_part_result(response.content))


async def copy_in_parts(
    pipeline: Pipeline,
    src_bucket: str,
    src_key: str,
    bucket: str,
    key: str,
    source: ObjectInfo,
    headers: Sequence[tuple[str, str]],
    *,
    conditions: Sequence[tuple[str, str]] = (),
) -> CopyObjectResult:
    """Copy a large object part by part with UploadPartCopy (every part pinned to the
    source's ETag and version); abort on any failure.  ``conditions`` go on Complete."""
    transfer = pipeline.options.transfer
    upload_id = await create(pipeline, bucket, key, headers, None)
    try:
        part_size = transfer.copy_part_size_for(source.size)

        async def schedule(submit: Submit) -> None:
            for index, start in enumerate(range(0, source.size, part_size)):
                last = min(start + part_size, source.size) - 1

                def send(
                    n: int = index + 1, first: int = start, end: int = last
                ) -> Awaitable[CompletedPart]:
                    return copy_part(
                        pipeline,
                        src_bucket,
                        src_key,
                        bucket,
                        key,
                        upload_id,
                        n,
                        range_=(first, end),
                        source_etag=source.etag,
                        source_version_id=source.version_id,
                    )

                await submit(index + 1, send)

        parts = await _run_parts(schedule, in_flight=transfer.max_concurrency)
        result = await complete(pipeline, bucket, key, upload_id, parts, extra=conditions)
    except BaseException:
        await _abort_quietly(pipeline, bucket, key, upload_id)
        raise
    return CopyObjectResult(etag=result.etag, version_id=result.version_id)
