"""s3lite under network and server faults: the fault proxy between the client and a real server.

Every test puts ``tests.faultproxy.FaultProxy`` in front of the S3 server, points an
``S3Client`` at it, injects faults, and checks both what the client reports and what
the server ended up storing (read back directly, without the proxy).  The proxy log
(``proxy.requests``) shows how many attempts the client made and what they carried.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Literal

import anyio
import pytest

from s3lite import (
    AccessDenied,
    IntegrityError,
    InternalError,
    NoSuchKey,
    RequestTimeout,
    RequestTimeoutError,
    RetryPolicy,
    S3Client,
    S3Error,
    ServiceError,
    SignatureDoesNotMatch,
    SlowDown,
    TransportError,
)
from tests.conftest import TestServer
from tests.faultproxy import (
    Fault,
    FaultProxy,
    FlipByte,
    ResetDuringRequest,
    ResetDuringResponse,
    Respond,
    Rule,
    Seen,
    Stall,
    TruncateResponse,
)
from tests.helpers import DATA, MiB, chunks_of, client_via, pattern

pytestmark = [pytest.mark.anyio, pytest.mark.integration]



async def stored(s3: S3Client, bucket: str, key: str) -> bytes | None:
    """What the server holds under ``key`` (read directly, not through the proxy)."""
    try:
        return await (await s3.get_object(bucket, key)).read()
    except NoSuchKey:
        return None


@pytest.fixture(autouse=True)
def garbage_is_collected_by_the_test_that_made_it() -> Iterator[None]:
    # An upload attempt cut mid-body leaves its body iterator behind; if the client does
    # not close it, trio reports it (ResourceWarning) when it is garbage collected, which
    # for one in a reference cycle could be during a later test: collect now, so it is
    # this test that fails.
    yield
    gc.collect()


def uploads(proxy: FaultProxy, target: str) -> list[Seen]:
    """The PUTs of ``target``, without those refused for carrying a checksum trailer the
    server does not know (``no-trailing-checksum``: s3lite then sends the body again
    without one, once per client)."""
    return [
        seen
        for seen in proxy.seen("PUT", target)
        if not (
            seen.status == 400 and (seen.header("x-amz-content-sha256") or "").endswith("TRAILER")
        )
    ]


# --- 1, 2: uploads interrupted part-way ---------------------------------------------------


@pytest.mark.parametrize("kind", ["bytes", "file"])
async def test_upload_reset_part_way_is_retried_and_stored_intact(
    proxy: FaultProxy,
    s3_server: TestServer,
    s3: S3Client,
    bucket: str,
    tmp_path: Path,
    kind: str,
) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(DATA)
    body: bytes | Path = DATA if kind == "bytes" else path
    proxy.add(Rule(ResetDuringRequest(after_bytes=64 * 1024), method="PUT", target="/obj$"))

    async with client_via(proxy, s3_server) as client:
        await client.put_object(bucket, "obj", body)

    attempts = uploads(proxy, "/obj$")
    assert [(a.fault is not None, a.status) for a in attempts] == [(True, None), (False, 200)]
    assert await stored(s3, bucket, "obj") == DATA


@pytest.mark.parametrize("content_length", [None, len(DATA)])
async def test_small_one_shot_body_is_buffered_so_a_reset_upload_is_retried(
    proxy: FaultProxy,
    s3_server: TestServer,
    s3: S3Client,
    bucket: str,
    content_length: int | None,
) -> None:
    # An async iterator can be read once; put_object buffers a body up to
    # multipart_threshold (16 MiB) before sending it, so the single PUT is replayable.
    proxy.add(Rule(ResetDuringRequest(after_bytes=64 * 1024), method="PUT", target="/obj$"))

    async with client_via(proxy, s3_server) as client:
        await client.put_object(
            bucket, "obj", chunks_of(DATA, 10_000), content_length=content_length
        )

    assert len(uploads(proxy, "/obj$")) == 2
    assert await stored(s3, bucket, "obj") == DATA


async def test_large_one_shot_body_retries_a_reset_part_from_its_buffer(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    # Above the threshold a one-shot body becomes a multipart upload; each part is
    # read into memory before it is sent, so a failed part is resent from that buffer.
    data = pattern(10 * MiB + 100_000)
    proxy.add(Rule(ResetDuringRequest(after_bytes=MiB), method="PUT", target=r"partNumber=2&"))

    async with client_via(proxy, s3_server, multipart_threshold=5 * MiB) as client:
        result = await client.put_object(bucket, "obj", chunks_of(data, 256 * 1024))

    assert result.parts == 3
    assert [len(uploads(proxy, rf"partNumber={n}&")) for n in (1, 2, 3)] == [1, 2, 1]
    assert await stored(s3, bucket, "obj") == data


# --- 3, 4: error responses ----------------------------------------------------------------

TRANSIENT = [
    pytest.param(500, "InternalError", InternalError, id="500-InternalError"),
    pytest.param(503, "SlowDown", SlowDown, id="503-SlowDown"),
    pytest.param(400, "RequestTimeout", RequestTimeout, id="400-RequestTimeout"),
]


@pytest.mark.parametrize(("status", "code", "error"), TRANSIENT)
async def test_transient_errors_are_retried_until_the_request_succeeds(
    proxy: FaultProxy,
    s3_server: TestServer,
    s3: S3Client,
    bucket: str,
    status: int,
    code: str,
    error: type[ServiceError],
) -> None:
    proxy.add(Rule(Respond(status, code), method="PUT", target="/obj$", times=2))

    async with client_via(proxy, s3_server) as client:
        await client.put_object(bucket, "obj", DATA)

    assert [a.status for a in uploads(proxy, "/obj$")] == [status, status, 200]
    assert await stored(s3, bucket, "obj") == DATA


@pytest.mark.parametrize(("status", "code", "error"), TRANSIENT)
async def test_transient_errors_raise_their_class_when_attempts_run_out(
    proxy: FaultProxy,
    s3_server: TestServer,
    s3: S3Client,
    bucket: str,
    status: int,
    code: str,
    error: type[ServiceError],
) -> None:
    await s3.put_object(bucket, "obj", DATA)
    proxy.add(Rule(Respond(status, code), method="GET", target="/obj$", times=2))
    retry = RetryPolicy(max_attempts=2, base_delay=0.01)

    async with client_via(proxy, s3_server, retry=retry) as client:
        with pytest.raises(error) as raised:
            await client.get_object(bucket, "obj")  # a streamed GET: error body read too

    assert (raised.value.code, raised.value.status) == (code, status)
    assert raised.value.request_id == "fault-proxy"
    assert proxy.count("GET", "/obj$") == 2


@pytest.mark.parametrize(
    ("code", "error"),
    [("AccessDenied", AccessDenied), ("SignatureDoesNotMatch", SignatureDoesNotMatch)],
)
async def test_client_errors_are_not_retried(
    proxy: FaultProxy,
    s3_server: TestServer,
    s3: S3Client,
    bucket: str,
    code: str,
    error: type[ServiceError],
) -> None:
    proxy.add(Rule(Respond(403, code), method="PUT", target="/obj$", times=5))

    async with client_via(proxy, s3_server) as client:
        with pytest.raises(error):
            await client.put_object(bucket, "obj", DATA)

    assert len(uploads(proxy, "/obj$")) == 1
    assert await stored(s3, bucket, "obj") is None


# --- 5: clock skew ------------------------------------------------------------------------


def amz_date(value: str | None) -> datetime:
    assert value is not None
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


async def test_skewed_clock_is_corrected_from_the_server_date(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    now = datetime.now(UTC)
    ahead = format_datetime(now + timedelta(hours=2), usegmt=True)
    proxy.add(Rule(Respond(403, "RequestTimeTooSkewed", headers={"Date": ahead}), target="/obj$"))

    async with client_via(proxy, s3_server) as client:
        await client.put_object(bucket, "obj", DATA)

    # The client adopts the Date of each RequestTimeTooSkewed answer: attempt 2 is
    # signed 2 h ahead, so the real server (whose clock is right) refuses it in turn
    # with its own Date, and attempt 3, signed with the corrected clock, succeeds.
    attempts = uploads(proxy, "/obj$")
    assert [a.status for a in attempts] == [403, 403, 200]
    dates = [amz_date(a.header("x-amz-date")) for a in attempts]
    assert abs(dates[0] - now) < timedelta(minutes=1)
    assert abs(dates[1] - (now + timedelta(hours=2))) < timedelta(minutes=1)
    assert abs(dates[2] - now) < timedelta(minutes=1)
    assert await stored(s3, bucket, "obj") == DATA


# --- 6: stalls ----------------------------------------------------------------------------


async def test_stalled_response_times_out_after_bounded_retries(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    await s3.put_object(bucket, "obj", DATA)
    proxy.add(Rule(Stall(30), method="GET", target="/obj$", times=2))
    retry = RetryPolicy(max_attempts=2, base_delay=0.01)
    started = time.monotonic()

    async with client_via(proxy, s3_server, retry=retry, timeout=0.5) as client:
        with pytest.raises(RequestTimeoutError):
            await client.get_object(bucket, "obj")

    assert time.monotonic() - started < 3.0  # 2 x 0.5 s read timeout, plus a little
    assert proxy.count("GET", "/obj$") == 2


# --- 7: downloads interrupted part-way ----------------------------------------------------

CUTS = [
    pytest.param(ResetDuringResponse(after_bytes=10_000), id="reset"),
    pytest.param(TruncateResponse(after_bytes=10_000), id="truncated"),
]


@pytest.mark.parametrize("fault", CUTS)
async def test_interrupted_download_never_returns_partial_data_as_good(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str, fault: Fault
) -> None:
    await s3.put_object(bucket, "obj", DATA)
    # Every GET is cut after 10 kB of its body: resuming cannot get far enough.
    proxy.add(Rule(fault, method="GET", target="/obj$", times=100))
    received = bytearray()

    async with client_via(proxy, s3_server) as client:
        with pytest.raises((TransportError, IntegrityError)):
            async with client.get_object(bucket, "obj") as obj:
                async for chunk in obj:
                    received += chunk

    assert len(received) < len(DATA)
    assert DATA.startswith(received)  # what was handed out before the error is right


@pytest.mark.parametrize("fault", CUTS)
async def test_interrupted_download_resumes_from_the_last_byte_received(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str, fault: Fault
) -> None:
    result = await s3.put_object(bucket, "obj", DATA)
    proxy.add(Rule(fault, method="GET", target="/obj$"))

    async with client_via(proxy, s3_server) as client:
        data = await (await client.get_object(bucket, "obj")).read()

    assert data == DATA
    first, resumed = proxy.seen("GET", "/obj$")
    assert first.header("range") is None
    assert (resumed.header("range") or "").startswith("bytes=10000-")
    assert resumed.header("if-match") == f'"{result.etag}"'
    assert resumed.status == 206


async def test_resumed_download_refuses_an_object_that_changed(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    await s3.put_object(bucket, "obj", DATA)
    proxy.add(Rule(TruncateResponse(after_bytes=10_000), method="GET", target="/obj$"))
    received = bytearray()

    async with client_via(proxy, s3_server) as client:
        with pytest.raises(IntegrityError):
            async with client.get_object(bucket, "obj") as obj:
                async for chunk in obj:
                    if not received:  # overwritten while the first version is read
                        await s3.put_object(bucket, "obj", DATA[::-1])
                    received += chunk

    assert DATA.startswith(received)  # never a splice of two versions
    resumed = proxy.seen("GET", "/obj$")[1]
    assert resumed.header("if-match") is not None and resumed.status == 412


# --- 8: corrupted bytes -------------------------------------------------------------------


async def test_flipped_byte_in_a_download_raises_integrity_error(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    await s3.put_object(bucket, "obj", DATA)  # stored with its CRC32
    proxy.add(Rule(FlipByte(150_000), method="GET", target="/obj$"))

    async with client_via(proxy, s3_server) as client:
        with pytest.raises(IntegrityError):
            await (await client.get_object(bucket, "obj")).read()

    assert proxy.seen("GET", "/obj$")[0].header("x-amz-checksum-mode") == "ENABLED"


async def test_flipped_byte_in_a_multipart_download_raises_integrity_error(
    proxy: FaultProxy, s3_server: TestServer, bucket: str
) -> None:
    data = pattern(10 * MiB + 100_000)
    async with client_via(proxy, s3_server, multipart_threshold=5 * MiB) as client:
        assert (await client.put_object(bucket, "obj", data)).parts == 3
        proxy.add(Rule(FlipByte(6 * MiB), method="GET", target="/obj$"))

        stream = await client.get_object(bucket, "obj")
        if "no-full-object-checksum" in s3_server.quirks:
            # No full-object checksum and an ETag that is no MD5 (-3): length only.
            assert stream.verified_by == "size-only"
            await stream.aclose()
            pytest.skip(f"{s3_server.kind} keeps no full-object checksum of a multipart object")
        assert stream.verified_by == "crc32"
        with pytest.raises(IntegrityError):
            await stream.read()


@pytest.mark.parametrize("signing", ["auto", "unsigned"])
@pytest.mark.parametrize("kind", ["bytes", "file"])
async def test_flipped_byte_in_an_upload_is_never_stored(
    proxy: FaultProxy,
    s3_server: TestServer,
    s3: S3Client,
    bucket: str,
    tmp_path: Path,
    kind: str,
    signing: Literal["auto", "unsigned"],
) -> None:
    # Over http "auto" signs the payload: bytes carry their SHA-256, a file is sent as
    # signed aws-chunked.  Whatever protects the body, the server must not keep a
    # corrupted object: the upload either fails or, retried, stores the right bytes.
    path = tmp_path / "body.bin"
    path.write_bytes(DATA)
    body: bytes | Path = DATA if kind == "bytes" else path
    proxy.add(Rule(FlipByte(150_000, direction="request"), method="PUT", target="/obj$"))

    async with client_via(proxy, s3_server, payload_signing=signing) as client:
        try:
            await client.put_object(bucket, "obj", body)
        except S3Error:
            assert await stored(s3, bucket, "obj") is None
        else:
            assert await stored(s3, bucket, "obj") == DATA
            assert proxy.count("PUT", "/obj$") >= 2  # the corrupted attempt was refused


# --- 9: no leaks --------------------------------------------------------------------------


async def test_pool_survives_a_burst_of_failures_and_abandoned_streams(
    proxy: FaultProxy, s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    big = pattern(MiB)
    await s3.put_object(bucket, "big", big)
    await s3.put_object(bucket, "small", b"small")
    proxy.add(Rule(ResetDuringResponse(after_bytes=1000), method="GET", target="/big$", times=10))
    proxy.add(Rule(ResetDuringRequest(after_bytes=1000), method="PUT", target="/put$", times=10))
    failures: list[Exception] = []

    async def fail_once(index: int) -> None:
        try:
            if index % 2:
                await (await client.get_object(bucket, "big")).read()
            else:
                await client.put_object(bucket, "put", DATA)
        except TransportError as exc:
            failures.append(exc)

    async with client_via(
        proxy, s3_server, retry=RetryPolicy.disabled(), max_connections=4
    ) as client:
        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(fail_once, index)
        for _ in range(10):  # streams left unread: closing them must free the connection
            async with client.get_object(bucket, "big") as obj:
                assert len(await anext(aiter(obj))) > 0
        with anyio.fail_after(30):
            for _ in range(100):
                assert await (await client.get_object(bucket, "small")).read() == b"small"
        with anyio.fail_after(5):
            await proxy.wait_for(lambda: proxy.open_connections <= 4)

    assert len(failures) == 20
    assert proxy.peak_connections <= 4  # the pool limit held through the failures
    with anyio.fail_after(5):
        await proxy.wait_for(lambda: proxy.open_connections == 0)
