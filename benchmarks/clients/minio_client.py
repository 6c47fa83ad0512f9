"""miniopy-async, with its defaults except a pool as large as the small-object concurrency.

Uploads from the generator use ``put_object(length=-1, part_size=10 MiB)`` (an
unknown length needs an explicit part size; not 8 MiB like the other clients,
because miniopy-async 1.23 fails with an IndexError when the stream's length is
an exact multiple of the part size), with the default 3 parallel part uploads.
File uploads use ``fput_object`` (default part size).  Downloads stream
``response.content.iter_chunked(1 MiB)``.
The aiohttp connector limit is raised from 10 to the small-object concurrency,
keeping the library's own retry wrapper and timeouts.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, TCPConnector
from aiohttp_retry import ExponentialRetry, RetryClient
from miniopy_async.api import Minio
from miniopy_async.commonconfig import CopySource

from benchmarks.config import MiB

from .base import BenchClient

__all__ = ["MinioClient"]

PART_SIZE = 10 * MiB  # not 8: miniopy-async fails when the length is a multiple of it
READ_SIZE = MiB


class _AsyncReader:
    """A ``read(size)`` view of an async generator, as miniopy-async's put_object wants."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    async def read(self, size: int) -> bytes:
        if not self._pending:
            try:
                self._pending = await anext(self._chunks)
            except StopAsyncIteration:
                return b""
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


class MinioClient(BenchClient):
    name = "miniopy-async"
    settings: ClassVar[str] = (
        "defaults (3 parallel parts), connector limit 32; generator upload with "
        "length=-1, part_size=10 MiB; downloads iter_chunked(1 MiB)"
    )

    async def open(self) -> None:
        url = urlsplit(self.server.endpoint)
        session = RetryClient(
            ClientSession(
                connector=TCPConnector(limit=max(10, self.spec.sizes.concurrency)),
                timeout=ClientTimeout(connect=300, sock_read=300),
            ),
            retry_options=ExponentialRetry(attempts=5, factor=0.2, statuses={500, 502, 503, 504}),
        )
        self._minio = Minio(
            url.netloc,
            access_key=self.server.access_key,
            secret_key=self.server.secret_key,
            secure=url.scheme == "https",
            region=self.server.region,
            session=session,
        )

    async def close(self) -> None:
        await self._minio.close_session()  # type: ignore[no-untyped-call]

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], size: int) -> None:
        reader: Any = _AsyncReader(chunks)  # it awaits read() when it returns a coroutine
        await self._minio.put_object(self.bucket, key, reader, length=-1, part_size=PART_SIZE)

    async def put_file(self, key: str, path: Path, size: int) -> None:
        await self._minio.fput_object(self.bucket, key, str(path))

    async def get_stream(self, key: str) -> int:
        response = await self._minio.get_object(self.bucket, key)
        received = 0
        try:
            async for chunk in response.content.iter_chunked(READ_SIZE):
                received += len(chunk)
        finally:
            response.release()
        return received

    async def copy(self, source: str, destination: str) -> None:
        await self._minio.copy_object(self.bucket, destination, CopySource(self.bucket, source))

    async def put_small(self, key: str, data: bytes) -> None:
        await self._minio.put_object(self.bucket, key, io.BytesIO(data), len(data))
