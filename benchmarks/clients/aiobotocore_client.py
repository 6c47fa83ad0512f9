"""aiobotocore, with botocore's defaults and s3transfer's transfer settings.

aiobotocore has no managed transfer (no ``upload_fileobj``), so large uploads
are written the way its users write them: ``create_multipart_upload``, parts of
8 MiB (s3transfer's ``multipart_chunksize``) with at most 10 in flight
(s3transfer's ``max_concurrency``), each part read only once a slot is free so
memory stays bounded as in s3transfer, then ``complete_multipart_upload``.
Objects under 8 MiB (s3transfer's ``multipart_threshold``) use one
``put_object``.  Downloads read ``Body.iter_chunks(1 MiB)`` (the default
``async for`` reads 1 KiB at a time, which would be unfair).  The connection
pool is raised from 10 to the small-object concurrency so that workload
measures the client, not a queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]

from benchmarks.config import MiB

from .base import BenchClient

__all__ = ["AiobotocoreClient"]

PART_SIZE = 8 * MiB  # s3transfer's multipart_chunksize and multipart_threshold
MAX_CONCURRENCY = 10  # s3transfer's max_concurrency
READ_SIZE = MiB


class AiobotocoreClient(BenchClient):
    name = "aiobotocore"
    settings: ClassVar[str] = (
        "botocore defaults, path addressing, max_pool_connections=32; hand-written "
        "multipart (8 MiB parts, 10 in flight, as s3transfer); downloads iter_chunks(1 MiB)"
    )

    async def open(self) -> None:
        config = AioConfig(
            s3={"addressing_style": "path"},
            max_pool_connections=max(10, self.spec.sizes.concurrency),
        )
        self._context = get_session().create_client(
            "s3",
            endpoint_url=self.server.endpoint,
            aws_access_key_id=self.server.access_key,
            aws_secret_access_key=self.server.secret_key,
            region_name=self.server.region,
            config=config,
        )
        self._s3: Any = await self._context.__aenter__()

    async def close(self) -> None:
        await self._context.__aexit__(None, None, None)

    async def _multipart(
        self, key: str, next_part: Callable[[], Awaitable[bytes]], first: bytes
    ) -> None:
        created = await self._s3.create_multipart_upload(Bucket=self.bucket, Key=key)
        upload_id = created["UploadId"]
        slots = asyncio.Semaphore(MAX_CONCURRENCY)
        etags: dict[int, str] = {}

        async def send(number: int, data: bytes) -> None:
            try:
                response = await self._s3.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                )
                etags[number] = response["ETag"]
            finally:
                slots.release()

        try:
            tasks: list[asyncio.Task[None]] = []
            data, number = first, 0
            while data:
                number += 1
                await slots.acquire()  # at most 10 parts in flight, one more read ahead
                tasks.append(asyncio.create_task(send(number, data)))
                data = await next_part()
            for task in tasks:
                await task
            parts = [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
            await self._s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            await self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], size: int) -> None:
        pending = bytearray()
        done = False

        async def next_part() -> bytes:
            nonlocal done
            while len(pending) < PART_SIZE and not done:
                try:
                    pending.extend(await anext(chunks))
                except StopAsyncIteration:
                    done = True
            part = bytes(pending[:PART_SIZE])
            del pending[:PART_SIZE]
            return part

        first = await next_part()
        if len(first) < PART_SIZE:
            await self._s3.put_object(Bucket=self.bucket, Key=key, Body=first)
            return
        await self._multipart(key, next_part, first)

    async def put_file(self, key: str, path: Path, size: int) -> None:
        if size < PART_SIZE:
            data = await asyncio.to_thread(path.read_bytes)
            await self._s3.put_object(Bucket=self.bucket, Key=key, Body=data)
            return
        with path.open("rb") as file:

            async def next_part() -> bytes:
                return await asyncio.to_thread(file.read, PART_SIZE)

            await self._multipart(key, next_part, await next_part())

    async def get_stream(self, key: str) -> int:
        response = await self._s3.get_object(Bucket=self.bucket, Key=key)
        received = 0
        async with response["Body"] as body:
            async for chunk in body.iter_chunks(READ_SIZE):
                received += len(chunk)
        return received

    async def copy(self, source: str, destination: str) -> None:
        await self._s3.copy_object(
            Bucket=self.bucket,
            Key=destination,
            CopySource={"Bucket": self.bucket, "Key": source},
        )

    async def put_small(self, key: str, data: bytes) -> None:
        await self._s3.put_object(Bucket=self.bucket, Key=key, Body=data)
