"""A null S3 server: accepts and discards uploads, serves bytes for downloads.

It shows each client's own ceiling, without the cost of a real server.  Run it
as ``python -m benchmarks.nullserver [--port 0] [--bandwidth-mbps 100 --delay-ms 20]``;
it prints ``PORT <n>`` on its first stdout line, then serves until killed.

A network profile (``Shape``, off by default) makes it answer as a link would:
each connection carries at most ``--bandwidth-mbps`` MB/s (10^6 bytes/s) in each
direction, and every answer waits ``--delay-ms`` (one round trip) after its
request arrived.

Rules of this module:
- No per-byte Python work: bodies are discarded with ``recv_into`` into one
  reusable buffer per connection; downloads are sent from one preallocated
  buffer with ``sendall`` of memoryview slices.
- No authentication: signatures, payload hashes and aws-chunked framing are not
  checked (an aws-chunked body is discarded by its ``Content-Length`` like any
  other; only HTTP ``Transfer-Encoding: chunked`` is parsed, to find its end).
- Checksums an upload states (an ``x-amz-checksum-*`` header, or the trailer at
  the end of an aws-chunked body, read from its last 512 bytes) are echoed in the
  answer, as AWS does once it has checked them, and so is the algorithm a
  CreateMultipartUpload announces: clients then see a server with flexible
  checksums.  They are not computed, hence not checked.
- Object sizes come from a registry of what was "uploaded" (PUT, multipart,
  copy), or, for keys never uploaded, from a name like ``size-1073741824``.
- Routing is a table: ``(method, kind of request) -> handler``.
- One thread per connection (HTTP/1.1 keep-alive); loopback I/O releases the GIL.
- Shaping, when asked for, happens per connection and per direction, in slices:
  bodies move in ``_SLICE`` steps, each followed by a sleep when the connection is
  ahead of its rate (a token bucket ``_BURST`` seconds deep), so the cost is one
  clock read per 64 KiB, never per byte.  The delay is one sleep per request:
  an interim ``100 Continue`` goes ``delay`` after the request head, the answer
  ``delay`` after the whole request (head and body) was received.  Connection
  set-up is not delayed.  Without a shape the code paths are those of before.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import itertools
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qsl, quote, unquote

__all__ = ["NullS3", "Shape", "main", "serve"]

_BUFFER = 1 << 20
_SEND = 1 << 20  # bytes per sendall of a download body
_MAX_HEAD = 64 * 1024
_SLICE = 64 * 1024  # bytes per paced step when a bandwidth cap is set
_BURST = 0.005  # seconds of credit a paced direction may keep (covers sleep overshoot)
_NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
_LAST_MODIFIED_ISO = "2024-01-01T00:00:00.000Z"
_LAST_MODIFIED_HTTP = "Mon, 01 Jan 2024 00:00:00 GMT"
_SIZE_NAME = re.compile(r"(?:^|/)size-(\d+)$")
_XML_KEY = re.compile(rb"<Key>(.*?)</Key>", re.DOTALL)
_REASONS = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    206: "Partial Content",
    400: "Bad Request",
    404: "Not Found",
    416: "Range Not Satisfiable",
    500: "Internal Server Error",
    501: "Not Implemented",
}


_TRAILER_TAIL = 512
"""Bytes kept from the end of an aws-chunked body: enough for its trailer."""
_CHECKSUM_TRAILER = re.compile(rb"x-amz-checksum-([a-z0-9]+):([A-Za-z0-9+/=]+)")


class _Closed(Exception):
    """The peer closed the connection."""


def _etag(*parts: object) -> str:
    # Not the MD5 of the bytes served, so it must not look like one (32 hex digits): a
    # client that checks single-part downloads against an MD5 ETag would rightly refuse.
    return "null-" + hashlib.md5(repr(parts).encode(), usedforsecurity=False).hexdigest()


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Shape:
    """A network profile: per-connection bandwidth (bytes/s, None: no cap) and delay (s)."""

    bandwidth: float | None = None
    delay: float = 0.0

    @classmethod
    def from_options(cls, bandwidth_mbps: float | None, delay_ms: float | None) -> Shape:
        """``--bandwidth-mbps`` (MB/s; None or 0: no cap) and ``--delay-ms`` (None: 0)."""
        if (bandwidth_mbps is not None and bandwidth_mbps < 0) or (delay_ms or 0) < 0:
            raise ValueError("bandwidth and delay must not be negative")
        return cls(bandwidth_mbps * 1e6 if bandwidth_mbps else None, (delay_ms or 0) / 1e3)


class _Pacer:
    """One direction of one connection held to ``rate`` bytes/s (a token bucket).

    ``due`` is when the bytes moved so far may have been moved; idle time earns at most
    ``_BURST`` seconds of credit, so a connection that waited does not then burst.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.due = 0.0

    def __call__(self, size: int) -> None:
        now = time.monotonic()
        self.due = max(self.due, now - _BURST) + size / self.rate
        if self.due > now:
            time.sleep(self.due - now)


