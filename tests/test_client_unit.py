"""``S3Client`` logic without a server: requests are answered by ``httpx.MockTransport``.

These are unit tests of what the client puts on the wire and how it reacts to
answers (signing, lengths, errors, retries, multipart cleanup, paging, batching).
The integration tests run the same client against a real S3 server.

Signatures are re-derived here from the captured request alone (what httpx sent:
its method, raw path, query, headers and body) with the stage functions of
``s3lite._signing``, so a header the client signs differently from what it sends
is caught.  aws-chunked bodies are decoded and each chunk signature recomputed
from the AWS specification with ``hmac``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit
from xml.sax.saxutils import escape

import anyio
import anyio.lowlevel
import httpx
import pytest

from s3lite import (
    AccessDenied,
    CompletedPart,
    IntegrityError,
    InternalError,
    InvalidRange,
    InvalidRequestError,
    NoSuchBucket,
    NoSuchKey,
    ObjectSummary,
    RequestTimeoutError,
    RetryPolicy,
    S3Client,
    S3Error,
    ServiceError,
    SignatureDoesNotMatch,
    SlowDown,
    TransportError,
)
from s3lite import _signing as sig
from s3lite._payload import Payload
from s3lite._requests import S3Request

pytestmark = pytest.mark.anyio

ACCESS_KEY = "AKIDUNITTEST"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY"
SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLETOKEN"
ENDPOINT = "http://127.0.0.1:9000"
BUCKET = "bkt"
MiB = 1024 * 1024
NS = "http://s3.amazonaws.com/doc/2006-03-01/"
NO_DELAY = RetryPolicy(base_delay=0, max_delay=0)


# --------------------------------------------------------------------------- capturing


@dataclass
class Seen:
    """One request as it reached the transport."""

    method: str
    host: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: httpx.Headers
    body: bytes

    @classmethod
    def of(cls, request: httpx.Request) -> Seen:
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        pairs = [
            (unquote(name), unquote(value))
            for name, _, value in (part.partition("=") for part in query.split("&") if part)
        ]
        return cls(request.method, request.url.host, path, pairs, request.headers, request.content)

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.query)


Intercept = Callable[[Seen], Awaitable[httpx.Response | None]]
Handler = Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]


class NetworkStream(httpx.AsyncByteStream):
    """A response body delivered in chunks, as from a socket (a ``content=`` response is
    already read in full by httpx, unlike anything that comes off the network)."""

    def __init__(self, data: bytes, chunk: int = 64 * 1024) -> None:
        self._data = data
        self._chunk = chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self._data), self._chunk):
            await anyio.lowlevel.checkpoint()
            yield self._data[start : start + self._chunk]

    async def aclose(self) -> None:
        pass


def body_response(
    status: int, data: bytes, headers: dict[str, str] | None = None, length: int | None = None
) -> httpx.Response:
    """A streamed response whose Content-Length says ``length`` (default: the real length)."""
    headers = {**(headers or {}), "content-length": str(len(data) if length is None else length)}
    return httpx.Response(status, headers=headers, stream=NetworkStream(data))


def xml_response(status: int, inner: str, root: str, **headers: str) -> httpx.Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{inner}</{root}>'
    return body_response(status, body.encode(), headers)


def error_response(
    status: int,
    code: str,
    message: str = "an error message",
    request_id: str | None = "REQID42",
    **headers: str,
) -> httpx.Response:
    rid = f"<RequestId>{request_id}</RequestId>" if request_id else ""
    body = (
        f"<Error><Code>{code}</Code><Message>{message}</Message>{rid}<HostId>HID</HostId></Error>"
    )
    return body_response(status, body.encode(), headers)


def etag_of(data: bytes) -> str:
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


@dataclass
class FakeS3:
    """A very small in-memory S3 (path-style): objects, multipart uploads, batch delete.

    ``intercept`` may answer a request first (to inject failures); otherwise the
    request is served from memory.
    """

    intercept: Intercept | None = None
    base_path: str = ""
    requests: list[Seen] = field(default_factory=list)
    objects: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, dict[int, bytes]] = field(default_factory=dict)
    aborted: list[str] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        seen = Seen.of(request)
        self.requests.append(seen)
        if self.intercept is not None:
            answer = await self.intercept(seen)
            if answer is not None:
                return answer
        return self.serve(seen)

    def of(self, method: str, *query: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and all(r.has(q) for q in query)]

    def serve(self, seen: Seen) -> httpx.Response:
        path = seen.raw_path.removeprefix(self.base_path)
        if seen.host.startswith(f"{BUCKET}."):  # virtual-hosted
            bucket, raw_key = BUCKET, path[1:]
        else:
            parts = path.split("/", 2)
            bucket, raw_key = parts[1], parts[2] if len(parts) > 2 else ""
        key = unquote(raw_key)
        assert bucket == BUCKET, seen.raw_path
        body = decoded_body(seen)
        upload_id = seen.param("uploadId")
        if seen.method == "POST" and seen.has("uploads"):
            new_id = f"upload-{len(self.uploads) + 1}"
            self.uploads[new_id] = {}
            inner = (
                f"<Bucket>{bucket}</Bucket><Key>{escape(key)}</Key><UploadId>{new_id}</UploadId>"
            )
            return xml_response(200, inner, "InitiateMultipartUploadResult")
        if seen.method == "PUT" and upload_id is not None:
            self.uploads[upload_id][int(seen.param("partNumber") or 0)] = body
            return httpx.Response(200, headers={"etag": etag_of(body)})
        if seen.method == "POST" and upload_id is not None:
            root = ET.fromstring(body)
            numbers = [int(node.text or "") for node in root.iter(f"{{{NS}}}PartNumber")]
            uploaded = self.uploads.pop(upload_id)
            if any(len(uploaded[n]) < 5 * MiB for n in numbers[:-1]):
                return error_response(400, "EntityTooSmall", "a part is smaller than 5 MiB")
            whole = b"".join(uploaded[n] for n in numbers)
            stated = seen.headers.get("x-amz-checksum-crc32")  # a FULL_OBJECT checksum
            if stated is not None and stated != expected_checksum("x-amz-checksum-crc32", whole):
                return error_response(400, "BadDigest", "full-object CRC32 does not match")
            self.objects[key] = whole
            inner = f"<Key>{escape(key)}</Key><ETag>{etag_of(self.objects[key])}</ETag>"
            return xml_response(200, inner, "CompleteMultipartUploadResult")
        if seen.method == "DELETE" and upload_id is not None:
            self.aborted.append(upload_id)
            self.uploads.pop(upload_id, None)
            return httpx.Response(204)
        if seen.method == "PUT":
            self.objects[key] = body
            return httpx.Response(200, headers={"etag": etag_of(body)})
        if seen.method in ("GET", "HEAD") and raw_key:
            if key not in self.objects:
                if seen.method == "HEAD":
                    return httpx.Response(404)
                return error_response(404, "NoSuchKey", "The specified key does not exist.")
            data = self.objects[key]
            headers = {"etag": etag_of(data), "content-type": "application/octet-stream"}
            if seen.method == "HEAD":
                return httpx.Response(200, headers={**headers, "content-length": str(len(data))})
            return body_response(200, data, headers)
        if seen.method == "GET" and seen.has("list-type"):
            return xml_response(200, "<IsTruncated>false</IsTruncated>", "ListBucketResult")
        if seen.method == "DELETE":
            self.objects.pop(key, None)
            return httpx.Response(204)
        return error_response(501, "NotImplemented", f"{seen.method} {seen.raw_path}")


@asynccontextmanager
async def mock_client(
    handler: Handler,
    endpoint: str = ENDPOINT,
    **options: Any,
) -> AsyncIterator[S3Client]:
    options.setdefault("retry", NO_DELAY)
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        S3Client(
            endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, http_client=http, **options
        ) as client,
    ):
        yield client


async def chunks_of(data: bytes, size: int) -> AsyncGenerator[bytes, None]:
    for start in range(0, len(data), size):
        await anyio.lowlevel.checkpoint()
        yield data[start : start + size]


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-looking data of ``size`` bytes."""
    block = hashlib.sha256(str(seed).encode()).digest() * 32  # 1 KiB
    return (block * (size // len(block) + 1))[:size]


# --------------------------------------------------------------------------- checking signatures

AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<access>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/s3/"
    r"aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})"
)


def check_signature(seen: Seen, secret: str = SECRET_KEY) -> dict[str, str]:
    """Re-derive the SigV4 signature of a captured request; fail if it differs."""
    match = AUTH_RE.fullmatch(seen.headers["authorization"])
    assert match, seen.headers["authorization"]
    fields = match.groupdict()
    assert fields["access"] == ACCESS_KEY
    timestamp = seen.headers["x-amz-date"]
    assert timestamp[:8] == fields["date"]
    names = fields["signed"].split(";")
    assert names == sorted(names)
    assert {"host", "x-amz-date", "x-amz-content-sha256"} <= set(names)
    for name in seen.headers:
        if name.startswith("x-amz-") or name in ("content-md5", "content-type"):
            assert name in names, f"{name} is sent but not signed"
    headers = [(name, value) for name in names for value in seen.headers.get_list(name)]
    block, signed_names = sig.canonical_headers(headers)
    assert signed_names == fields["signed"]
    payload_hash = seen.headers["x-amz-content-sha256"]
    creq = sig.canonical_request(
        seen.method,
        seen.raw_path,
        sig.canonical_query(seen.query),
        block,
        signed_names,
        payload_hash,
    )
    scope = sig.credential_scope(fields["date"], fields["region"], "s3")
    sts = sig.string_to_sign(timestamp, scope, creq)
    expected = sig.signature(sig.signing_key(secret, fields["date"], fields["region"], "s3"), sts)
    assert hmac.compare_digest(fields["sig"], expected), "signature does not match the request"
    if payload_hash not in (sig.UNSIGNED_PAYLOAD, *STREAMING_MODES):
        assert payload_hash == hashlib.sha256(seen.body).hexdigest()
    return {**fields, "scope": scope, "timestamp": timestamp}


CHUNK_HEADER_RE = re.compile(rb"([0-9a-f]+)(?:;chunk-signature=([0-9a-f]{64}))?\r\n")
STREAMING_MODES = (
    sig.STREAMING_PAYLOAD,
    sig.STREAMING_PAYLOAD_TRAILER,
    sig.STREAMING_UNSIGNED_PAYLOAD_TRAILER,
)


def hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def decode_aws_chunked(seen: Seen) -> tuple[bytes, dict[str, str]]:
    """The payload and trailers of an aws-chunked body.

    Signed modes: every chunk signature must chain from the request signature, and
    the trailer signature from the last chunk's (AWS "Signature Calculations for
    the Authorization Header: Transferring Payload in Multiple Chunks").
    """
    fields = check_signature(seen)
    mode = seen.headers["x-amz-content-sha256"]
    assert mode in STREAMING_MODES
    assert seen.headers["content-encoding"] == "aws-chunked"
    signed = mode != sig.STREAMING_UNSIGNED_PAYLOAD_TRAILER
    key = sig.signing_key(SECRET_KEY, fields["date"], fields["region"], "s3")
    previous = fields["sig"]
    body, position, out = seen.body, 0, bytearray()
    while True:
        match = CHUNK_HEADER_RE.match(body, position)
        assert match, f"bad chunk header at {position}"
        size = int(match.group(1), 16)
        start = match.end()
        data = body[start : start + size]
        if signed:
            string_to_sign = "\n".join(
                (
                    "AWS4-HMAC-SHA256-PAYLOAD",
                    fields["timestamp"],
                    fields["scope"],
                    previous,
                    hashlib.sha256(b"").hexdigest(),
                    hashlib.sha256(data).hexdigest(),
                )
            )
            previous = hmac_hex(key, string_to_sign)
            assert match.group(2).decode() == previous, "chunk signature does not chain"
        else:
            assert match.group(2) is None
        out += data
        if size == 0:
            position = start
            break
        assert body[start + size : start + size + 2] == b"\r\n"
        position = start + size + 2
    lines = body[position:].decode("ascii").split("\r\n")
    assert lines[-2:] == ["", ""], "the body must end with an empty line"
    trailers = dict(line.split(":", 1) for line in lines[:-2])
    trailer_signature = trailers.pop("x-amz-trailer-signature", None)
    announced = seen.headers.get("x-amz-trailer")
    assert set(trailers) == ({announced} if announced else set())
    if mode == sig.STREAMING_PAYLOAD_TRAILER:
        block = "".join(f"{name}:{value}\n" for name, value in trailers.items())
        string_to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256-TRAILER",
                fields["timestamp"],
                fields["scope"],
                previous,
                hashlib.sha256(block.encode()).hexdigest(),
            )
        )
        assert trailer_signature == hmac_hex(key, string_to_sign), "trailer signature"
    else:
        assert trailer_signature is None
    return bytes(out), trailers


