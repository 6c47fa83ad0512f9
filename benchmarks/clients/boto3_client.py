"""boto3, as most Python code talks to S3: a synchronous client called from threads.

``boto3.client("s3")`` with path addressing and ``max_pool_connections=32``; each
call runs in a 32-thread pool (``run_in_executor``), so 32 small requests are in
flight as with the async clients.  Large transfers use s3transfer
(``upload_file`` / ``download_fileobj``: 8 MiB parts, 10 threads, its defaults).
It takes no async generator as a body.

The network profile's file transfers are ``download_file`` / ``upload_file`` with
``TransferConfig(multipart_chunksize=multipart_threshold=part_size,
max_concurrency=N, use_threads=True, preferred_transfer_client="classic")``: the
classic s3transfer, never the CRT that boto3 picks by itself where awscrt is
installed on an instance type it knows.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from .base import BenchClient, Unsupported

__all__ = ["Boto3Client"]

_T = TypeVar("_T")


class _Counter:
    """A write-only file that counts what s3transfer writes into it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def _transfer_config(part_size: int, connections: int) -> TransferConfig:
    return TransferConfig(
        multipart_threshold=part_size,
        multipart_chunksize=part_size,
        max_concurrency=connections,
        use_threads=True,
        preferred_transfer_client="classic",
    )


class Boto3Client(BenchClient):
    name = "boto3"
    unsupported: ClassVar[dict[str, str]] = {
        "upload-generator": "boto3 takes files and byte strings, not async generators",
    }
    settings: ClassVar[str] = (
        "boto3 defaults, path addressing, max_pool_connections=32, calls in a 32-thread "
        "pool; s3transfer upload_file/download_fileobj (8 MiB parts, 10 threads)"
    )

    async def open(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=32)
        self._s3 = boto3.client(
            "s3",
            endpoint_url=self.server.endpoint,
            aws_access_key_id=self.server.access_key,
            aws_secret_access_key=self.server.secret_key,
            region_name=self.server.region,
            config=Config(s3={"addressing_style": "path"}, max_pool_connections=32),
        )

    async def close(self) -> None:
        self._pool.shutdown(wait=True)

    async def _call(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], size: int) -> None:
        raise Unsupported(self.unsupported["upload-generator"])

    async def put_file(self, key: str, path: Path, size: int) -> None:
        await self._call(self._s3.upload_file, str(path), self.bucket, key)

    async def get_stream(self, key: str) -> int:
        counter = _Counter()
        await self._call(self._s3.download_fileobj, self.bucket, key, counter)
        return counter.size

    async def download_file(self, key: str, path: Path, part_size: int, connections: int) -> None:
        config = _transfer_config(part_size, connections)
        await self._call(self._s3.download_file, self.bucket, key, str(path), Config=config)

    async def upload_file(
        self, key: str, path: Path, size: int, part_size: int, connections: int
    ) -> None:
        config = _transfer_config(part_size, connections)
        await self._call(self._s3.upload_file, str(path), self.bucket, key, Config=config)

    async def put_small(self, key: str, data: bytes) -> None:
        await self._call(self._s3.put_object, Bucket=self.bucket, Key=key, Body=data)

    async def get_small(self, key: str) -> int:
        def get() -> int:
            return len(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

        return await self._call(get)

    async def copy(self, source: str, destination: str) -> None:
        await self._call(
            self._s3.copy_object,
            Bucket=self.bucket,
            Key=destination,
            CopySource={"Bucket": self.bucket, "Key": source},
        )