def _sleep_until(moment: float) -> None:
    wait = moment - time.monotonic()
    if wait > 0:
        time.sleep(wait)


@dataclass
class Request:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    body_size: int = 0  # decoded bytes received (discarded) for object uploads
    checksums: dict[str, str] = field(default_factory=dict)
    """The ``x-amz-checksum-*`` values an upload stated (header or aws-chunked trailer)."""

    def checksum_echo(self) -> list[tuple[str, str]]:
        """The headers AWS answers an upload with: the checksums it stated, as accepted.
        (The null server keeps no bytes, so it cannot check them; AWS would.)"""
        return [(f"x-amz-checksum-{name}", value) for name, value in self.checksums.items()]


@dataclass
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    body_size: int | None = None  # a streamed body of this many bytes (from the payload)

    @classmethod
    def xml(cls, text: str, status: int = 200) -> Response:
        document = f'<?xml version="1.0" encoding="UTF-8"?>\n{text}'.encode()
        return cls(status, [("Content-Type", "application/xml")], document)

    @classmethod
    def error(cls, status: int, code: str, message: str) -> Response:
        return cls.xml(
            f"<Error><Code>{code}</Code><Message>{_xml_escape(message)}</Message>"
            "<RequestId>null</RequestId></Error>",
            status,
        )


@dataclass
class _Object:
    size: int
    etag: str


