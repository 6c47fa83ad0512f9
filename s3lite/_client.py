"""``S3Client``: composes URLs -> requests -> signing -> transport.

Rules of this module:
- Every request goes through ``_send``: build target, sign with the current
  (skew-corrected) time, send, turn an error status into a typed exception,
  retry what is safe to retry.  Nothing else talks to the transport.
- Bodies are normalised by ``_body`` and framed by ``_payload``; no method here
  holds a whole object in memory.
- The client is a small state machine: UNOPENED -> OPENED -> CLOSED;
  ``aclose()`` is idempotent and ``async with`` is the usual lifecycle.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import heapq
import logging
import math
import os
import ssl
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import overload

import anyio
import httpx

from . import _xml
from ._body import Source, StreamSource, make_source
from ._checksums import ALGORITHMS, ChecksumAlgorithm, verifiable_checksum
from ._connstring import ConnectionSettings, parse_connection_string
from ._download import GetObjectCall, ObjectStream
from ._exceptions import (
    ConfigurationError,
    IntegrityError,
    InvalidRequestError,
    NoSuchKey,
    NoSuchLifecycleConfiguration,
    PreconditionFailed,
    RequestTimeTooSkewed,
    S3Error,
    ServiceError,
    code_for_status,
    error_class_for_code,
)
from ._models import (
    CommonPrefix,
    CompletedPart,
    CopyObjectResult,
    DeleteError,
    DeleteObjectsResult,
    LifecycleRule,
    MultipartUpload,
    ObjectInfo,
    ObjectSummary,
    PartInfo,
    PutObjectResult,
)
from ._multipart import MAX_PARTS, copy_multipart, upload_multipart
from ._options import ClientOptions
from ._payload import EMPTY, Payload, PayloadSigning, payload_for_source
from ._retry import RetryPolicy, is_retryable
from ._signing import (
    Credentials,
    canonical_query,
    presign_query,
    sign_headers,
    signing_key,
    uri_encode_path,
)
from ._transport import Response, Transport
from ._urls import AddressingStyle, Endpoint, Target, validate_bucket_name, validate_key

__all__ = ["S3Client"]

logger = logging.getLogger("s3lite")

MiB = 1024 * 1024
GiB = 1024 * MiB
MAX_SINGLE_PUT = 5 * GiB
MIN_PART_SIZE = 5 * MiB
_USER_AGENT = "s3lite/0.1"
_META_PREFIX = "x-amz-meta-"
_CHECKSUM_PREFIX = "x-amz-checksum-"

Range = tuple[int, int | None]


class _Level(enum.Enum):
    """A request addressed to the service or to a bucket rather than to an object."""

    SERVICE = "service"
    BUCKET = "bucket"


SERVICE = _Level.SERVICE
BUCKET = _Level.BUCKET


class _State(enum.Enum):
    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


def _content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _validate_metadata(metadata: Mapping[str, str] | None) -> list[tuple[str, str]]:
    if metadata is None:
        return []
    if not isinstance(metadata, Mapping):
        raise InvalidRequestError("metadata must be a mapping of str to str")
    headers = []
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidRequestError("metadata names and values must be str")
        if not name or not name.isascii() or any(c in name for c in ' \t\r\n:()<>@,;\\"/[]?={}'):
            raise InvalidRequestError(f"invalid metadata name {name!r}: use ASCII token chars")
        if not value.isascii() or any(c in value for c in "\r\n"):
            raise InvalidRequestError(
                f"metadata value for {name!r} must be ASCII without line breaks"
            )
        headers.append((_META_PREFIX + name.lower(), value))
    return headers


def _validate_range(range_: Range | None) -> str | None:
    if range_ is None:
        return None
    if not isinstance(range_, tuple) or len(range_) != 2:
        raise InvalidRequestError("range must be a (first, last) tuple; last may be None")
    first, last = range_
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise InvalidRequestError(f"range start must be an int >= 0, got {first!r}")
    if last is None:
        return f"bytes={first}-"
    if isinstance(last, bool) or not isinstance(last, int) or last < first:
        raise InvalidRequestError(
            f"range end must be an int >= start ({first}) or None, got {last!r}"
        )
    return f"bytes={first}-{last}"


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _info_from_headers(key: str, headers: httpx.Headers) -> ObjectInfo:
    metadata = {
        name[len(_META_PREFIX) :]: value
        for name, value in headers.items()
        if name.lower().startswith(_META_PREFIX)
    }
    checksums = {
        name[len(_CHECKSUM_PREFIX) :]: value
        for name, value in headers.items()
        if name.lower().startswith(_CHECKSUM_PREFIX) and name.lower() != "x-amz-checksum-type"
    }
    return ObjectInfo(
        key=key,
        size=int(headers.get("content-length", "0")),
        etag=_xml.unquote_etag(headers.get("etag", "")),
        last_modified=_parse_http_date(headers.get("last-modified")),
        content_type=headers.get("content-type"),
        metadata=metadata,
        version_id=headers.get("x-amz-version-id"),
        checksums=checksums,
    )


def _total_size(headers: httpx.Headers, body_size: int) -> tuple[int, tuple[int, int] | None]:
    content_range = headers.get("content-range", "")
    # bytes FIRST-LAST/TOTAL
    if content_range.startswith("bytes ") and "/" in content_range:
        span, _, total = content_range[6:].partition("/")
        first, _, last = span.partition("-")
        try:
            bounds = (int(first), int(last))
        except ValueError:
            bounds = None
        return (int(total) if total.isdigit() else body_size), bounds
    return body_size, None


def _copy_source(bucket: str, key: str) -> str:
    return f"/{bucket}/{uri_encode_path(key)}"


class S3Client:
    """An asynchronous S3 client that signs its own requests (SigV4).

    Use it as ``async with S3Client(endpoint, access_key=..., secret_key=...) as s3:``.
    Transfers: bodies above ``multipart_threshold`` go as multipart uploads of
    ``part_size`` parts, ``max_concurrency`` at a time; a one-shot stream (an async
    iterator, a pipe) is buffered part by part, at most ``max_buffer_size`` bytes.
    Credentials default to the standard AWS environment variables.  Works with
    AWS S3, MinIO, SeaweedFS and other S3-compatible servers, path-style or
    virtual-hosted.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        region: str | None = None,
        addressing_style: AddressingStyle = "auto",
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_connections: int = 64,
        retry: RetryPolicy | None = None,
        payload_signing: PayloadSigning = "auto",
        checksum: ChecksumAlgorithm | None = "crc32",
        multipart_threshold: int = 8 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 8,
        max_buffer_size: int = 32 * MiB,
        copy_threshold: int = MAX_SINGLE_PUT,
        copy_part_size: int = 256 * MiB,
        verify: bool | str | ssl.SSLContext = True,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        region = region or "us-east-1"
        if endpoint is None:
            endpoint = f"https://s3.{region}.amazonaws.com"
        access_key = access_key if access_key is not None else os.environ.get("AWS_ACCESS_KEY_ID")
        secret_key = (
            secret_key if secret_key is not None else os.environ.get("AWS_SECRET_ACCESS_KEY")
        )
        if session_token is None and access_key == os.environ.get("AWS_ACCESS_KEY_ID"):
            session_token = os.environ.get("AWS_SESSION_TOKEN") or None
        if not access_key or not secret_key:
            raise ConfigurationError(
                "no credentials: pass access_key and secret_key, or set AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY"
            )
        if payload_signing not in ("auto", "signed", "unsigned"):
            raise ConfigurationError(
                f"payload_signing must be 'auto', 'signed' or 'unsigned', got {payload_signing!r}"
            )
        if checksum is not None and checksum not in ALGORITHMS:
            raise ConfigurationError(
                f"checksum must be 'crc32', 'sha256', 'md5' or None, got {checksum!r}"
            )
        if part_size < MIN_PART_SIZE or part_size > MAX_SINGLE_PUT:
            raise ConfigurationError("part_size must be between 5 MiB and 5 GiB")
        if multipart_threshold < 1 or multipart_threshold > MAX_SINGLE_PUT:
            raise ConfigurationError("multipart_threshold must be between 1 byte and 5 GiB")
        if max_buffer_size < 1:
            raise ConfigurationError("max_buffer_size must be at least 1 byte")
        if max_concurrency < 1 or max_connections < 1:
            raise ConfigurationError("max_concurrency and max_connections must be at least 1")
        if copy_part_size < MIN_PART_SIZE or copy_part_size > MAX_SINGLE_PUT:
            raise ConfigurationError("copy_part_size must be between 5 MiB and 5 GiB")
        self._endpoint = Endpoint.parse(endpoint, addressing_style)
        self._credentials = Credentials(access_key, secret_key, session_token)
        self.region = region
        self.retry = retry if retry is not None else RetryPolicy()
        self._signing: PayloadSigning = payload_signing
        self.checksum: ChecksumAlgorithm | None = checksum
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.max_buffer_size = max_buffer_size
        self.copy_threshold = copy_threshold
        self.copy_part_size = copy_part_size
        self._transport = Transport(
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            verify=verify,
            http_client=http_client,
        )
        self._clock_offset = 0.0
        self._state = _State.UNOPENED

    # --- construction and lifecycle ------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        settings: ConnectionSettings,
        *,
        options: ClientOptions | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> S3Client:
        """Build a client from parsed connection settings and ``ClientOptions``."""
        # Throwaway shim onto the current keyword __init__ (replaced with the options refactor).
        o = options if options is not None else ClientOptions()
        t = o.transfer
        return cls(
            settings.service_url,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            session_token=settings.session_token,
            region=settings.region,
            addressing_style=settings.addressing_style,
            timeout=o.timeout,
            connect_timeout=o.connect_timeout,
            max_connections=o.max_connections,
            retry=o.retry,
            payload_signing=o.payload_signing,
            checksum=o.checksum,
            verify=o.verify,
            multipart_threshold=t.multipart_threshold,
            part_size=t.part_size,
            max_concurrency=t.max_concurrency,
            max_buffer_size=t.max_buffer_size,
            copy_threshold=t.copy_threshold,
            copy_part_size=t.copy_part_size,
            http_client=http_client,
        )

    @classmethod
    def from_connection_string(cls, text: str, **options: object) -> S3Client:
        """Build a client from ``ServiceUrl=...; AccessKey=...; SecretKey=...; ...``."""
        http_client = options.pop("http_client", None)
        return cls.from_settings(
            parse_connection_string(text),
            options=ClientOptions().with_changes(**options),
            http_client=http_client,  # type: ignore[arg-type]
        )

    @property
    def endpoint(self) -> str:
        """The service URL."""
        return str(self._endpoint)

    def __repr__(self) -> str:
        return (
            f"S3Client(endpoint={self.endpoint!r}, region={self.region!r}, "
            f"access_key={self._credentials.access_key!r})"
        )

    async def __aenter__(self) -> S3Client:
        if self._state is not _State.UNOPENED:
            raise RuntimeError("an S3Client can be opened only once")
        self._state = _State.OPENED
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; safe to call more than once."""
        if self._state is not _State.CLOSED:
            self._state = _State.CLOSED
            await self._transport.aclose()

    # --- the request pipeline ------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._clock_offset)

    def _target(self, bucket: str | _Level, key: str | _Level) -> Target:
        """Where a request goes.  The level is explicit: anything in the key position
        that is not ``BUCKET`` is an object key and is validated, so a ``None`` key
        can never turn an object request into a bucket request (DeleteBucket ...)."""
        if bucket is SERVICE:
            return self._endpoint.target(None, None)
        validate_bucket_name(bucket)
        assert isinstance(bucket, str)
        if key is BUCKET:
            return self._endpoint.target(bucket, None)
        validate_key(key)
        assert isinstance(key, str)
        return self._endpoint.target(bucket, key)

    def _payload_signed(self) -> bool:
        if self._signing == "auto":
            return self._endpoint.scheme == "http"
        return self._signing == "signed"

    async def _send(
        self,
        method: str,
        bucket: str | _Level,
        key: str | _Level = BUCKET,
        *,
        query: Sequence[tuple[str, str]] = (),
        headers: Sequence[tuple[str, str]] = (),
        payload: Payload = EMPTY,
        stream: bool = False,
        ok: Iterable[int] = (200, 204, 206),
        error_in_200: bool = False,
    ) -> Response:
        """Send one S3 request with retries; return the response or raise a typed error.

        ``error_in_200``: the operation may answer 200 with an ``<Error>`` body
        (CopyObject, UploadPartCopy, CompleteMultipartUpload); that is an error
        too, and retried like any other.
        """
        if self._state is _State.CLOSED:
            raise RuntimeError("the S3Client is closed")
        target = self._target(bucket, key)
        error_bucket = bucket if isinstance(bucket, str) else None
        error_key = key if isinstance(key, str) else None
        query_string = canonical_query(query)
        ok_statuses = frozenset(ok)
        attempts = self.retry.max_attempts if payload.replayable else 1
        deadline = (
            None
            if self.retry.total_timeout is None
            else time.monotonic() + self.retry.total_timeout
        )
        attempt = 0
        while True:
            attempt += 1
            base = [
                ("host", target.host_header),
                *headers,
                *payload.headers,
            ]
            signed = sign_headers(
                method,
                target.path,
                query,
                base,
                payload.payload_hash,
                self._credentials,
                self.region,
                self._now(),
            )
            sent = [*base[1:], *signed.headers, ("user-agent", _USER_AGENT)]
            sent.append(("accept-encoding", "identity"))
            key_bytes = signing_key(
                self._credentials.secret_key, signed.amz_date[:8], self.region, "s3"
            )
            try:
                response = await self._transport.send(
                    method,
                    target,
                    query_string,
                    sent,
                    payload.open(signed, key_bytes),
                    stream=stream,
                )
                logger.debug(
                    "%s %s%s -> %d (attempt %d)",
                    method,
                    target.host_header,
                    target.path,
                    response.status_code,
                    attempt,
                )
                if response.status_code in ok_statuses:
                    if error_in_200 and _xml.is_error_document(response.content):
                        raise self._error_in_body(response, error_bucket, error_key)
                    return response
                raise await self._error_for(response, error_bucket, error_key, stream=stream)
            except S3Error as error:
                if isinstance(error, RequestTimeTooSkewed):
                    self._correct_clock(error)
                retry = attempt < attempts and is_retryable(error)
                if retry and deadline is not None:
                    retry = time.monotonic() < deadline
                if not retry:
                    raise
                delay = self.retry.delay(attempt)
                logger.info(
                    "retrying %s %s%s in %.2fs after attempt %d failed: %s",
                    method,
                    target.host_header,
                    target.path,
                    delay,
                    attempt,
                    error,
                )
            await anyio.sleep(delay)

    async def _error_for(
        self, response: Response, bucket: str | None, key: str | None, *, stream: bool
    ) -> ServiceError:
        what = f"{response.request.method} error body"
        body = await Transport.read_body(response, what) if stream else response.content
        info = _xml.parse_error(body) if body else None
        request_id = response.headers.get("x-amz-request-id")
        if info is not None:
            code, message = info.code, info.message or info.code
            request_id = info.request_id or request_id
            host_id = info.host_id
        else:
            status = response.status_code
            if status == 404 and key is not None:
                code = "NoSuchKey"
            elif status == 404 and bucket is not None:
                code = "NoSuchBucket"
            else:
                code = code_for_status(status)
            message, host_id = response.reason_phrase or code, response.headers.get("x-amz-id-2")
        error = error_class_for_code(code)(
            code,
            message,
            status=response.status_code,
            request_id=request_id,
            host_id=host_id,
            bucket=bucket,
            key=key,
        )
        error.server_date = _parse_http_date(response.headers.get("date"))  # type: ignore[attr-defined]
        return error

    @staticmethod
    def _error_in_body(response: Response, bucket: str | None, key: str | None) -> ServiceError:
        info = _xml.parse_error(response.content)
        code = info.code if info else "InternalError"
        return error_class_for_code(code)(
            code,
            (info.message if info else "") or "error document in a 200 response",
            status=response.status_code,
            request_id=(info.request_id if info else None)
            or response.headers.get("x-amz-request-id"),
            bucket=bucket,
            key=key,
        )

    def _correct_clock(self, error: ServiceError) -> None:
        server_date: datetime | None = getattr(error, "server_date", None)
        if server_date is not None:
            self._clock_offset = (server_date - datetime.now(UTC)).total_seconds()

    # --- objects -------------------------------------------------------------------

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: object,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_length: int | None = None,
    ) -> PutObjectResult:
        """Upload an object from bytes, a file path, a binary file or an async iterable.

        The body is streamed, never held whole in memory.  Above
        ``multipart_threshold`` (or when the length is unknown and the body is
        longer than that) the upload becomes a multipart upload with parts sent
        concurrently; it is aborted if anything fails or the task is cancelled.
        """
        validate_bucket_name(bucket)
        validate_key(key)
        extra = self._object_headers(content_type, metadata)
        source = await make_source(body, content_length=content_length)
        try:
            length = source.length
            if isinstance(source, StreamSource):
                # One-shot: buffer the first part; if the whole body fits under the
                # threshold it goes in one PUT, else that buffer is part 1.
                # Asking for more than the threshold tells whether the body goes on.
                first = max(self.multipart_threshold + 1, self.part_size)
                head = await source.take(first)
                size = head.length or 0
                if size <= self.multipart_threshold:
                    return await self._put_single(bucket, key, head, size, extra)
                return await upload_multipart(
                    self, bucket, key, source, extra, first_part=(head, first)
                )
            assert length is not None
            if length <= self.multipart_threshold:
                return await self._put_single(bucket, key, source, length, extra)
            return await upload_multipart(self, bucket, key, source, extra)
        finally:
            await source.aclose()

    def _object_headers(
        self, content_type: str | None, metadata: Mapping[str, str] | None
    ) -> list[tuple[str, str]]:
        headers = _validate_metadata(metadata)
        if content_type is not None:
            if not isinstance(content_type, str) or any(c in content_type for c in "\r\n"):
                raise InvalidRequestError("content_type must be a str without line breaks")
            headers.append(("content-type", content_type))
        return headers

    async def _put_single(
        self,
        bucket: str,
        key: str,
        source: Source,
        length: int,
        headers: Sequence[tuple[str, str]],
    ) -> PutObjectResult:
        payload = await payload_for_source(
            source, 0, length, signed=self._payload_signed(), checksum=self.checksum
        )
        response = await self._send("PUT", bucket, key, headers=headers, payload=payload)
        return PutObjectResult(
            etag=_xml.unquote_etag(response.headers.get("etag", "")),
            size=length,
            version_id=response.headers.get("x-amz-version-id"),
        )

    def get_object(
        self,
        bucket: str,
        key: str,
        *,
        range: Range | None = None,
    ) -> GetObjectCall:
        """Open an object for streaming: ``await`` it or use ``async with``.

        ``range=(first, last)`` selects inclusive byte positions (``last=None``:
        to the end).  Raises ``NoSuchKey`` / ``NoSuchBucket`` / ``InvalidRange``.
        """
        header = _validate_range(range)
        validate_bucket_name(bucket)
        validate_key(key)

        what = f"GET {bucket}/{key}"

        async def open_stream() -> ObjectStream:
            headers = [("range", header)] if header else [("x-amz-checksum-mode", "ENABLED")]
            response = await self._send("GET", bucket, key, headers=headers, stream=True)
            info = _info_from_headers(key, response.headers)
            total, bounds = _total_size(response.headers, info.size)
            verify = None
            if header is None:
                verify = verifiable_checksum(
                    dict(info.checksums), response.headers.get("x-amz-checksum-type")
                )
            last = bounds[1] if bounds else info.size - 1

            async def reopen(offset: int) -> AsyncIterator[bytes]:
                resume = [("range", f"bytes={offset}-{last}"), ("if-match", f'"{info.etag}"')]
                try:
                    again = await self._send("GET", bucket, key, headers=resume, stream=True)
                except PreconditionFailed as error:
                    raise IntegrityError(
                        f"{key!r} changed while it was being downloaded (ETag no longer matches)"
                    ) from error
                return Transport.iter_body(again, what)

            return ObjectStream(
                info,
                Transport.iter_body(response, what),
                total_size=total,
                content_range=bounds,
                verify=verify,
                reopen=reopen,
                max_resumes=self.retry.max_attempts - 1,
            )

        return GetObjectCall(open_stream)

    async def head_object(self, bucket: str, key: str) -> ObjectInfo:
        """Metadata of an object; raises ``NoSuchKey`` when it does not exist."""
        response = await self._send(
            "HEAD", bucket, key, headers=[("x-amz-checksum-mode", "ENABLED")]
        )
        return _info_from_headers(key, response.headers)

    async def object_exists(self, bucket: str, key: str) -> bool:
        """Whether the object exists."""
        try:
            await self.head_object(bucket, key)
        except NoSuchKey:
            return False
        return True

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> CopyObjectResult:
        """Server-side copy.  Metadata is copied unless ``metadata``/``content_type`` is given
        (then it is replaced).  Sources over ``copy_threshold`` (5 GiB) are copied in parts
        with UploadPartCopy."""
        for bucket, key in ((src_bucket, src_key), (dst_bucket, dst_key)):
            validate_bucket_name(bucket)
            validate_key(key)
        replace = metadata is not None or content_type is not None
        extra = self._object_headers(content_type, metadata)
        source = await self.head_object(src_bucket, src_key)
        if source.size > self.copy_threshold:
            if not replace:
                extra = self._object_headers(source.content_type, source.metadata)
            return await copy_multipart(
                self, src_bucket, src_key, dst_bucket, dst_key, source, extra
            )
        headers = [
            ("x-amz-copy-source", _copy_source(src_bucket, src_key)),
            ("x-amz-copy-source-if-match", f'"{source.etag}"'),
            ("x-amz-metadata-directive", "REPLACE" if replace else "COPY"),
            *extra,
        ]
        response = await self._send("PUT", dst_bucket, dst_key, headers=headers, error_in_200=True)
        result = _xml.parse_copy_object_result(response.content)
        return CopyObjectResult(
            etag=result.etag,
            last_modified=result.last_modified,
            version_id=response.headers.get("x-amz-version-id"),
        )

    async def delete_object(self, bucket: str, key: str) -> None:
        """Delete an object (deleting a missing key succeeds, as in S3)."""
        await self._send("DELETE", bucket, key)

    async def delete_objects(self, bucket: str, keys: Iterable[str]) -> DeleteObjectsResult:
        """Delete many keys, in batches of up to 1000; returns what was deleted and what failed."""
        validate_bucket_name(bucket)
        if isinstance(keys, str | bytes):
            raise InvalidRequestError("keys must be an iterable of keys, not a single str")
        # Every key is checked before the first batch is sent: a bad key at the end
        # must not leave the first thousand already deleted.
        all_keys = [validate_key(key) for key in keys]
        batch: list[str] = []
        deleted: list[str] = []
        errors: list[DeleteError] = []

        async def flush() -> None:
            body = _xml.build_delete_objects(batch, quiet=False)
            headers = [("content-md5", _content_md5(body)), ("content-type", "application/xml")]
            response = await self._send(
                "POST",
                bucket,
                query=[("delete", "")],
                headers=headers,
                payload=Payload.of_bytes(body, signed=True),
            )
            result = _xml.parse_delete_objects_result(response.content)
            deleted.extend(result.deleted)
            errors.extend(result.errors)
            batch.clear()

        for key in all_keys:
            batch.append(key)
            if len(batch) == 1000:
                await flush()
        if batch:
            await flush()
        return DeleteObjectsResult(deleted=tuple(deleted), errors=tuple(errors))

    @overload
    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: None = None,
        start_after: str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[ObjectSummary]: ...

    @overload
    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str,
        start_after: str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[ObjectSummary | CommonPrefix]: ...

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        start_after: str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[ObjectSummary | CommonPrefix]:
        """Iterate over every object under ``prefix`` (ListObjectsV2, all pages, key order).

        With a ``delimiter``, keys rolled up under a common prefix are yielded as
        ``CommonPrefix`` items instead.
        """
        validate_bucket_name(bucket)
        if not isinstance(prefix, str) or (
            delimiter is not None and not isinstance(delimiter, str)
        ):
            raise InvalidRequestError("prefix and delimiter must be str")
        if not 1 <= page_size <= 1000:
            raise InvalidRequestError("page_size must be between 1 and 1000")
        return self._list_objects(bucket, prefix, delimiter, start_after, page_size)

    async def _list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        page_size: int,
    ) -> AsyncIterator[ObjectSummary | CommonPrefix]:
        token: str | None = None
        while True:
            query = [
                ("list-type", "2"),
                ("encoding-type", "url"),
                ("max-keys", str(page_size)),
            ]
            if prefix:
                query.append(("prefix", prefix))
            if delimiter:
                query.append(("delimiter", delimiter))
            if token:
                query.append(("continuation-token", token))
            elif start_after:
                query.append(("start-after", start_after))
            response = await self._send("GET", bucket, query=query)
            page = _xml.parse_list_objects_v2(response.content)
            entries: Iterable[ObjectSummary | CommonPrefix] = heapq.merge(
                page.objects,
                page.prefixes,
                key=lambda e: e.key if isinstance(e, ObjectSummary) else e.prefix,
            )
            for entry in entries:
                yield entry
            if not page.is_truncated or not page.next_continuation_token:
                return
            token = page.next_continuation_token

    # --- buckets -------------------------------------------------------------------

    async def create_bucket(self, bucket: str, *, exist_ok: bool = False) -> None:
        """Create a bucket in the client's region; with ``exist_ok`` an existing bucket is fine."""
        validate_bucket_name(bucket)
        body = _xml.build_create_bucket_configuration(self.region)
        payload = Payload.of_bytes(body, signed=True) if body else EMPTY
        try:
            await self._send("PUT", bucket, payload=payload)
        except ServiceError as error:
            if not exist_ok or error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            if error.code == "BucketAlreadyExists" and not await self.bucket_exists(bucket):
                raise

    async def delete_bucket(self, bucket: str) -> None:
        """Delete an empty bucket."""
        await self._send("DELETE", bucket)

    async def bucket_exists(self, bucket: str) -> bool:
        """Whether the bucket exists (``AccessDenied`` is raised, not hidden)."""
        try:
            await self._send("HEAD", bucket)
        except ServiceError as error:
            if error.status == 404:
                return False
            raise
        return True

    async def list_buckets(self) -> list[str]:
        """Names of the buckets these credentials own."""
        response = await self._send("GET", SERVICE)
        return _xml.parse_list_buckets(response.content)

    async def put_bucket_lifecycle(self, bucket: str, rules: Sequence[LifecycleRule]) -> None:
        """Replace the bucket's lifecycle configuration with ``rules``."""
        body = _xml.build_lifecycle_configuration(rules)
        headers = [("content-md5", _content_md5(body)), ("content-type", "application/xml")]
        await self._send(
            "PUT",
            bucket,
            query=[("lifecycle", "")],
            headers=headers,
            payload=Payload.of_bytes(body, signed=True),
        )

    async def get_bucket_lifecycle(self, bucket: str) -> list[LifecycleRule]:
        """The bucket's expiration rules ([] when it has no lifecycle configuration)."""
        try:
            response = await self._send("GET", bucket, query=[("lifecycle", "")])
        except NoSuchLifecycleConfiguration:
            return []
        return _xml.parse_lifecycle_configuration(response.content)

    # --- multipart, low level ------------------------------------------------------

    async def create_multipart_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        checksum: ChecksumAlgorithm | None = None,
    ) -> str:
        """Start a multipart upload; returns its upload id.

        With ``checksum`` ("crc32" or "sha256") every part must be uploaded with the
        same ``checksum``; "md5" sends a Content-MD5 with each part instead.
        """
        headers = self._object_headers(content_type, metadata)
        return await self._create_multipart(bucket, key, headers, checksum)

    async def _create_multipart(
        self,
        bucket: str,
        key: str,
        headers: Sequence[tuple[str, str]],
        checksum: ChecksumAlgorithm | None,
        *,
        full_object: bool = False,
    ) -> str:
        if checksum in ("crc32", "sha256"):
            headers = [*headers, ("x-amz-checksum-algorithm", checksum.upper())]
        if full_object:
            headers = [*headers, ("x-amz-checksum-type", "FULL_OBJECT")]
        response = await self._send("POST", bucket, key, query=[("uploads", "")], headers=headers)
        return _xml.parse_initiate_multipart_upload(response.content)

    async def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: object,
        *,
        checksum: ChecksumAlgorithm | None = None,
    ) -> CompletedPart:
        """Upload one part (1..10000) of a multipart upload (``checksum`` as at creation)."""
        self._check_part_number(part_number)
        source = await make_source(body)
        try:
            part: Source = source
            if isinstance(source, StreamSource):
                part = await source.take(MAX_SINGLE_PUT + 1)
                if part.length is not None and part.length > MAX_SINGLE_PUT:
                    raise InvalidRequestError("a part cannot exceed 5 GiB")
            assert part.length is not None
            return await self._upload_part_range(
                bucket, key, upload_id, part_number, part, 0, part.length, checksum
            )
        finally:
            await source.aclose()

    async def _upload_part_range(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        source: Source,
        start: int,
        size: int,
        checksum: ChecksumAlgorithm | None,
    ) -> CompletedPart:
        payload = await payload_for_source(
            source, start, size, signed=self._payload_signed(), checksum=checksum
        )
        response = await self._send(
            "PUT",
            bucket,
            key,
            query=[("partNumber", str(part_number)), ("uploadId", upload_id)],
            payload=payload,
        )
        etag = _xml.unquote_etag(response.headers.get("etag", ""))
        if checksum not in ("crc32", "sha256"):
            return CompletedPart(part_number, etag)
        value = payload.sent_checksum or response.headers.get(f"x-amz-checksum-{checksum}")
        return CompletedPart(part_number, etag, value, checksum)

    @staticmethod
    def _check_part_number(part_number: int) -> None:
        if isinstance(part_number, bool) or not isinstance(part_number, int):
            raise InvalidRequestError("part_number must be an int")
        if not 1 <= part_number <= MAX_PARTS:
            raise InvalidRequestError(f"part_number must be 1..10000, got {part_number}")

    async def upload_part_copy(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        range: Range | None = None,
        source_etag: str | None = None,
    ) -> CompletedPart:
        """Copy (a byte range of) an existing object into a part of a multipart upload."""
        self._check_part_number(part_number)
        validate_bucket_name(src_bucket)
        validate_key(src_key)
        headers = [("x-amz-copy-source", _copy_source(src_bucket, src_key))]
        if range is not None:
            spec = _validate_range(range)
            if range[1] is None:
                raise InvalidRequestError("a copy range needs an explicit last byte")
            headers.append(("x-amz-copy-source-range", str(spec)))
        if source_etag:
            headers.append(("x-amz-copy-source-if-match", f'"{source_etag}"'))
        response = await self._send(
            "PUT",
            bucket,
            key,
            query=[("partNumber", str(part_number)), ("uploadId", upload_id)],
            headers=headers,
            error_in_200=True,
        )
        return CompletedPart(part_number, _xml.parse_copy_part_result(response.content))

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        *,
        full_object_crc32: str | None = None,
    ) -> PutObjectResult:
        """Assemble the uploaded parts into the object.

        ``full_object_crc32`` (base64) states the whole object's CRC32 for an upload
        created with ``x-amz-checksum-type: FULL_OBJECT``; the server checks it.
        """
        body = _xml.build_complete_multipart_upload(parts)
        headers = [("content-type", "application/xml")]
        if full_object_crc32 is not None:
            headers += [
                ("x-amz-checksum-crc32", full_object_crc32),
                ("x-amz-checksum-type", "FULL_OBJECT"),
            ]
        response = await self._send(
            "POST",
            bucket,
            key,
            query=[("uploadId", upload_id)],
            headers=headers,
            payload=Payload.of_bytes(body, signed=True),
            error_in_200=True,
        )
        etag = _xml.parse_complete_multipart_upload(response.content)
        return PutObjectResult(
            etag=etag,
            size=-1,
            version_id=response.headers.get("x-amz-version-id"),
            parts=len(parts),
        )

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Abort a multipart upload and discard its parts."""
        await self._send("DELETE", bucket, key, query=[("uploadId", upload_id)])

    async def list_multipart_uploads(
        self, bucket: str, *, prefix: str = ""
    ) -> AsyncIterator[MultipartUpload]:
        """Iterate over the multipart uploads in progress under ``prefix``."""
        key_marker: str | None = None
        upload_marker: str | None = None
        while True:
            query = [("uploads", "")]
            if prefix:
                query.append(("prefix", prefix))
            if key_marker:
                query.append(("key-marker", key_marker))
            if upload_marker:
                query.append(("upload-id-marker", upload_marker))
            response = await self._send("GET", bucket, query=query)
            page = _xml.parse_list_multipart_uploads(response.content)
            for upload in page.uploads:
                yield upload
            if not page.is_truncated:
                return
            key_marker, upload_marker = page.next_key_marker, page.next_upload_id_marker

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> list[PartInfo]:
        """The parts uploaded so far to a multipart upload."""
        parts: list[PartInfo] = []
        marker: int | None = None
        while True:
            query = [("uploadId", upload_id)]
            if marker:
                query.append(("part-number-marker", str(marker)))
            response = await self._send("GET", bucket, key, query=query)
            page = _xml.parse_list_parts(response.content)
            parts.extend(page.parts)
            if not page.is_truncated or page.next_part_number_marker is None:
                return parts
            marker = page.next_part_number_marker

    # --- presigned URLs ------------------------------------------------------------

    def _presign(
        self,
        method: str,
        bucket: str,
        key: str,
        expires_in: int,
        headers: Sequence[tuple[str, str]] = (),
    ) -> str:
        target = self._target(bucket, key)
        params = presign_query(
            method,
            target.path,
            [],
            [("host", target.host_header), *headers],
            self._credentials,
            self.region,
            self._now(),
            expires_in,
        )
        return f"{target.url}?{canonical_query(params)}"

    def presign_get(self, bucket: str, key: str, *, expires_in: int = 3600) -> str:
        """A URL that lets anyone GET the object for ``expires_in`` seconds (1 s to 7 days)."""
        return self._presign("GET", bucket, key, expires_in)

    def presign_put(
        self,
        bucket: str,
        key: str,
        *,
        expires_in: int = 3600,
        content_type: str | None = None,
    ) -> str:
        """A URL that lets anyone PUT the object for ``expires_in`` seconds.

        With ``content_type``, the uploader must send exactly that Content-Type.
        """
        headers = [("content-type", content_type)] if content_type else []
        return self._presign("PUT", bucket, key, expires_in, headers)

    # --- helpers for _multipart ----------------------------------------------------

    def plan_parts(self, length: int) -> int:
        """Part size for an object of ``length`` bytes (grown to stay within 10,000 parts)."""
        needed = math.ceil(length / MAX_PARTS)
        size = max(self.part_size, needed)
        return ((size + MiB - 1) // MiB) * MiB
