"""awscrt: the AWS Common Runtime's S3 client (boto3's fast path), driven from asyncio.

``awscrt.s3.S3Client`` over plain http (``tls_mode`` DISABLED), path-style requests
with a ``Host`` header that carries the port; 8 MiB parts and a 10 Gbps throughput
target, so large GETs and PUTs are split into parallel ranged parts as the CRT
plans them.  Its futures are awaited with ``asyncio.wrap_future``.  The CRT reads
request bodies from a file or a synchronous stream, so an async generator upload
is not something it can take.

The network profile's file transfers are GET_OBJECT with ``recv_filepath`` and
PUT_OBJECT with ``send_filepath``, each with the run's ``part_size`` (and
``multipart_upload_threshold``) and ``max_active_connections_override=N``: the
CRT's own cap on the connections one meta request keeps active (without it the
CRT sizes its pool from the throughput target).

By default the CRT sends uploads with no checksum.  The variant
``awscrt+checksum=crc32`` asks it for a CRC32 in an aws-chunked trailer (its
``S3ChecksumConfig``), the same work s3lite does by default: a like-for-like row.
"""

from __future__ import annotations

import asyncio
import inspect
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from awscrt.auth import AwsCredentialsProvider
from awscrt.http import HttpHeaders, HttpRequest
from awscrt.io import ClientBootstrap, DefaultHostResolver, EventLoopGroup
from awscrt.s3 import (
    S3ChecksumAlgorithm,
    S3ChecksumConfig,
    S3ChecksumLocation,
    S3Client,
    S3RequestTlsMode,
    S3RequestType,
)

from .base import BenchClient, Unsupported

__all__ = ["AwscrtClient"]

_PART = 8 * 1024 * 1024
_ALGORITHMS = {"crc32": S3ChecksumAlgorithm.CRC32, "crc32c": S3ChecksumAlgorithm.CRC32C}


def _require_connection_cap() -> None:
    """Older awscrt releases cannot bound a meta request's connections: no row then."""
    if "max_active_connections_override" not in inspect.signature(S3Client.make_request).parameters:
        raise Unsupported("this awscrt has no max_active_connections_override")


class AwscrtClient(BenchClient):
    name = "awscrt"
    unsupported: ClassVar[dict[str, str]] = {
        "upload-generator": "the CRT reads bodies from files or synchronous streams, "
        "not from an async generator",
    }
    settings: ClassVar[str] = (
        "awscrt.s3.S3Client, tls_mode DISABLED, part_size 8 MiB, throughput target 10 Gbps, "
        "path-style with Host:port; futures awaited via asyncio.wrap_future"
    )

    async def open(self) -> None:
        parts = urlsplit(self.server.endpoint)
        self._host = parts.netloc
        group = EventLoopGroup()
        bootstrap = ClientBootstrap(group, DefaultHostResolver(group))
        self._client = S3Client(
            bootstrap=bootstrap,
            region=self.server.region,
            credential_provider=AwsCredentialsProvider.new_static(
                self.server.access_key, self.server.secret_key
            ),
            tls_mode=S3RequestTlsMode.DISABLED,
            part_size=_PART,
            throughput_target_gbps=10.0,
        )
        checksum = self.options.get("checksum")
        self._upload_options: dict[str, Any] = {}
        if checksum is not None:
            if checksum not in _ALGORITHMS:
                raise ValueError(f"awscrt checksum must be one of {sorted(_ALGORITHMS)}")
            self._upload_options["checksum_config"] = S3ChecksumConfig(
                algorithm=_ALGORITHMS[checksum], location=S3ChecksumLocation.TRAILER
            )

    def _request(
        self, method: str, key: str, *, length: int | None = None, body: Any = None
    ) -> HttpRequest:
        headers = HttpHeaders([("Host", self._host)])
        if length is not None:
            headers.add("Content-Length", str(length))
        return HttpRequest(method, f"/{self.bucket}/{quote(key)}", headers, body)

    async def _run(self, kind: S3RequestType, request: HttpRequest, **options: Any) -> None:
        done = self._client.make_request(type=kind, request=request, **options)
        await asyncio.wrap_future(done.finished_future)

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], size: int) -> None:
        raise Unsupported(self.unsupported["upload-generator"])

    async def put_file(self, key: str, path: Path, size: int) -> None:
        request = self._request("PUT", key, length=size)
        await self._run(
            S3RequestType.PUT_OBJECT, request, send_filepath=str(path), **self._upload_options
        )

    async def get_stream(self, key: str) -> int:
        received = 0

        def on_body(chunk: bytes, offset: int, **_: Any) -> None:
            nonlocal received
            received += len(chunk)

        await self._run(S3RequestType.GET_OBJECT, self._request("GET", key), on_body=on_body)
        return received

    async def download_file(self, key: str, path: Path, part_size: int, connections: int) -> None:
        _require_connection_cap()
        await self._run(
            S3RequestType.GET_OBJECT,
            self._request("GET", key),
            recv_filepath=str(path),
            part_size=part_size,
            max_active_connections_override=connections,
        )

    async def upload_file(
        self, key: str, path: Path, size: int, part_size: int, connections: int
    ) -> None:
        _require_connection_cap()
        await self._run(
            S3RequestType.PUT_OBJECT,
            self._request("PUT", key, length=size),
            send_filepath=str(path),
            part_size=part_size,
            multipart_upload_threshold=part_size,
            max_active_connections_override=connections,
            **self._upload_options,
        )

    async def put_small(self, key: str, data: bytes) -> None:
        request = self._request("PUT", key, length=len(data), body=io.BytesIO(data))
        await self._run(S3RequestType.PUT_OBJECT, request, **self._upload_options)

    async def copy(self, source: str, destination: str) -> None:
        request = self._request("PUT", destination)
        request.headers.add("x-amz-copy-source", f"/{self.bucket}/{quote(source)}")
        # This awscrt has no COPY_OBJECT request type: a DEFAULT request named CopyObject.
        await self._run(S3RequestType.DEFAULT, request, operation_name="CopyObject")