class NullS3:
    """The server's state (what was "uploaded") and its request handlers."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], _Object] = {}
        self._uploads: dict[str, dict[int, int]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.payload = memoryview(os.urandom(_SEND))
        self._routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("PUT", "bucket"): self.ok,
            ("HEAD", "bucket"): self.ok,
            ("DELETE", "bucket"): self.no_content,
            ("GET", "bucket"): self.list_objects,
            ("GET", "location"): self.location,
            ("GET", "uploads"): self.list_uploads,
            ("POST", "delete"): self.delete_objects,
            ("PUT", "object"): self.put_object,
            ("PUT", "copy"): self.copy_object,
            ("PUT", "part"): self.upload_part,
            ("PUT", "part-copy"): self.upload_part_copy,
            ("POST", "initiate"): self.initiate,
            ("POST", "complete"): self.complete,
            ("DELETE", "upload"): self.abort,
            ("GET", "object"): self.get_object,
            ("HEAD", "object"): self.get_object,
            ("DELETE", "object"): self.delete_object,
        }

    # --- routing ---------------------------------------------------------------------

    @staticmethod
    def kind(request: Request) -> str:
        query, headers = request.query, request.headers
        if not request.key:
            if "location" in query:
                return "location"
            if "uploads" in query:
                return "uploads"
            return "delete" if "delete" in query else "bucket"
        if "uploads" in query:
            return "initiate"
        if "uploadId" in query:
            if "partNumber" in query:
                return "part-copy" if "x-amz-copy-source" in headers else "part"
            return "complete" if request.method == "POST" else "upload"
        return "copy" if "x-amz-copy-source" in headers else "object"

    @staticmethod
    def reads_body(request: Request) -> bool:
        """Whether the handler needs the request body itself (small XML documents)."""
        return request.method == "POST"

    def handle(self, request: Request) -> Response:
        handler = self._routes.get((request.method, self.kind(request)))
        if handler is None:
            return Response.error(501, "NotImplemented", f"{request.method} not supported")
        try:
            return handler(request)
        except Exception as exc:  # a bug here must not look like a client's dropped connection
            print(f"null server: {request.method} {request.key}: {exc!r}", file=sys.stderr)
            return Response.error(500, "InternalError", repr(exc))

    # --- buckets ---------------------------------------------------------------------

    def ok(self, request: Request) -> Response:
        return Response()

    def no_content(self, request: Request) -> Response:
        return Response(204)

    def location(self, request: Request) -> Response:
        return Response.xml(f"<LocationConstraint {_NS}></LocationConstraint>")

    def list_uploads(self, request: Request) -> Response:
        return Response.xml(
            f"<ListMultipartUploadsResult {_NS}><Bucket>{request.bucket}</Bucket>"
            "<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>"
        )

    def list_objects(self, request: Request) -> Response:
        query = request.query
        prefix = query.get("prefix", "")
        after = query.get("continuation-token") or query.get("start-after") or ""
        limit = int(query.get("max-keys", "1000"))
        with self._lock:
            keys = sorted(
                (key, obj)
                for (bucket, key), obj in self._objects.items()
                if bucket == request.bucket and key.startswith(prefix) and key > after
            )
        page, truncated = keys[:limit], len(keys) > limit
        contents = "".join(
            f"<Contents><Key>{_xml_escape(key)}</Key><LastModified>{_LAST_MODIFIED_ISO}"
            f"</LastModified><ETag>&quot;{obj.etag}&quot;</ETag><Size>{obj.size}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for key, obj in page
        )
        token = (
            f"<NextContinuationToken>{_xml_escape(page[-1][0])}</NextContinuationToken>"
            if truncated
            else ""
        )
        return Response.xml(
            f"<ListBucketResult {_NS}><Name>{request.bucket}</Name>"
            f"<Prefix>{_xml_escape(prefix)}</Prefix><KeyCount>{len(page)}</KeyCount>"
            f"<MaxKeys>{limit}</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>"
            f"{contents}{token}</ListBucketResult>"
        )

    def delete_objects(self, request: Request) -> Response:
        keys = [html.unescape(k.decode()) for k in _XML_KEY.findall(request.body)]
        with self._lock:
            for key in keys:
                self._objects.pop((request.bucket, key), None)
        deleted = "".join(f"<Deleted><Key>{_xml_escape(k)}</Key></Deleted>" for k in keys)
        return Response.xml(f"<DeleteResult {_NS}>{deleted}</DeleteResult>")

    # --- objects ---------------------------------------------------------------------

    def _store(self, bucket: str, key: str, size: int, etag: str) -> None:
        with self._lock:
            self._objects[(bucket, key)] = _Object(size, etag)

    def _lookup(self, bucket: str, key: str) -> _Object | None:
        with self._lock:
            found = self._objects.get((bucket, key))
        if found is None and (match := _SIZE_NAME.search(key)):
            found = _Object(int(match.group(1)), _etag(key))
        return found

    def put_object(self, request: Request) -> Response:
        etag = _etag(request.key, request.body_size, next(self._ids))
        self._store(request.bucket, request.key, request.body_size, etag)
        return Response(headers=[("ETag", f'"{etag}"'), *request.checksum_echo()])

    def delete_object(self, request: Request) -> Response:
        with self._lock:
            self._objects.pop((request.bucket, request.key), None)
        return Response(204)

    def _copy_source(self, request: Request) -> _Object | None:
        source = unquote(request.headers["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
        bucket, _, key = source.partition("/")
        return self._lookup(bucket, key)

    def copy_object(self, request: Request) -> Response:
        source = self._copy_source(request)
        if source is None:
            return Response.error(404, "NoSuchKey", "copy source not found")
        etag = _etag(request.key, source.etag, next(self._ids))
        self._store(request.bucket, request.key, source.size, etag)
        return Response.xml(
            f"<CopyObjectResult {_NS}><LastModified>{_LAST_MODIFIED_ISO}</LastModified>"
            f"<ETag>&quot;{etag}&quot;</ETag></CopyObjectResult>"
        )

    def get_object(self, request: Request) -> Response:
        found = self._lookup(request.bucket, request.key)
        if found is None:
            if request.method == "HEAD":
                return Response(404)
            return Response.error(404, "NoSuchKey", "The specified key does not exist.")
        headers = [
            ("ETag", f'"{found.etag}"'),
            ("Last-Modified", _LAST_MODIFIED_HTTP),
            ("Content-Type", "application/octet-stream"),
            ("Accept-Ranges", "bytes"),
        ]
        first, last = 0, found.size - 1
        spec = request.headers.get("range", "")
        status = 200
        if spec.startswith("bytes="):
            start, _, end = spec[6:].partition("-")
            if start:
                first = int(start)
                last = min(int(end), found.size - 1) if end else found.size - 1
            else:
                first = max(found.size - int(end), 0)
            if first >= found.size or first > last:
                return Response.error(416, "InvalidRange", "range not satisfiable")
            status = 206
            headers.append(("Content-Range", f"bytes {first}-{last}/{found.size}"))
        return Response(status, headers, body_size=last - first + 1)

    # --- multipart -------------------------------------------------------------------

    def initiate(self, request: Request) -> Response:
        upload_id = f"null-{next(self._ids)}"
        with self._lock:
            self._uploads[upload_id] = {}
        answer = Response.xml(
            f"<InitiateMultipartUploadResult {_NS}><Bucket>{request.bucket}</Bucket>"
            f"<Key>{_xml_escape(request.key)}</Key><UploadId>{upload_id}</UploadId>"
            "</InitiateMultipartUploadResult>"
        )
        if algorithm := request.headers.get("x-amz-checksum-algorithm"):
            answer.headers.append(("x-amz-checksum-algorithm", algorithm))  # as AWS answers
        return answer

    def _record_part(self, request: Request, size: int) -> Response | str:
        upload_id, number = request.query["uploadId"], int(request.query["partNumber"])
        with self._lock:
            parts = self._uploads.get(upload_id)
            if parts is None:
                return Response.error(404, "NoSuchUpload", "unknown upload id")
            parts[number] = size
        return _etag(upload_id, number, size)

    def upload_part(self, request: Request) -> Response:
        recorded = self._record_part(request, request.body_size)
        if isinstance(recorded, Response):
            return recorded
        return Response(headers=[("ETag", f'"{recorded}"'), *request.checksum_echo()])

    def upload_part_copy(self, request: Request) -> Response:
        source = self._copy_source(request)
        if source is None:
            return Response.error(404, "NoSuchKey", "copy source not found")
        size = source.size
        span = request.headers.get("x-amz-copy-source-range", "")
        if span.startswith("bytes="):
            first, _, last = span[6:].partition("-")
            size = int(last) - int(first) + 1
        recorded = self._record_part(request, size)
        if isinstance(recorded, Response):
            return recorded
        return Response.xml(
            f"<CopyPartResult {_NS}><LastModified>{_LAST_MODIFIED_ISO}</LastModified>"
            f"<ETag>&quot;{recorded}&quot;</ETag></CopyPartResult>"
        )

    def complete(self, request: Request) -> Response:
        upload_id = request.query["uploadId"]
        with self._lock:
            parts = self._uploads.pop(upload_id, None)
        if parts is None:
            return Response.error(404, "NoSuchUpload", "unknown upload id")
        etag = f"{_etag(upload_id, sorted(parts.items()))}-{len(parts)}"
        self._store(request.bucket, request.key, sum(parts.values()), etag)
        return Response.xml(
            f"<CompleteMultipartUploadResult {_NS}><Location>/{request.bucket}/"
            f"{quote(request.key)}</Location><Bucket>{request.bucket}</Bucket>"
            f"<Key>{_xml_escape(request.key)}</Key><ETag>&quot;{etag}&quot;</ETag>"
            "</CompleteMultipartUploadResult>"
        )

    def abort(self, request: Request) -> Response:
        with self._lock:
            self._uploads.pop(request.query["uploadId"], None)
        return Response(204)


class _Connection:
    """One client connection: buffered head parsing, zero-copy body discarding."""

    def __init__(self, sock: socket.socket, server: NullS3, shape: Shape | None = None) -> None:
        self.sock = sock
        self.server = server
        self.pending = bytearray()
        self.scratch = memoryview(bytearray(_BUFFER))
        shape = shape or Shape()
        self.delay = shape.delay
        self.received = 0.0  # when the last request was fully received (monotonic)
        rate = shape.bandwidth
        self.recv_pace = _Pacer(rate) if rate else None
        self.send_pace = _Pacer(rate) if rate else None
        self.recv_step = _SLICE if rate else _BUFFER
        self.send_step = _SLICE if rate else _SEND

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise _Closed
        self.pending += data
        if self.recv_pace is not None:
            self.recv_pace(len(data))

    def _sendall(self, data: bytes | memoryview) -> None:
        self.sock.sendall(data)
        if self.send_pace is not None:
            self.send_pace(len(data))

    def read_head(self) -> bytes:
        while (end := self.pending.find(b"\r\n\r\n")) < 0:
            if len(self.pending) > _MAX_HEAD:
                raise _Closed
            self._fill()
        head = bytes(self.pending[:end])
        del self.pending[: end + 4]
        return head

    def read_line(self) -> bytes:
        while (end := self.pending.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self.pending[:end])
        del self.pending[: end + 2]
        return line

    def read_exact(self, size: int) -> bytes:
        while len(self.pending) < size:
            self._fill()
        data = bytes(self.pending[:size])
        del self.pending[:size]
        return data

    def discard(self, size: int, keep_tail: int = 0) -> bytes:
        """Read and drop ``size`` bytes of body; the last ``keep_tail`` of them returned."""
        tail = bytearray()
        buffered = min(size, len(self.pending))
        if keep_tail and size - buffered < keep_tail:
            tail += self.pending[max(0, size - keep_tail) : buffered]
        del self.pending[:buffered]
        size -= buffered
        scratch, recv_into = self.scratch, self.sock.recv_into
        pace, step = self.recv_pace, self.recv_step
        while size:
            got = recv_into(scratch, min(size, step))
            if not got:
                raise _Closed
            size -= got
            if keep_tail and size < keep_tail:  # these bytes reach into the tail
                tail += scratch[max(0, got + size - keep_tail) : got]
            if pace is not None:
                pace(got)
        return bytes(tail[-keep_tail:]) if keep_tail else b""

    def discard_chunked(self) -> int:
        total = 0
        while True:
            size = int(self.read_line().split(b";", 1)[0], 16)
            if size == 0:
                while self.read_line():  # trailers, up to the empty line
                    pass
                return total
            self.discard(size)
            self.read_line()
            total += size

    def read_request(self) -> Request | None:
        try:
            head = self.read_head()
        except _Closed:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        path, _, query = target.partition("?")
        bucket, _, key = path.lstrip("/").partition("/")
        request = Request(
            method,
            unquote(bucket),
            unquote(key),
            dict(parse_qsl(query, keep_blank_values=True)),
            headers,
        )
        if headers.get("expect", "").lower() == "100-continue":
            if self.delay:
                time.sleep(self.delay)  # the client waits one round trip for it
            self._sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = int(headers.get("content-length", "0") or 0)
        if NullS3.reads_body(request):
            request.body = self.read_exact(length)  # POST bodies are small XML documents
        elif chunked:
            request.body_size = self.discard_chunked()
        else:
            trailer = headers.get("x-amz-trailer", "")
            tail = self.discard(length, keep_tail=_TRAILER_TAIL if trailer else 0)
            request.body_size = length
            for found in _CHECKSUM_TRAILER.finditer(tail):
                request.checksums[found.group(1).decode()] = found.group(2).decode()
        for name, value in headers.items():
            if name.startswith("x-amz-checksum-") and name != "x-amz-checksum-type":
                request.checksums[name.removeprefix("x-amz-checksum-")] = value
        decoded = headers.get("x-amz-decoded-content-length")
        if decoded is not None:
            request.body_size = int(decoded)
        self.received = time.monotonic()
        return request

    def send(self, request: Request, response: Response) -> None:
        size = len(response.body) if response.body_size is None else response.body_size
        lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}"]
        lines += [f"{name}: {value}" for name, value in response.headers]
        lines += [
            f"Content-Length: {size}",
            f"Date: {formatdate(usegmt=True)}",
            "x-amz-request-id: null",
            "Server: s3lite-null",
            "",
            "",
        ]
        head = "\r\n".join(lines).encode("latin-1")
        if self.delay:
            _sleep_until(self.received + self.delay)
        if request.method == "HEAD" or (response.body_size is None and not response.body):
            self._sendall(head)
            return
        if response.body_size is None:
            self._sendall(head + response.body)
            return
        self._sendall(head)
        payload = self.server.payload
        sendall = self.sock.sendall if self.send_pace is None else self._sendall
        remaining, size = response.body_size, self.send_step
        while remaining:
            step = min(remaining, size)
            sendall(payload[:step])
            remaining -= step

    def serve(self) -> None:
        try:
            while (request := self.read_request()) is not None:
                self.send(request, self.server.handle(request))
                if request.headers.get("connection", "").lower() == "close":
                    return
        except (_Closed, ConnectionError, OSError):
            return
        finally:
            self.sock.close()


def serve(
    listener: socket.socket, server: NullS3 | None = None, shape: Shape | None = None
) -> None:
    """Accept connections forever, one thread each, shaped by ``shape`` (default: none)."""
    state = server if server is not None else NullS3()
    while True:
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_Connection(sock, state, shape).serve, daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--bandwidth-mbps",
        type=float,
        default=None,
        help="cap each connection at this many MB/s (10^6 bytes/s) in each direction "
        "(default: no cap)",
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=None,
        help="answer each request this many ms after it arrived (default: 0)",
    )
    args = parser.parse_args(argv)
    try:
        shape = Shape.from_options(args.bandwidth_mbps, args.delay_ms)
    except ValueError as exc:
        parser.error(str(exc))
    listener = socket.create_server((args.host, args.port), backlog=256)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    try:
        serve(listener, shape=shape)
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
