"""Downloads (``s3lite._download``) on the wire, through ``S3Client`` and FakeS3.

A GET body is streamed, checked against its Content-Length and the full-object checksum
the server states, and resumed with a ranged GET pinned to the ETag when the connection
drops part-way.
"""

from __future__ import annotations

import httpx
import pytest

from s3lite import IntegrityError, RetryPolicy, TransportError
from tests.fakes3 import (
    BUCKET,
    FakeS3,
    Seen,
    body_response,
    etag_of,
    expected_checksum,
    mock_client,
)
from tests.helpers import pattern

pytestmark = pytest.mark.anyio


# --- streaming and the length check -------------------------------------------------------


async def test_get_object_body_shorter_than_content_length_raises_integrity_error() -> None:
    # MockTransport does not police Content-Length (a real h11 connection would raise
    # RemoteProtocolError -> TransportError), so this reaches the client's own check.
    async def handler(request: httpx.Request) -> httpx.Response:
        return body_response(200, b"12345", {"etag": '"e"'}, length=10)

    async with mock_client(handler) as s3:
        stream = await s3.get_object(BUCKET, "k")
        assert stream.size == 10
        with pytest.raises(IntegrityError, match="5 of 10 bytes"):
            await stream.read()


async def test_get_object_streams_the_whole_body_and_sends_the_range() -> None:
    data = pattern(100_000)
    ranges: list[str | None] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        ranges.append(request.headers.get("range"))
        headers = {"etag": '"e"', "content-range": f"bytes 10-19/{len(data)}"}
        return body_response(206, data[10:20], headers)

    async with mock_client(handler) as s3, s3.get_object(BUCKET, "k", range=(10, 19)) as stream:
        body = b"".join([chunk async for chunk in stream])
    assert ranges == ["bytes=10-19"]
    assert body == data[10:20]
    assert stream.total_size == len(data)
    assert stream.content_range == (10, 19)


async def test_get_object_reads_a_response_that_is_already_in_memory() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"in memory", headers={"etag": '"e"'})

    async with mock_client(handler) as s3:
        assert await (await s3.get_object(BUCKET, "k")).read() == b"in memory"


# --- resuming a body cut part-way ---------------------------------------------------------


@pytest.mark.parametrize("range_", [None, (1000, 249_999)], ids=["whole", "ranged"])
async def test_dropped_connection_is_resumed_from_the_next_byte_pinned_to_the_etag(
    range_: tuple[int, int] | None,
) -> None:
    data = pattern(300_000, seed=5)
    first, last = range_ or (0, len(data) - 1)
    cuts = [100_000]

    async def intercept(seen: Seen) -> httpx.Response | None:
        if seen.method != "GET" or not cuts:
            return None
        headers = {"etag": etag_of(data)}
        if range_ is None:
            return body_response(200, data, headers, cut_after=cuts.pop())
        headers["content-range"] = f"bytes {first}-{last}/{len(data)}"
        return body_response(206, data[first : last + 1], headers, cut_after=cuts.pop())

    fake = FakeS3(intercept, objects={"k": data})
    async with mock_client(fake) as s3, s3.get_object(BUCKET, "k", range=range_) as stream:
        body = await stream.read()
    assert body == data[first : last + 1]
    assert stream.resumes == 1
    opened, resumed = fake.of("GET")
    assert opened.headers.get("range") == (None if range_ is None else f"bytes={first}-{last}")
    assert resumed.headers["range"] == f"bytes={first + 100_000}-{last}"
    assert resumed.headers["if-match"] == etag_of(data)


async def test_resume_refuses_an_object_that_changed_meanwhile() -> None:
    data = pattern(300_000, seed=6)
    fake = FakeS3(objects={"k": data})

    async def intercept(seen: Seen) -> httpx.Response | None:
        if seen.method == "GET" and "range" not in seen.headers:
            fake.objects["k"] = pattern(300_000, seed=7)  # overwritten while being read
            return body_response(200, data, {"etag": etag_of(data)}, cut_after=100_000)
        return None

    fake.intercept = intercept
    async with mock_client(fake) as s3:
        stream = await s3.get_object(BUCKET, "k")
        with pytest.raises(IntegrityError, match="changed while it was being downloaded"):
            await stream.read()
    _opened, resumed = fake.of("GET")
    assert resumed.headers["if-match"] == etag_of(data)


async def test_resumes_are_bounded_by_the_retry_attempts() -> None:
    data = pattern(300_000, seed=8)

    async def intercept(seen: Seen) -> httpx.Response | None:
        if seen.method != "GET":
            return None
        if "range" not in seen.headers:
            return body_response(200, data, {"etag": etag_of(data)}, cut_after=10_000)
        first = int(seen.headers["range"].removeprefix("bytes=").split("-")[0])
        headers = {"etag": etag_of(data), "content-range": f"bytes {first}-299999/300000"}
        return body_response(206, data[first:], headers, cut_after=10_000)

    fake = FakeS3(intercept, objects={"k": data})
    policy = RetryPolicy(max_attempts=3, base_delay=0)
    async with mock_client(fake, retry=policy) as s3:
        stream = await s3.get_object(BUCKET, "k")
        with pytest.raises(TransportError):
            await stream.read()
    assert stream.resumes == policy.max_attempts - 1
    assert len(fake.of("GET")) == policy.max_attempts


# --- the full-object checksum ---------------------------------------------------------------


@pytest.mark.parametrize("header", ["x-amz-checksum-crc32", "x-amz-checksum-sha256"])
@pytest.mark.parametrize("matches", [True, False], ids=["matching", "mismatching"])
async def test_the_full_object_checksum_the_server_states_is_verified_at_the_end(
    header: str, matches: bool
) -> None:
    data = pattern(200_000, seed=9)
    stated = expected_checksum(header, data if matches else data[:-1] + b"?")

    async def handler(request: httpx.Request) -> httpx.Response:
        return body_response(200, data, {"etag": etag_of(data), header: stated})

    async with mock_client(handler) as s3:
        stream = await s3.get_object(BUCKET, "k")
        if matches:
            assert await stream.read() == data
        else:
            with pytest.raises(IntegrityError, match="checksum mismatch"):
                await stream.read()


@pytest.mark.parametrize(
    ("headers", "range_"),
    [
        ({"x-amz-checksum-crc32": "AAAAAA==-3"}, None),
        ({"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-type": "COMPOSITE"}, None),
        ({"x-amz-checksum-crc32": "AAAAAA=="}, (0, 99_999)),
    ],
    ids=["composite-value", "composite-type", "ranged-get"],
)
async def test_checksums_that_do_not_cover_the_body_received_are_not_checked(
    headers: dict[str, str], range_: tuple[int, int] | None
) -> None:
    data = pattern(100_000, seed=10)

    async def handler(request: httpx.Request) -> httpx.Response:
        extra = {} if range_ is None else {"content-range": f"bytes 0-99999/{2 * len(data)}"}
        status = 200 if range_ is None else 206
        return body_response(status, data, {"etag": etag_of(data), **headers, **extra})

    async with mock_client(handler) as s3:
        assert await (await s3.get_object(BUCKET, "k", range=range_)).read() == data