def expected_checksum(name: str, data: bytes) -> str:
    if name == "x-amz-checksum-crc32":
        return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    if name == "x-amz-checksum-sha256":
        return base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert name == "content-md5", name
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def decoded_body(seen: Seen) -> bytes:
    """The payload of a request; every checksum it carries (header or trailer) must match."""
    trailers: dict[str, str] = {}
    data = seen.body
    if seen.headers.get("x-amz-content-sha256") in STREAMING_MODES:
        data, trailers = decode_aws_chunked(seen)
    completes = seen.method == "POST" and seen.param("uploadId") is not None
    # On CompleteMultipartUpload a checksum header states the whole object's checksum.
    headers = [] if completes else list(seen.headers.items())
    for name, value in [*headers, *trailers.items()]:
        if name.startswith("x-amz-checksum-") and name not in (
            "x-amz-checksum-algorithm",
            "x-amz-checksum-mode",
            "x-amz-checksum-type",
        ):
            assert value == expected_checksum(name, data), f"{name} does not match the body"
        if name == "content-md5":
            assert value == expected_checksum(name, data)
    return data


def check_wire_lengths(requests: list[Seen]) -> None:
    """Every body has an exact Content-Length; nothing is sent chunked."""
    for seen in requests:
        assert "transfer-encoding" not in seen.headers, (seen.method, seen.raw_path)
        if seen.body:
            assert seen.headers.get("content-length") == str(len(seen.body))
        if "x-amz-decoded-content-length" in seen.headers:
            assert int(seen.headers["x-amz-decoded-content-length"]) == len(decoded_body(seen))
        else:
            decoded_body(seen)  # checks the checksums it carries


