"""s3lite, with its default settings (options only when a variant asks for them).

``--clients s3lite`` is the client under test, untouched.  Variants for tuning
experiments append options to the name: ``s3lite+part_size=16MiB+max_concurrency=16``
or ``s3lite+payload_signing=unsigned``; they are never part of a default run.

``backend=trio`` runs the worker on trio instead of asyncio.  Two more options are
experiments rather than ``S3Client`` arguments: ``engine=httpx``
runs s3lite on httpx (a caller's own ``httpx.AsyncClient`` with the same pool size)
instead of its own HTTP engine, so one run shows what the engine buys; and
``http_read_size=1MiB`` raises httpcore's per-read size (64 KiB) for that variant.

The network profile's file transfers are ``S3Client.download_file`` /
``upload_file`` with ``part_size`` and ``max_concurrency`` set to the run's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import httpx

from benchmarks.config import parse_size
from s3lite import S3Client

from .base import BenchClient, Unsupported

__all__ = ["S3liteClient"]

_EXPERIMENTS = {"http_read_size", "engine", "backend"}


def _value(text: str) -> object:
    """``16MiB`` / ``8`` -> int, ``none`` -> None, ``true``/``false`` -> bool, else the text."""
    lowered = text.lower()
    if lowered in ("none", "true", "false"):
        return {"none": None, "true": True, "false": False}[lowered]
    try:
        return parse_size(text)
    except ValueError:
        return text


def client_options(options: dict[str, str]) -> dict[str, object]:
    """Variant options as ``S3Client`` keyword arguments (``S3Client`` validates them)."""
    return {name: _value(value) for name, value in options.items() if name not in _EXPERIMENTS}


class S3liteClient(BenchClient):
    name = "s3lite"
    settings: ClassVar[str] = (
        "S3Client defaults (its own HTTP/1.1 engine, part_size 8 MiB, max_concurrency 8, "
        "max_connections 64, payload_signing='auto': signed aws-chunked over http), "
        "addressing_style='path'"
    )

    async def open(self) -> None:
        if "http_read_size" in self.options:
            from httpcore._async.http11 import AsyncHTTP11Connection

            AsyncHTTP11Connection.READ_NUM_BYTES = parse_size(self.options["http_read_size"])
        self._http: httpx.AsyncClient | None = None
        if self.options.get("engine") == "httpx":
            self._http = httpx.AsyncClient(
                timeout=60.0,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
                trust_env=False,
            )
        self._s3 = S3Client(
            self.server.endpoint,
            http_client=self._http,
            access_key=self.server.access_key,
            secret_key=self.server.secret_key,
            region=self.server.region,
            addressing_style="path",
            **client_options(self.options),  # type: ignore[arg-type]
        )
        await self._s3.__aenter__()

    async def close(self) -> None:
        await self._s3.aclose()
        if self._http is not None:
            await self._http.aclose()

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], size: int) -> None:
        await self._s3.put_object(self.bucket, key, chunks)

    async def put_file(self, key: str, path: Path, size: int) -> None:
        await self._s3.put_object(self.bucket, key, path)

    async def get_stream(self, key: str) -> int:
        received = 0
        async with self._s3.get_object(self.bucket, key) as body:
            async for chunk in body:
                received += len(chunk)
        return received

    def _transfer(self, name: str) -> Any:
        method = getattr(self._s3, name, None)
        if method is None:
            raise Unsupported(f"this s3lite has no S3Client.{name} yet")
        return method

    async def download_file(self, key: str, path: Path, part_size: int, connections: int) -> None:
        download = self._transfer("download_file")
        await download(self.bucket, key, path, part_size=part_size, max_concurrency=connections)

    async def upload_file(
        self, key: str, path: Path, size: int, part_size: int, connections: int
    ) -> None:
        upload = self._transfer("upload_file")
        await upload(self.bucket, key, path, part_size=part_size, max_concurrency=connections)

    async def copy(self, source: str, destination: str) -> None:
        await self._s3.copy_object(self.bucket, source, self.bucket, destination)

    async def put_small(self, key: str, data: bytes) -> None:
        await self._s3.put_object(self.bucket, key, data)
