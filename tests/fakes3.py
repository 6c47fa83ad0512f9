"""A fake S3 server for unit tests: requests are answered by ``httpx.MockTransport``.

This is h11's ``tests/helpers.py`` idea: the machinery the unit tests share, kept out of
the test files, so each of those holds only tests of one module.

- ``mock_client(handler, endpoint, **options)`` opens an ``S3Client`` whose injected httpx
  client sends every request to ``handler`` (retries without delay unless ``retry=`` says
  otherwise).
- ``FakeS3`` is such a handler: a very small in-memory S3 (path-style or virtual-hosted,
  one bucket ``BUCKET``) with objects, ranged and ETag-pinned GETs, and multipart
  uploads.  It records every request as a ``Seen`` in ``requests`` (``of()`` filters
  them), checks every checksum a request carries, and lets an ``intercept`` answer first
  (to inject failures).
- ``body_response``, ``xml_response`` and ``error_response`` build answers whose body is
  delivered in chunks (``NetworkStream``), as from a socket, optionally cut part-way.
- ``check_signature`` re-derives the SigV4 signature from the captured request alone
  (what httpx sent: its method, raw path, query, headers and body) with the stage
  functions of ``s3lite._signing``, so a header the client signs differently from what it
  sends is caught.  ``decode_aws_chunked`` decodes an aws-chunked body and recomputes each
  chunk and trailer signature from the AWS specification with ``hmac``;
  ``check_wire_lengths`` checks that every body went with its exact Content-Length.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

import anyio
import anyio.lowlevel
import httpx

from s3lite import RetryPolicy, S3Client
from s3lite import _signing as sig
from tests.helpers import MiB

ACCESS_KEY = "AKIDUNITTEST"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY"
SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLETOKEN"
ENDPOINT = "http://127.0.0.1:9000"
BUCKET = "bkt"
NS = "http://s3.amazonaws.com/doc/2006-03-01/"
NO_DELAY = RetryPolicy(base_delay=0, max_delay=0)

# --- capturing ----------------------------------------------------------------------------


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
    already read in full by httpx, unlike anything that comes off the network).

    With ``cut_after``, the connection is lost (``httpx.ReadError``) once that many bytes
    have been delivered.
    """

    def __init__(self, data: bytes, chunk: int = 64 * 1024, cut_after: int | None = None) -> None:
        self._data = data if cut_after is None else data[:cut_after]
        self._chunk = chunk
        self._cut = cut_after is not None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self._data), self._chunk):
            await anyio.lowlevel.checkpoint()
            yield self._data[start : start + self._chunk]
        if self._cut:
            raise httpx.ReadError("connection reset by the fake server")

    async def aclose(self) -> None:
        pass


def body_response(
    status: int,
    data: bytes,
    headers: dict[str, str] | None = None,
    length: int | None = None,
    cut_after: int | None = None,
) -> httpx.Response:
    """A streamed response whose Content-Length says ``length`` (default: the real length);
    ``cut_after``: the connection drops after that many bytes of the body."""
    headers = {**(headers or {}), "content-length": str(len(data) if length is None else length)}
    return httpx.Response(status, headers=headers, stream=NetworkStream(data, cut_after=cut_after))


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
    """A very small in-memory S3: objects (ranged and ETag-pinned GETs), multipart uploads.

    ``intercept`` may answer a request first (to inject failures); otherwise the
    request is served from memory.  Like AWS, an upload's answer echoes the flexible
    checksum it carried.  ``trailers=False`` acts as a server that knows no aws-chunked
    trailers (Ceph RGW 16: ``XAmzContentSHA256Mismatch``); ``flexible_checksums=False``
    as one that ignores ``x-amz-checksum-*`` (not echoed; the fake never returns one on GET).
    """

    intercept: Intercept | None = None
    trailers: bool = True
    flexible_checksums: bool = True
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
        if not self.trailers and seen.headers.get("x-amz-content-sha256", "").endswith("TRAILER"):
            return error_response(400, "XAmzContentSHA256Mismatch", "content sha256 mismatch")
        answer = self.serve(seen)
        if seen.method == "PUT" and answer.status_code == 200 and self.flexible_checksums:
            for name, value in checksums_sent(seen).items():
                answer.headers[name] = value
        algorithm = seen.headers.get("x-amz-checksum-algorithm")
        if seen.method == "POST" and seen.has("uploads") and self.flexible_checksums and algorithm:
            answer.headers["x-amz-checksum-algorithm"] = algorithm  # as AWS answers
        return answer

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
            if seen.headers.get("if-match", headers["etag"]) != headers["etag"]:
                return error_response(412, "PreconditionFailed", "If-Match does not match")
            if seen.method == "HEAD":
                return httpx.Response(200, headers={**headers, "content-length": str(len(data))})
            if "range" in seen.headers:
                return ranged_response(data, seen.headers["range"], headers)
            return body_response(200, data, headers)
        if seen.method == "GET" and seen.has("list-type"):
            return xml_response(200, "<IsTruncated>false</IsTruncated>", "ListBucketResult")
        if seen.method == "DELETE":
            self.objects.pop(key, None)
            return httpx.Response(204)
        return error_response(501, "NotImplemented", f"{seen.method} {seen.raw_path}")


def ranged_response(data: bytes, header: str, headers: dict[str, str]) -> httpx.Response:
    """The 206 answer to ``Range: bytes=first-[last]`` (416 when it starts past the end)."""
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", header)
    assert match, header
    first = int(match.group(1))
    last = min(int(match.group(2) or len(data) - 1), len(data) - 1)
    if first >= len(data):
        return error_response(416, "InvalidRange", "The requested range is not satisfiable")
    headers = {**headers, "content-range": f"bytes {first}-{last}/{len(data)}"}
    return body_response(206, data[first : last + 1], headers)


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


# --- checking signatures ------------------------------------------------------------------

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


def checksums_sent(seen: Seen) -> dict[str, str]:
    """The flexible checksums a request carried, as headers or in its trailer."""
    sent = dict(seen.headers.items())
    if seen.headers.get("x-amz-content-sha256") in STREAMING_MODES:
        sent.update(decode_aws_chunked(seen)[1])
    return {
        name: value
        for name, value in sent.items()
        if name in ("x-amz-checksum-crc32", "x-amz-checksum-sha256")
    }


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