def leaf_errors(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaf_errors(inner)
    else:
        yield error


# --------------------------------------------------------------------------- signing


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
    data = payload(2 * MiB + 12345)
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
    data = payload(MiB + 7)
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


# --------------------------------------------------------------------------- lengths on the wire


@pytest.mark.parametrize("size", [0, 1000, 11 * MiB])
@pytest.mark.parametrize("kind", ["bytes", "path", "stream-known-length", "stream-unknown-length"])
async def test_every_body_is_sent_with_content_length_never_chunked(
    kind: str, size: int, tmp_path: Path
) -> None:
    data = payload(size, seed=size)
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


@pytest.mark.parametrize("known", [False, True], ids=["unknown-length", "known-length"])
async def test_stream_is_uploaded_whole_when_threshold_is_below_part_size(known: bool) -> None:
    data = payload(12 * MiB, seed=7)
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
    data = payload(6 * MiB)
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


async def test_file_shrinking_during_a_multipart_upload_raises_and_aborts(tmp_path: Path) -> None:
    path = tmp_path / "shrinks.bin"
    await anyio.Path(path).write_bytes(payload(11 * MiB))

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


# --------------------------------------------------------------------------- error documents


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


@pytest.mark.parametrize(("status", "exists"), [(200, True), (404, False)])
async def test_bucket_exists_reads_the_head_status(status: int, exists: bool) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "HEAD"
        return httpx.Response(status)

    async with mock_client(handler) as s3:
        assert await s3.bucket_exists(BUCKET) is exists


async def test_bucket_exists_does_not_hide_access_denied() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403)

    async with mock_client(handler) as s3:
        with pytest.raises(AccessDenied):
            await s3.bucket_exists(BUCKET)


