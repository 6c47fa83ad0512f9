"""obstore (Rust ``object_store``), with its defaults.

``S3Store`` with path-style requests and ``allow_http``; uploads with
``put_async`` (multipart above 5 MiB chunks, 12 in flight: its defaults) from the
async generator or the ``Path``; downloads with ``get_async(...).stream()``
(default 10 MiB minimum chunks); copies with ``copy_async``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import obstore
from obstore.store import S3Store

from .base import BenchClient

__all__ = ["ObstoreClient"]


class ObstoreClient(BenchClient):
    name = "obstore"
    settings: ClassVar[str] = (
        "defaults (5 MiB parts, 12 in flight, signed payloads), "
        "virtual_hosted_style_request=False, allow_http"
    )

    async def open(self) -> None:
        self._store = S3Store(
            self.bucket,
            config={
                "endpoint": self.server.endpoint,
                "access_key_id": self.server.access_key,
                "secret_access_key": self.server.secret_key,
                "region": self.server.region,
                "virtual_hosted_style_request": False,
            },
            client_options={"allow_http": True},
        )

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], size: int) -> None:
        await obstore.put_async(self._store, key, chunks)

    async def put_file(self, key: str, path: Path, size: int) -> None:
        await obstore.put_async(self._store, key, path)

    async def get_stream(self, key: str) -> int:
        response = await obstore.get_async(self._store, key)
        received = 0
        async for chunk in response.stream():
            received += len(chunk)
        return received

    async def get_small(self, key: str) -> int:
        response = await obstore.get_async(self._store, key)
        return len(await response.bytes_async())

    async def copy(self, source: str, destination: str) -> None:
        await obstore.copy_async(self._store, source, destination)

    async def put_small(self, key: str, data: bytes) -> None:
        await obstore.put_async(self._store, key, data)
