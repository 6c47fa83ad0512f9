"""The request pipeline (``s3lite._pipeline``) on the wire, through ``S3Client`` and FakeS3.

What every request goes through: its target and SigV4 signature (re-derived from the
captured request by ``tests.fakes3``), S3 error answers turned into typed exceptions,
retries with clock-skew correction, and the client's open/closed life.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from s3lite import (
    AccessDenied,
    CompletedPart,
    InternalError,
    InvalidRange,
    InvalidRequestError,
    NoSuchBucket,
    NoSuchKey,
    RequestTimeoutError,
    RetryPolicy,
    S3Client,
    ServiceError,
    SignatureDoesNotMatch,
    SlowDown,
    TransportError,
)
from s3lite import _signing as sig
from s3lite._payload import Payload
from s3lite._requests import S3Request
from tests.fakes3 import (
    ACCESS_KEY,
    BUCKET,
    ENDPOINT,
    SECRET_KEY,
    SESSION_TOKEN,
    FakeS3,
    Seen,
    body_response,
    check_signature,
    check_wire_lengths,
    decode_aws_chunked,
    decoded_body,
    error_response,
    etag_of,
    mock_client,
    xml_response,
)
from tests.helpers import MiB, pattern

pytestmark = pytest.mark.anyio


# --- signing on the wire ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "region", "host"),
    [
        (ENDPOINT, "us-east-1", "127.0.0.1:9000"),
        ("https://s3.eu-west-1.amazonaws.com", "eu-west-1", "bkt.s3.eu-west-1.amazonaws.com"),
        ("http://gateway:8080/base", "eu-central-1", "gateway:8080"),
    ],
)
async def test_requests_carry_a_valid_sigv4_signature(
    endpoint: str, region: str, host: str
) -> None:
    fake = FakeS3(base_path=urlsplit(endpoint).path)
    async with mock_client(fake, endpoint, region=region) as s3:
        await s3.put_object(BUCKET, "dir/a file+é.txt", b"hello", content_type="text/plain")
        await s3.put_object(BUCKET, "meta", b"", metadata={"Owner": "me"})
        assert (await s3.head_object(BUCKET, "meta")).size == 0
        assert await (await s3.get_object(BUCKET, "dir/a file+é.txt")).read() == b"hello"
        assert [entry async for entry in s3.list_objects(BUCKET, prefix="dir/")] == []
        await s3.delete_object(BUCKET, "meta")
    assert len(fake.requests) == 6
    for seen in fake.requests:
        assert seen.headers["host"] == host
        fields = check_signature(seen)
        assert fields["region"] == region
        with pytest.raises(AssertionError, match="signature does not match"):
            check_signature(seen, secret=SECRET_KEY + "x")


async def test_session_token_is_sent_and_signed() -> None:
    fake = FakeS3()
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http,
        S3Client(
            ENDPOINT,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            session_token=SESSION_TOKEN,
            http_client=http,
        ) as s3,
    ):
        await s3.put_object(BUCKET, "k", b"data")
    (seen,) = fake.requests
    assert seen.headers["x-amz-security-token"] == SESSION_TOKEN
    fields = check_signature(seen)
    assert "x-amz-security-token" in fields["signed"].split(";")


@pytest.mark.parametrize(
    ("endpoint", "signing", "signed"),
    [
        (ENDPOINT, "auto", True),
        ("https://s3.us-east-1.amazonaws.com", "auto", False),
        ("https://s3.us-east-1.amazonaws.com", "signed", True),
        (ENDPOINT, "unsigned", False),
    ],
)
async def test_payload_hash_header_matches_the_payload_mode(
    endpoint: str, signing: str, signed: bool
) -> None:
    seen_requests: list[Seen] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen_requests.append(Seen.of(request))
        return httpx.Response(200, headers={"etag": '"e"'})

    async with mock_client(handler, endpoint, payload_signing=signing) as s3:
        await s3.put_object(BUCKET, "k", b"some bytes")
        await s3.delete_object(BUCKET, "k")
    put, delete = seen_requests
    expected = hashlib.sha256(b"some bytes").hexdigest() if signed else sig.UNSIGNED_PAYLOAD
    assert put.headers["x-amz-content-sha256"] == expected
    assert delete.headers["x-amz-content-sha256"] == sig.EMPTY_SHA256
    for seen in seen_requests:
        check_signature(seen)


async def test_file_body_over_http_is_aws_chunked_with_chained_chunk_signatures(
    tmp_path: Path,
) -> None:
    data = pattern(2 * MiB + 12345)
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    fake = FakeS3()
    async with mock_client(fake) as s3:
        result = await s3.put_object(BUCKET, "file", path)
    (seen,) = fake.requests
    assert seen.headers["content-encoding"] == "aws-chunked"
    assert seen.headers["x-amz-content-sha256"] in (
        sig.STREAMING_PAYLOAD,
        sig.STREAMING_PAYLOAD_TRAILER,
    )
    assert seen.headers["x-amz-decoded-content-length"] == str(len(data))
    check_wire_lengths(fake.requests)
    decoded, _trailers = decode_aws_chunked(seen)
    assert decoded == data
    assert fake.objects["file"] == data
    assert result.size == len(data)


async def test_file_body_over_https_is_sent_with_its_exact_length(tmp_path: Path) -> None:
    data = pattern(MiB + 7)
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    fake = FakeS3()
    async with mock_client(fake, "https://s3.us-east-1.amazonaws.com") as s3:
        await s3.put_object(BUCKET, "file", path)
    check_wire_lengths(fake.requests)
    (seen,) = fake.requests
    check_signature(seen)
    assert fake.objects["file"] == data


async def test_requests_to_an_ipv6_endpoint_are_signed_with_the_host_sent() -> None:
    fake = FakeS3()
    async with mock_client(fake, "http://[::1]:9000") as s3:
        await s3.put_object(BUCKET, "k", b"data")
    (seen,) = fake.requests
    assert seen.headers["host"] == "[::1]:9000"
    check_signature(seen)


# --- S3 error answers to exceptions -------------------------------------------------------


async def test_copy_object_200_with_error_body_raises_the_mapped_error() -> None:
    async def intercept(seen: Seen) -> httpx.Response | None:
        if seen.method == "PUT" and "x-amz-copy-source" in seen.headers:
            return error_response(200, "InternalError", "We encountered an internal error.")
        return None

    fake = FakeS3(intercept, objects={"src": b"source"})
    async with mock_client(fake) as s3:
        with pytest.raises(InternalError) as info:
            await s3.copy_object(BUCKET, "src", BUCKET, "dst")
    error = info.value
    assert (error.code, error.status, error.request_id) == ("InternalError", 200, "REQID42")
    assert error.message == "We encountered an internal error."
    copy = fake.of("PUT")[0]
    assert copy.headers["x-amz-copy-source"] == f"/{BUCKET}/src"
    assert copy.headers["x-amz-copy-source-if-match"] == etag_of(b"source")


async def test_complete_multipart_upload_200_with_error_body_raises_the_mapped_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return error_response(200, "InternalError", "Please try again.")

    async with mock_client(handler) as s3:
        with pytest.raises(InternalError) as info:
            await s3.complete_multipart_upload(BUCKET, "k", "U1", [CompletedPart(1, "etag")])
    assert info.value.status == 200
    assert info.value.message == "Please try again."


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "NoSuchKey", NoSuchKey),
        (404, "NoSuchBucket", NoSuchBucket),
        (403, "AccessDenied", AccessDenied),
        (403, "SignatureDoesNotMatch", SignatureDoesNotMatch),
        (416, "InvalidRange", InvalidRange),
        (503, "SlowDown", SlowDown),
        (400, "SomethingNewAndOdd", ServiceError),
    ],
)
@pytest.mark.parametrize("operation", ["delete_object", "get_object"])
async def test_error_documents_map_to_typed_errors(
    status: int, code: str, cls: type[ServiceError], operation: str
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return error_response(status, code, "Human readable <explanation>".replace("<", "&lt;"))

    async with mock_client(handler, retry=RetryPolicy.disabled()) as s3:
        with pytest.raises(ServiceError) as info:
            if operation == "get_object":
                await s3.get_object(BUCKET, "dir/key")
            else:
                await s3.delete_object(BUCKET, "dir/key")
    error = info.value
    assert type(error) is cls
    assert error.code == code
    assert error.status == status
    assert error.message == "Human readable <explanation>"
    assert error.request_id == "REQID42"
    assert error.host_id == "HID"
    assert (error.bucket, error.key) == (BUCKET, "dir/key")


async def test_request_id_header_is_used_when_the_document_has_none() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return error_response(403, "AccessDenied", request_id=None, **{"x-amz-request-id": "HDR1"})

    async with mock_client(handler) as s3:
        with pytest.raises(AccessDenied) as info:
            await s3.delete_object(BUCKET, "k")
    assert info.value.request_id == "HDR1"


async def test_head_404_without_body_is_no_such_key() -> None:
    fake = FakeS3()
    async with mock_client(fake) as s3:
        with pytest.raises(NoSuchKey) as info:
            await s3.head_object(BUCKET, "missing")
        assert await s3.object_exists(BUCKET, "missing") is False
    assert info.value.status == 404
    assert (info.value.bucket, info.value.key) == (BUCKET, "missing")
    assert len(fake.requests) == 2  # 404 is not retried


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (404, NoSuchBucket, "NoSuchBucket"),
        (403, AccessDenied, "AccessDenied"),
        (409, ServiceError, "Conflict"),
        (418, ServiceError, "HTTP418"),
    ],
)
async def test_bodiless_bucket_errors_map_by_status(
    status: int, cls: type[ServiceError], code: str
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"x-amz-request-id": "R1", "x-amz-id-2": "H2"})

    async with mock_client(handler) as s3:
        with pytest.raises(ServiceError) as info:
            await s3.delete_bucket(BUCKET)
    assert type(info.value) is cls
    assert (info.value.code, info.value.status) == (code, status)
    assert (info.value.request_id, info.value.host_id) == ("R1", "H2")
    assert (info.value.bucket, info.value.key) == (BUCKET, None)


# --- retries and clock skew ---------------------------------------------------------------


async def test_copy_object_retries_a_200_internal_error() -> None:
    failures = 1

    async def intercept(seen: Seen) -> httpx.Response | None:
        nonlocal failures
        if seen.method == "PUT" and "x-amz-copy-source" in seen.headers:
            if failures:
                failures -= 1
                return error_response(200, "InternalError")
            inner = f"<ETag>{etag_of(b'source')}</ETag>"
            return xml_response(200, inner, "CopyObjectResult")
        return None

    fake = FakeS3(intercept, objects={"src": b"source"})
    async with mock_client(fake) as s3:
        result = await s3.copy_object(BUCKET, "src", BUCKET, "dst")
    assert result.etag == etag_of(b"source").strip('"')
    assert len(fake.of("PUT")) == 2


async def test_slow_down_twice_then_success_makes_three_signed_requests() -> None:
    answers = [error_response(503, "SlowDown"), error_response(503, "SlowDown")]
    fake = FakeS3()

    async def intercept(seen: Seen) -> httpx.Response | None:
        return answers.pop(0) if answers else None

    fake.intercept = intercept
    async with mock_client(fake) as s3:
        result = await s3.put_object(BUCKET, "k", b"payload")
    assert len(fake.requests) == 3
    assert result.etag == etag_of(b"payload").strip('"')
    for seen in fake.requests:
        check_signature(seen)
        assert decoded_body(seen) == b"payload"


async def test_retries_stop_after_max_attempts() -> None:
    count = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return error_response(500, "InternalError")

    policy = RetryPolicy(max_attempts=3, base_delay=0)
    async with mock_client(handler, retry=policy) as s3:
        with pytest.raises(InternalError):
            await s3.delete_object(BUCKET, "k")
    assert count == policy.max_attempts


@pytest.mark.parametrize(("status", "code"), [(404, "NoSuchKey"), (403, "AccessDenied")])
async def test_permanent_errors_are_not_retried(status: int, code: str) -> None:
    count = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return error_response(status, code)

    async with mock_client(handler) as s3:
        with pytest.raises(ServiceError):
            await (await s3.get_object(BUCKET, "k")).read()
    assert count == 1


async def test_non_replayable_payload_is_sent_once() -> None:
    count = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return error_response(503, "SlowDown")

    async def one_shot() -> AsyncIterator[bytes]:
        yield b"abc"

    stream = Payload(
        (("content-length", "3"),), sig.UNSIGNED_PAYLOAD, False, lambda _s, _k: one_shot()
    )
    async with mock_client(handler) as s3:
        assert s3.options.retry.max_attempts > 1
        with pytest.raises(SlowDown):
            await s3._pipeline.send(S3Request("PUT", BUCKET, "k", payload=stream))
    assert count == 1


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        (httpx.ConnectError("connection refused"), TransportError),
        (httpx.ReadError("connection reset"), TransportError),
        (httpx.ReadTimeout("timed out"), RequestTimeoutError),
        (httpx.ConnectTimeout("timed out"), RequestTimeoutError),
    ],
    ids=lambda value: getattr(value, "__name__", type(value).__name__),
)
async def test_network_failures_are_retried_then_raised_as_transport_errors(
    exception: httpx.HTTPError, expected: type[TransportError]
) -> None:
    count = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        raise exception

    policy = RetryPolicy(max_attempts=3, base_delay=0)
    async with mock_client(handler, retry=policy) as s3:
        with pytest.raises(expected) as info:
            await s3.head_object(BUCKET, "k")
    assert count == 3
    assert isinstance(info.value.__cause__, type(exception))
    assert SECRET_KEY not in str(info.value)


async def test_request_time_too_skewed_is_retried_with_the_server_clock() -> None:
    server_now = datetime.now(UTC) + timedelta(hours=1)
    answers = [
        error_response(403, "RequestTimeTooSkewed", date=format_datetime(server_now, usegmt=True))
    ]

    async def intercept(seen: Seen) -> httpx.Response | None:
        return answers.pop(0) if answers else None

    fake = FakeS3(intercept)
    async with mock_client(fake) as s3:
        await s3.put_object(BUCKET, "k", b"data")
        await s3.delete_object(BUCKET, "k")
    first, retry, later = fake.requests

    def sent_at(seen: Seen) -> datetime:
        return datetime.strptime(seen.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    local_now = datetime.now(UTC)
    assert abs((sent_at(first) - local_now).total_seconds()) < 60
    assert abs((sent_at(retry) - server_now).total_seconds()) < 60
    assert abs((sent_at(later) - server_now).total_seconds()) < 60  # the offset is kept
    for seen in fake.requests:
        check_signature(seen)


# --- secrets and lifecycle ----------------------------------------------------------------


async def test_repr_and_errors_never_show_the_secret_key() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            raise httpx.ConnectError(f"failed for {request.url}")
        body = (
            "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we "
            f"calculated does not match</Message><AWSAccessKeyId>{ACCESS_KEY}</AWSAccessKeyId>"
            f"<StringToSign>{request.headers['authorization']}</StringToSign></Error>"
        )
        return body_response(403, body.encode())

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        S3Client(
            ENDPOINT,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            session_token=SESSION_TOKEN,
            http_client=http,
            retry=RetryPolicy.disabled(),
        ) as s3,
    ):
        shown = [repr(s3), str(s3)]
        assert ACCESS_KEY in repr(s3)
        with pytest.raises(SignatureDoesNotMatch) as signature_error:
            await s3.put_object(BUCKET, "k", b"x")
        with pytest.raises(TransportError) as transport_error:
            await s3.get_object(BUCKET, "k")
        with pytest.raises(InvalidRequestError) as input_error:
            s3.presign_get(BUCKET, "k", expires_in=0)
    for error in (signature_error.value, transport_error.value, input_error.value):
        shown += [str(error), repr(error)]
    for text in shown:
        assert SECRET_KEY not in text
        assert SESSION_TOKEN not in text


async def test_aclose_is_idempotent_and_a_closed_client_refuses_requests() -> None:
    fake = FakeS3()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        s3 = S3Client(ENDPOINT, access_key=ACCESS_KEY, secret_key=SECRET_KEY, http_client=http)
        async with s3:
            await s3.put_object(BUCKET, "k", b"v")
        await s3.aclose()
        await s3.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await s3.head_object(BUCKET, "k")
        with pytest.raises(RuntimeError, match="closed"):
            await s3.put_object(BUCKET, "k", b"v")
        with pytest.raises(RuntimeError, match="Cannot reopen a S3Client instance"):
            async with s3:
                pass
        twice = S3Client(ENDPOINT, access_key=ACCESS_KEY, secret_key=SECRET_KEY, http_client=http)
        async with twice:
            with pytest.raises(RuntimeError, match="Cannot open a S3Client instance more than"):
                await twice.__aenter__()
        assert not http.is_closed  # an injected httpx client belongs to the caller
    assert len(fake.requests) == 1