# --------------------------------------------------------------------------- retries


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


# --------------------------------------------------------------------------- multipart cleanup


async def test_multipart_part_failure_aborts_the_upload() -> None:
    async def intercept(seen: Seen) -> httpx.Response | None:
        if seen.method == "PUT" and seen.param("partNumber") == "2":
            return error_response(400, "InvalidArgument", "part 2 refused")
        return None

    fake = FakeS3(intercept)
    async with mock_client(fake, multipart_threshold=5 * MiB + 1, part_size=5 * MiB) as s3:
        with pytest.raises(BaseException) as info:
            await s3.put_object(BUCKET, "big", payload(11 * MiB))
    errors = list(leaf_errors(info.value))
    assert any(isinstance(e, ServiceError) and e.code == "InvalidArgument" for e in errors)
    assert len([seen for seen in fake.requests if seen.has("uploads")]) == 1
    aborts = fake.of("DELETE", "uploadId")
    assert [seen.param("uploadId") for seen in aborts] == ["upload-1"]
    assert fake.aborted == ["upload-1"]
    assert not fake.of("POST", "uploadId")  # never completed
    assert "big" not in fake.objects
    assert len([seen for seen in fake.of("PUT") if seen.param("partNumber") == "2"]) == 1


async def test_multipart_part_failure_raises_the_part_error_itself() -> None:
    async def intercept(seen: Seen) -> httpx.Response | None:
        if seen.method == "PUT" and seen.param("partNumber") == "2":
            return error_response(400, "InvalidArgument", "part 2 refused")
        return None

    fake = FakeS3(intercept)
    async with mock_client(fake, multipart_threshold=5 * MiB + 1, part_size=5 * MiB) as s3:
        with pytest.raises(S3Error) as info:
            await s3.put_object(BUCKET, "big", payload(11 * MiB))
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
                await s3.put_object(BUCKET, "big", payload(11 * MiB))
    assert scope.cancelled_caught
    assert [seen.param("uploadId") for seen in fake.of("DELETE", "uploadId")] == ["upload-1"]
    assert not fake.of("POST", "uploadId")
    assert "big" not in fake.objects


