"""The request pipeline: target -> sign -> send -> translate errors -> retry.

Rules of this module:
- Every S3 request goes through ``Pipeline.send``; nothing else talks to the
  transport.  Each attempt is signed afresh with the skew-corrected time and
  opens its payload afresh, so a retried body is re-read from its start.
- S3's error answers become exceptions here and nowhere else
  (``service_error``): an error status, or a 2xx answer carrying an ``<Error>``
  document (CopyObject, UploadPartCopy, CompleteMultipartUpload do that).
- ``RequestTimeTooSkewed`` corrects the clock offset from the server's ``Date``
  before the request is retried.
- Log records name method, host, path, status and attempts; never headers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import anyio

from . import _xml
from ._checksum_policy import ServerFeatures
from ._credential_cache import CredentialCache
from ._exceptions import (
    NoSuchKey,
    NoSuchUpload,
    RequestTimeTooSkewed,
    S3Error,
    ServiceError,
    code_for_status,
    error_class_for_code,
)
from ._http import Headers, HttpRequest, Response, Transport, read_limited
from ._options import ClientOptions
from ._requests import S3Request, parse_http_date
from ._retry import RetryBudget
from ._signing import canonical_query, presign_query, sign_headers, signing_key
from ._urls import Endpoint, Target
from ._version import __version__

__all__ = ["USER_AGENT", "Pipeline", "logger", "no_such_upload", "service_error"]

logger = logging.getLogger("s3lite")
USER_AGENT = f"s3lite/{__version__}"
_BODY_METHODS = frozenset({"PUT", "POST"})
_REGION_ERRORS = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "TemporaryRedirect"}
)
_FIXED_HEADERS = (("user-agent", USER_AGENT), ("accept-encoding", "identity"))


def service_error(
    status: int,
    reason: str,
    headers: Headers,
    body: bytes,
    *,
    bucket: str | None,
    key: str | None,
) -> ServiceError:
    """The typed exception for one S3 error answer (its ``<Error>`` document when it
    has one; else its status, a 404 naming the key or bucket it was about)."""
    info = _xml.parse_error(body) if body else None
    request_id = headers.get("x-amz-request-id")
    host_id = headers.get("x-amz-id-2")
    if info is not None:
        code, message = info.code, info.message or info.code
        request_id = info.request_id or request_id
        host_id = info.host_id or host_id
    elif 200 <= status < 300:  # an <Error> root without a <Code>
        code, message = "InternalError", "error document in a successful response"
    else:
        if status == 404 and key is not None:
            code = "NoSuchKey"
        elif status == 404 and bucket is not None:
            code = "NoSuchBucket"
        else:
            code = code_for_status(status)
        message = reason or code
    return error_class_for_code(code)(
        code,
        message,
        status=status,
        request_id=request_id,
        host_id=host_id,
        bucket=bucket,
        key=key,
        server_date=parse_http_date(headers.get("date")),
        bucket_region=headers.get("x-amz-bucket-region") or (info.region if info else None),
    )


def no_such_upload(error: ServiceError) -> NoSuchUpload:
    """``NoSuchUpload`` for an answer that means it under another code (NoSuchKey, or a
    5xx to completing an upload the server no longer knows)."""
    return NoSuchUpload(
        "NoSuchUpload",
        f"the upload does not exist (the server answered {error.code}: {error.message})",
        status=error.status,
        request_id=error.request_id,
        host_id=error.host_id,
        bucket=error.bucket,
        key=error.key,
        server_date=error.server_date,
    )


def _body_length(headers: Sequence[tuple[str, str]]) -> int:
    for name, value in headers:
        if name == "content-length":
            return int(value)
    return 0


class Pipeline:
    """Sends ``S3Request`` values to one endpoint as one principal, with retries."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        credentials: CredentialCache,
        region: str,
        options: ClientOptions,
        transport: Transport,
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.options = options
        self._credentials = credentials
        self._transport = transport
        self._clock_offset = 0.0
        self._closed = False
        self.features = ServerFeatures(endpoint.host)
        """What this client has learnt its server lacks (``_checksum_policy``)."""
        self._bucket_regions: dict[str, str] = {}

    @property
    def access_key(self) -> str | None:
        """The access key requests are signed with (not a secret); None until the
        credential chain has found one."""
        current = self._credentials.current
        return current.access_key if current is not None else None

    @property
    def payload_signed(self) -> bool:
        """Whether bodies are signed: over plain http by default, as the option says."""
        signing = self.options.payload_signing
        if signing == "auto":
            return self.endpoint.scheme == "http"
        return signing == "signed"

    def now(self) -> datetime:
        """The current time as the server sees it (corrected after a skew error)."""
        now = datetime.now(UTC)
        return now + timedelta(seconds=self._clock_offset) if self._clock_offset else now

    def region_of(self, bucket: str | None) -> str:
        """The region requests for ``bucket`` are signed for: the client's, or the one the
        server named for that bucket."""
        return self._bucket_regions.get(bucket, self.region) if bucket else self.region

    def target(self, request: S3Request) -> Target:
        """Where ``request`` goes (on AWS, the regional host of the bucket's region)."""
        region = self.region_of(request.bucket)
        endpoint = self.endpoint if region == self.region else self.endpoint.in_region(region)
        return endpoint.target(request.bucket, request.key)

    def _follow_region(self, request: S3Request, error: ServiceError) -> bool:
        """Whether ``error`` says the bucket lives in another region (a redirect, or a
        signature scoped to the wrong region); if so the region is remembered."""
        region = error.bucket_region
        if (
            request.bucket is None
            or not region
            or region == self.region_of(request.bucket)
            or not (error.code in _REGION_ERRORS or error.status == 301)
        ):
            return False
        logger.info("bucket %s is in region %s; following it", request.bucket, region)
        self._bucket_regions[request.bucket] = region
        return True

    async def send(self, request: S3Request) -> Response:
        """Send ``request`` (retrying what may be retried); return its 2xx response or
        raise the typed error.  A streamed response's body is the caller's to close."""
        if self._closed:
            raise RuntimeError("the S3Client is closed")
        query = canonical_query(request.query)
        budget = RetryBudget(self.options.retry, replayable=request.payload.replayable)
        attempt = 0
        followed = False
        while True:
            attempt += 1
            target = self.target(request)
            try:
                response = await self._send_once(request, target, query)
                logger.debug(
                    "%s %s%s -> %d (attempt %d)",
                    request.method,
                    target.host_header,
                    target.path,
                    response.status,
                    attempt,
                )
                return await self._checked(request, response)
            except S3Error as error:
                if isinstance(error, RequestTimeTooSkewed):
                    self._correct_clock(error)
                if (
                    isinstance(error, ServiceError)
                    and not followed
                    and self._follow_region(request, error)
                    and request.payload.replayable
                ):
                    followed, attempt = True, attempt - 1
                    continue  # signed again for the bucket's region, at once
                delay = budget.delay_after(attempt, error)
                if delay is None:
                    raise
                logger.info(
                    "retrying %s %s%s in %.2fs after attempt %d failed: %s",
                    request.method,
                    target.host_header,
                    target.path,
                    delay,
                    attempt,
                    error,
                )
            await anyio.sleep(delay)

    async def _send_once(self, request: S3Request, target: Target, query: str) -> Response:
        payload = request.payload
        base = [("host", target.host_header), *request.headers, *payload.headers]
        if not payload.headers and request.method in _BODY_METHODS:
            base.append(("content-length", "0"))  # Ceph RGW: 411 to a bodiless PUT without it
        credentials = await self._credentials.get()
        region = self.region_of(request.bucket)
        signed = sign_headers(
            request.method,
            target.path,
            request.query,
            base,
            payload.payload_hash,
            credentials,
            region,
            self.now(),
        )
        key = signing_key(credentials.secret_key, signed.amz_date[:8], region, "s3")
        headers = [*base[1:], *signed.headers, *_FIXED_HEADERS]
        threshold = self.options.expect_continue
        if threshold is not None and _body_length(payload.headers) >= max(threshold, 1):
            headers.append(("expect", "100-continue"))  # not signed: a hop-by-hop hint
        http_request = HttpRequest(
            request.method, target, query, headers, payload.open(signed, key)
        )
        return await self._transport.send(http_request, stream=request.stream)

    async def _checked(self, request: S3Request, response: Response) -> Response:
        if response.status in request.ok:
            if response.body is None and _xml.is_error_document(response.content):
                raise self._error(request, response, response.content)
            return response
        body = response.content
        if response.body is not None:
            body = await read_limited(response.body)
        raise self._error(request, response, body)

    @staticmethod
    def _error(request: S3Request, response: Response, body: bytes) -> ServiceError:
        error = service_error(
            response.status,
            response.reason,
            response.headers,
            body,
            bucket=request.bucket,
            key=request.key,
        )
        if isinstance(error, NoSuchKey) and any(n == "uploadId" for n, _ in request.query):
            return no_such_upload(error)  # Ceph RGW answers NoSuchKey about an upload id
        return error

    def _correct_clock(self, error: ServiceError) -> None:
        if error.server_date is not None:
            self._clock_offset = (error.server_date - datetime.now(UTC)).total_seconds()

    def presign(
        self,
        method: str,
        bucket: str,
        key: str,
        expires_in: int,
        headers: Sequence[tuple[str, str]] = (),
    ) -> str:
        """A presigned URL for one object request (query-string SigV4)."""
        target = self.target(S3Request(method, bucket, key))
        params = presign_query(
            method,
            target.path,
            [],
            [("host", target.host_header), *headers],
            self._credentials.for_presigning(),
            self.region_of(bucket),
            self.now(),
            expires_in,
        )
        return f"{target.url}?{canonical_query(params)}"

    async def aclose(self) -> None:
        """Close the transport; later sends raise ``RuntimeError``."""
        if not self._closed:
            self._closed = True
            await self._transport.aclose()
