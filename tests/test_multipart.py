"""Uploads (``s3lite._multipart``) on the wire, through ``S3Client`` and FakeS3.

The plan (one PUT up to ``multipart_threshold``, else parts of ``part_size``), the exact
length of every body sent, one-shot streams cut into parts and buffered for retries, and
the rule that any failure or cancellation aborts the multipart upload.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from s3lite import IntegrityError, S3Error, ServiceError
from s3lite._body import BufferPool, FileSource, Prefetched
from tests.fakes3 import (
    BUCKET,
    FakeS3,
    Seen,
    check_signature,
    check_wire_lengths,
    decoded_body,
    error_response,
    mock_client,
)
from tests.helpers import MiB, chunks_of, pattern

pytestmark = pytest.mark.anyio
T = TypeVar("T")


def leaf_errors(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaf_errors(inner)
    else:
        yield error


async def refuse_part_2(seen: Seen) -> httpx.Response | None:
    """An intercept: UploadPart number 2 is refused with 400 InvalidArgument."""
    if seen.method == "PUT" and seen.param("partNumber") == "2":
        return error_response(400, "InvalidArgument", "part 2 refused")
    return None


# --- single PUT or parts: the plan and the lengths on the wire ----------------------------


@pytest.mark.parametrize("size", [0, 1000, 11 * MiB])
@pytest.mark.parametrize("kind", ["bytes", "path", "stream-known-length", "stream-unknown-length"])
async def test_every_body_is_sent_with_content_length_never_chunked(
    kind: str, size: int, tmp_path: Path
) -> None:
    data = pattern(size, seed=size)
    threshold = 5 * MiB + 1
    fake = FakeS3()
    async with mock_client(fake, multipart_threshold=threshold, part_size=5 * MiB) as s3:
        if kind == "bytes":
            result = await s3.put_object(BUCKET, "obj", data)
        elif kind == "path":
            path = tmp_path / "body.bin"
            await anyio.Path(path).write_bytes(data)
            result = await s3.put_object(BUCKET, "obj", path)
        else:
            known = kind == "stream-known-length"
            async with aclosing(chunks_of(data, 300_001)) as body:
                result = await s3.put_object(
                    BUCKET, "obj", body, content_length=len(data) if known else None
                )
    check_wire_lengths(fake.requests)
    for seen in fake.requests:
        check_signature(seen)
    assert fake.objects["obj"] == data
    assert result.size == len(data)
    multipart = size > threshold
    assert bool(fake.of("POST", "uploads")) is multipart
    assert result.parts == (len(fake.of("PUT", "partNumber")) if multipart else 1)
    if multipart:
        assert fake.uploads == {}  # completed
        part_sizes = sorted(len(decoded_body(seen)) for seen in fake.of("PUT", "partNumber"))
        assert sum(part_sizes) == len(data)
        assert all(part >= 5 * MiB for part in part_sizes[1:])


@pytest.mark.parametrize("threshold", [64 * MiB, 5 * MiB + 1], ids=["one-put", "parts"])
async def test_file_chunks_reach_an_httpx_transport_that_keeps_them_intact(
    threshold: int, tmp_path: Path
) -> None:
    # A file is read chunk after chunk into one reused buffer; MockTransport keeps every
    # piece until the body ends (it joins them), so each must reach httpx as its own
    # bytes.  Random data: a repeating pattern would hide a chunk overwritten by the next.
    data = os.urandom(11 * MiB + 5)
    path = tmp_path / "body.bin"
    path.write_bytes(data)
    fake = FakeS3()
    async with mock_client(fake, multipart_threshold=threshold, part_size=5 * MiB) as s3:
        await s3.put_object(BUCKET, "obj", path)
    assert fake.objects["obj"] == data


async def test_file_parts_read_their_first_chunks_ahead_with_one_buffer_more_than_parts_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(6 * 5 * MiB)
    path = tmp_path / "body.bin"
    path.write_bytes(data)
    read_ahead: list[int] = []
    prefetch = FileSource.prefetch

    async def recording(
        self: FileSource, start: int, size: int, chunk: int, then: Callable[[memoryview], T]
    ) -> tuple[Prefetched, T] | None:
        read_ahead.append(start)
        return await prefetch(self, start, size, chunk, then)

    monkeypatch.setattr(FileSource, "prefetch", recording)
    at_server: list[str] = []
    two_held, release = anyio.Event(), anyio.Event()

    async def hold_parts(seen: Seen) -> httpx.Response | None:
        if seen.method == "PUT" and seen.has("partNumber"):
            at_server.append(seen.param("partNumber") or "")
            if len(at_server) == 2:
                two_held.set()
            await release.wait()
        return None

    fake = FakeS3(hold_parts)
    options: dict[str, Any] = {
        "multipart_threshold": 5 * MiB + 1,
        "part_size": 5 * MiB,
        "max_concurrency": 2,
    }
    async with mock_client(fake, **options) as s3, anyio.create_task_group() as group:
        group.start_soon(s3.put_object, BUCKET, "obj", path)
        with anyio.fail_after(20):
            await two_held.wait()
        await anyio.sleep(0.3)  # time to read further ahead, if it would
        # Parts 1 and 2 are at the server, their bodies sent (MockTransport reads a body
        # whole before it answers), so their buffers are free while they wait for their
        # answers: three buffers (two parts in flight + 1) hold the first chunks of parts
        # 3, 4 and 5, and part 6's is not read until one of them has been sent.
        assert sorted(at_server) == ["1", "2"]
        assert read_ahead == [0, 5 * MiB, 10 * MiB, 15 * MiB, 20 * MiB]
        release.set()
    assert read_ahead == [n * 5 * MiB for n in range(6)]
    assert fake.objects["obj"] == data


async def test_retried_file_parts_take_buffers_of_their_own_and_the_file_keeps_few(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every part's first attempt fails after its body was sent: its read-ahead buffer
    # went back at the end of that body, so its retry reads into another one.
    data = os.urandom(8 * 5 * MiB)
    path = tmp_path / "body.bin"
    path.write_bytes(data)
    pools: list[BufferPool] = []
    peak = [0]
    take = BufferPool.take

    def counting(self: BufferPool, size: int) -> bytearray:
        if self not in pools:
            pools.append(self)
        buffer = take(self, size)
        peak[0] = max(peak[0], self.alive)
        return buffer

    monkeypatch.setattr(BufferPool, "take", counting)
    failed: set[str] = set()

    async def fail_each_part_once(seen: Seen) -> httpx.Response | None:
        number = seen.param("partNumber") if seen.method == "PUT" else None
        if number and number not in failed:
            failed.add(number)
            await anyio.sleep(0.05)  # the others read ahead meanwhile
            return error_response(500, "InternalError")
        return None

    fake = FakeS3(fail_each_part_once)
    options: dict[str, Any] = {
        "multipart_threshold": 5 * MiB,
        "part_size": 5 * MiB,
        "max_concurrency": 2,
    }
    async with mock_client(fake, **options) as s3:
        await s3.put_object(BUCKET, "obj", path)
    assert fake.objects["obj"] == data
    assert len(failed) == 8
    [pool] = pools
    # Two parts in flight + 1 read ahead, and one more for each part being retried.
    assert 3 < peak[0] <= 5
    assert pool.alive <= 3  # what the file keeps once the retried parts have ended


@pytest.mark.parametrize("known", [False, True], ids=["unknown-length", "known-length"])
async def test_stream_is_uploaded_whole_when_threshold_is_below_part_size(known: bool) -> None:
    data = pattern(12 * MiB, seed=7)
    fake = FakeS3()
    async with (
        mock_client(fake, multipart_threshold=1 * MiB, part_size=5 * MiB) as s3,
        aclosing(chunks_of(data, 256 * 1024)) as body,
    ):
        result = await s3.put_object(
            BUCKET, "obj", body, content_length=len(data) if known else None
        )
    assert result.size == len(data)
    assert fake.objects["obj"] == data


async def test_stream_shorter_than_content_length_raises_before_sending() -> None:
    fake = FakeS3()
    async with mock_client(fake) as s3, aclosing(chunks_of(b"12345", 2)) as body:
        with pytest.raises(IntegrityError, match="content_length"):
            await s3.put_object(BUCKET, "obj", body, content_length=10)
    assert fake.requests == []


async def test_stream_longer_than_content_length_raises_integrity_error() -> None:
    fake = FakeS3()
    async with mock_client(fake) as s3, aclosing(chunks_of(b"hello world", 5)) as body:
        with pytest.raises(IntegrityError):
            await s3.put_object(BUCKET, "obj", body, content_length=5)
    assert "obj" not in fake.objects


async def test_stream_longer_than_content_length_is_refused_in_multipart() -> None:
    data = pattern(6 * MiB)
    fake = FakeS3()
    async with (
        mock_client(fake, multipart_threshold=5 * MiB, part_size=5 * MiB) as s3,
        aclosing(chunks_of(data, MiB)) as body,
    ):
        with pytest.raises(BaseException) as info:
            await s3.put_object(BUCKET, "obj", body, content_length=5 * MiB + 10)
    assert any(isinstance(e, IntegrityError) for e in leaf_errors(info.value))
    # Refused while the first part is buffered: any upload that was started is aborted.
    assert len(fake.of("DELETE", "uploadId")) == len(fake.of("POST", "uploads"))
    assert fake.uploads == {}
    assert "obj" not in fake.objects


# --- one-shot streams ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [2 * 5 * MiB + 12345, 3 * 5 * MiB], ids=["last-part-shorter", "last-part-full"]
)
@pytest.mark.parametrize("known", [False, True], ids=["unknown-length", "known-length"])
async def test_one_shot_stream_over_the_threshold_is_cut_into_parts_of_exactly_part_size(
    size: int, known: bool
) -> None:
    # Some stores require equal parts: every part but the last is exactly part_size, however
    # the stream's chunks fall, and a stream that ends on a part boundary sends no empty part.
    part_size = 5 * MiB
    data = pattern(size, seed=3)
    fake = FakeS3()
    async with (
        mock_client(fake, multipart_threshold=6 * MiB, part_size=part_size) as s3,
        aclosing(chunks_of(data, 300_001)) as body,
    ):
        result = await s3.put_object(BUCKET, "obj", body, content_length=size if known else None)
    check_wire_lengths(fake.requests)
    parts = sorted(fake.of("PUT", "partNumber"), key=lambda s: int(s.param("partNumber") or 0))
    count = -(-size // part_size)
    assert [seen.param("partNumber") for seen in parts] == [str(n) for n in range(1, count + 1)]
    bodies = [decoded_body(seen) for seen in parts]
    assert [len(part) for part in bodies[:-1]] == [part_size] * (count - 1)
    assert 0 < len(bodies[-1]) <= part_size
    assert b"".join(bodies) == data
    assert fake.objects["obj"] == data
    assert (result.size, result.parts) == (size, count)


async def test_one_shot_stream_is_read_once_and_retried_from_its_buffer() -> None:
    # put_object buffers a one-shot body of known small length, which makes it
    # replayable: each retry resends the same bytes without touching the iterator.
    iterations = 0
    answers = [error_response(503, "SlowDown"), error_response(500, "InternalError")]

    async def intercept(seen: Seen) -> httpx.Response | None:
        return answers.pop(0) if answers else None

    async def body() -> AsyncGenerator[bytes, None]:
        nonlocal iterations
        iterations += 1
        yield b"one-"
        yield b"shot"

    fake = FakeS3(intercept)
    async with mock_client(fake) as s3, aclosing(body()) as stream:
        await s3.put_object(BUCKET, "k", stream, content_length=8)
    assert iterations == 1
    assert [decoded_body(seen) for seen in fake.requests] == [b"one-shot"] * 3
    assert fake.objects["k"] == b"one-shot"


# --- failures abort the upload ------------------------------------------------------------


async def test_file_shrinking_during_a_multipart_upload_raises_and_aborts(tmp_path: Path) -> None:
    path = tmp_path / "shrinks.bin"
    await anyio.Path(path).write_bytes(pattern(11 * MiB))

    async def intercept(seen: Seen) -> httpx.Response | None:
        if seen.method == "PUT" and seen.param("partNumber") == "1":
            os.truncate(path, 6 * MiB)  # the file loses its tail after part 1 was read
        return None

    fake = FakeS3(intercept)
    options: dict[str, Any] = {
        "multipart_threshold": 5 * MiB + 1,
        "part_size": 5 * MiB,
        "max_concurrency": 1,
    }
    async with mock_client(fake, **options) as s3:
        with pytest.raises(BaseException) as info:
            await s3.put_object(BUCKET, "obj", path)
    assert any(isinstance(error, IntegrityError) for error in leaf_errors(info.value))
    assert [seen.param("uploadId") for seen in fake.of("DELETE", "uploadId")] == ["upload-1"]
    assert not fake.of("POST", "uploadId")
    assert "obj" not in fake.objects


async def test_multipart_part_failure_aborts_the_upload() -> None:
    fake = FakeS3(refuse_part_2)
    async with mock_client(fake, multipart_threshold=5 * MiB + 1, part_size=5 * MiB) as s3:
        with pytest.raises(BaseException) as info:
            await s3.put_object(BUCKET, "big", pattern(11 * MiB))
    errors = list(leaf_errors(info.value))
    assert any(isinstance(e, ServiceError) and e.code == "InvalidArgument" for e in errors)
    assert len([seen for seen in fake.requests if seen.has("uploads")]) == 1
    aborts = fake.of("DELETE", "uploadId")
    assert [seen.param("uploadId") for seen in aborts] == ["upload-1"]
    assert fake.aborted == ["upload-1"]
    assert not fake.of("POST", "uploadId")  # never completed
    assert "big" not in fake.objects
    assert len([seen for seen in fake.of("PUT") if seen.param("partNumber") == "2"]) == 1


async def test_a_refused_create_is_raised_as_itself_while_parts_were_read_ahead(
    tmp_path: Path,
) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(os.urandom(11 * MiB))

    async def refuse_create(seen: Seen) -> httpx.Response | None:
        if seen.method == "POST" and seen.has("uploads"):
            await anyio.sleep(0.2)  # the first parts' chunks are read meanwhile
            return error_response(403, "AccessDenied", "no uploads here")
        return None

    fake = FakeS3(refuse_create)
    async with mock_client(fake, multipart_threshold=5 * MiB + 1, part_size=5 * MiB) as s3:
        with pytest.raises(ServiceError) as info:
            await s3.put_object(BUCKET, "obj", path)
    assert info.value.code == "AccessDenied"
    assert not fake.of("PUT")
    assert not fake.of("DELETE")  # no upload to abort


async def test_a_failed_part_of_a_file_upload_aborts_it(tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(os.urandom(16 * MiB))
    fake = FakeS3(refuse_part_2)
    async with mock_client(fake, multipart_threshold=5 * MiB + 1, part_size=5 * MiB) as s3:
        with pytest.raises(ServiceError) as info:
            await s3.put_object(BUCKET, "big", path)
    assert info.value.code == "InvalidArgument"
    assert [seen.param("uploadId") for seen in fake.of("DELETE", "uploadId")] == ["upload-1"]
    assert not fake.of("POST", "uploadId")
    assert "big" not in fake.objects


async def test_multipart_part_failure_raises_the_part_error_itself() -> None:
    fake = FakeS3(refuse_part_2)
    async with mock_client(fake, multipart_threshold=5 * MiB + 1, part_size=5 * MiB) as s3:
        with pytest.raises(S3Error) as info:
            await s3.put_object(BUCKET, "big", pattern(11 * MiB))
    assert isinstance(info.value, ServiceError)
    assert info.value.code == "InvalidArgument"


async def test_cancelling_a_multipart_upload_still_aborts_it() -> None:
    part_started = anyio.Event()

    async def intercept(seen: Seen) -> httpx.Response | None:
        if seen.method == "PUT" and seen.has("partNumber"):
            part_started.set()
            await anyio.sleep(30)
        return None

    fake = FakeS3(intercept)
    async with mock_client(fake, multipart_threshold=5 * MiB + 1, part_size=5 * MiB) as s3:
        with anyio.fail_after(20), anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:

                async def cancel_when_a_part_is_in_flight() -> None:
                    await part_started.wait()
                    await anyio.sleep(0.05)
                    scope.cancel()

                group.start_soon(cancel_when_a_part_is_in_flight)
                await s3.put_object(BUCKET, "big", pattern(11 * MiB))
    assert scope.cancelled_caught
    assert [seen.param("uploadId") for seen in fake.of("DELETE", "uploadId")] == ["upload-1"]
    assert not fake.of("POST", "uploadId")
    assert "big" not in fake.objects