# --------------------------------------------------------------------------- secrets and lifecycle


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


async def test_invalid_bucket_or_key_is_refused_before_sending() -> None:
    fake = FakeS3()
    async with mock_client(fake) as s3:
        with pytest.raises(InvalidRequestError, match="bucket"):
            await s3.put_object("Bad_Bucket", "k", b"v")
        with pytest.raises(InvalidRequestError, match="key"):
            await s3.head_object(BUCKET, "")
        with pytest.raises(InvalidRequestError, match="range"):
            await s3.get_object(BUCKET, "k", range=(5, 2))
    assert fake.requests == []


# --------------------------------------------------------------------------- presigned URLs


async def test_presign_get_url_carries_a_valid_signature() -> None:
    fake = FakeS3()
    async with mock_client(fake, region="eu-west-1") as s3:
        url = s3.presign_get(BUCKET, "dir/a b.txt", expires_in=900)
    assert fake.requests == []  # presigning is local
    parts = urlsplit(url)
    assert parts.path == "/bkt/dir/a%20b.txt"
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = dict(params)
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "900"
    assert query["X-Amz-SignedHeaders"] == "host"
    assert query["X-Amz-Credential"].startswith(f"{ACCESS_KEY}/")
    date = query["X-Amz-Date"][:8]
    scope = sig.credential_scope(date, "eu-west-1", "s3")
    assert query["X-Amz-Credential"] == f"{ACCESS_KEY}/{scope}"
    unsigned = [(name, value) for name, value in params if name != "X-Amz-Signature"]
    block, signed = sig.canonical_headers([("host", parts.netloc)])
    creq = sig.canonical_request(
        "GET", parts.path, sig.canonical_query(unsigned), block, signed, sig.UNSIGNED_PAYLOAD
    )
    expected = sig.signature(
        sig.signing_key(SECRET_KEY, date, "eu-west-1", "s3"),
        sig.string_to_sign(query["X-Amz-Date"], scope, creq),
    )
    assert query["X-Amz-Signature"] == expected


@pytest.mark.parametrize("expires_in", [0, -1, 7 * 24 * 3600 + 1, 10**9])
async def test_presign_get_rejects_expiry_outside_1_second_to_7_days(expires_in: int) -> None:
    async with mock_client(FakeS3()) as s3:
        with pytest.raises(InvalidRequestError, match="7 days"):
            s3.presign_get(BUCKET, "k", expires_in=expires_in)


@pytest.mark.parametrize("expires_in", [1, 7 * 24 * 3600])
async def test_presign_get_accepts_expiry_at_the_bounds(expires_in: int) -> None:
    async with mock_client(FakeS3()) as s3:
        url = s3.presign_get(BUCKET, "k", expires_in=expires_in)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["X-Amz-Expires"] == str(expires_in)
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])


async def test_presign_put_signs_the_content_type() -> None:
    async with mock_client(FakeS3()) as s3:
        url = s3.presign_put(BUCKET, "k", content_type="image/png")
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["X-Amz-SignedHeaders"] == "content-type;host"


# --------------------------------------------------------------------------- raw paths


@pytest.mark.parametrize("key", ["a/../b", "./a", "a/./b", "..", ".", "a//b", "a/b/..", "%2e%2e"])
async def test_keys_with_dot_segments_are_sent_with_the_raw_path(key: str) -> None:
    fake = FakeS3()
    async with mock_client(fake) as s3:
        await s3.put_object(BUCKET, key, b"v")
        assert await (await s3.get_object(BUCKET, key)).read() == b"v"
    expected = f"/{BUCKET}/" + quote(key, safe="/")
    assert [seen.raw_path for seen in fake.requests] == [expected, expected]
    assert list(fake.objects) == [key]
    for seen in fake.requests:
        check_signature(seen)


# --------------------------------------------------------------------------- listing


async def test_list_objects_follows_continuation_tokens_and_decodes_keys() -> None:
    keys = sorted(["a b", "c+d", "dir/é.txt", "plain", "x%y", "amp&<lt>", "z~", "日本"])
    pages = [keys[0:3], keys[3:6], keys[6:]]
    tokens = ["first token/+=", "2nd&token"]
    seen_tokens: list[str | None] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen = Seen.of(request)
        check_signature(seen)
        assert seen.param("list-type") == "2"
        assert seen.param("encoding-type") == "url"
        assert seen.param("prefix") is None
        token = seen.param("continuation-token")
        seen_tokens.append(token)
        index = 0 if token is None else tokens.index(token) + 1
        contents = "".join(
            f"<Contents><Key>{quote_plus(key, safe='/')}</Key><Size>{len(key)}</Size>"
            f'<ETag>"etag-{n}"</ETag><LastModified>2024-05-01T12:00:00.000Z</LastModified>'
            "</Contents>"
            for n, key in enumerate(pages[index])
        )
        truncated = index < len(tokens)
        more = (
            f"<NextContinuationToken>{escape(tokens[index])}</NextContinuationToken>"
            if truncated
            else ""
        )
        inner = (
            f"<Name>{BUCKET}</Name><EncodingType>url</EncodingType>"
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{more}{contents}"
        )
        return xml_response(200, inner, "ListBucketResult")

    async with mock_client(handler) as s3:
        entries = [entry async for entry in s3.list_objects(BUCKET, page_size=3)]
    assert seen_tokens == [None, *tokens]
    assert all(isinstance(entry, ObjectSummary) for entry in entries)
    assert [entry.key for entry in entries] == keys
    assert [entry.size for entry in entries if isinstance(entry, ObjectSummary)] == [
        len(key) for key in keys
    ]


# --------------------------------------------------------------------------- batch delete


async def test_delete_objects_sends_batches_of_1000_with_matching_content_md5() -> None:
    keys = [f"key-{n:05d}" for n in range(2500)]
    batches: list[list[str]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen = Seen.of(request)
        assert seen.method == "POST" and seen.has("delete")
        check_signature(seen)
        digest = base64.b64encode(hashlib.md5(seen.body, usedforsecurity=False).digest()).decode()
        assert seen.headers["content-md5"] == digest
        assert seen.headers["content-length"] == str(len(seen.body))
        root = ET.fromstring(seen.body)
        batch = [node.text or "" for node in root.iter(f"{{{NS}}}Key")]
        batches.append(batch)
        inner = "".join(f"<Deleted><Key>{key}</Key></Deleted>" for key in batch)
        return xml_response(200, inner, "DeleteResult")

    async with mock_client(handler) as s3:
        result = await s3.delete_objects(BUCKET, iter(keys))
    assert [len(batch) for batch in batches] == [1000, 1000, 500]
    assert [key for batch in batches for key in batch] == keys
    assert list(result.deleted) == keys
    assert result.errors == ()


# --------------------------------------------------------------------------- downloads


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
    data = payload(100_000)
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
