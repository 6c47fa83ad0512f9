"""What the workloads read, put in place before any measurement (with s3lite).

Rules of this module:
- Fixtures are written once per server, before the first measured run, and
  everything under the benchmark's prefix is deleted when the server's runs end.
- The large file for ``upload-file`` is written once per run from a repeated
  random block (no server here compresses or deduplicates).
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio

from s3lite import S3Client

from .config import MiB, Server, Sizes

__all__ = ["cleanup", "prepare", "write_large_file"]

_BLOCK = 8 * MiB


def write_large_file(path: Path, size: int) -> None:
    block = os.urandom(_BLOCK)
    with path.open("wb") as file:
        remaining = size
        while remaining:
            step = min(remaining, _BLOCK)
            file.write(block[:step])
            remaining -= step


def _client(server: Server) -> S3Client:
    return S3Client(
        server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        region=server.region,
        addressing_style="path",
    )


async def _prepare(server: Server, sizes: Sizes, large_file: Path) -> None:
    async with _client(server) as s3:
        await s3.create_bucket(server.bucket, exist_ok=True)
        await s3.put_object(server.bucket, server.large_key(sizes.large), large_file)
        data = os.urandom(sizes.small_size)
        limit = anyio.CapacityLimiter(sizes.concurrency)

        async def put(key: str) -> None:
            async with limit:
                await s3.put_object(server.bucket, key, data)

        async with anyio.create_task_group() as group:
            for key in server.small_keys(sizes.small_count):
                group.start_soon(put, key)


async def _cleanup(server: Server, prefix: str) -> int:
    async with _client(server) as s3:
        if not await s3.bucket_exists(server.bucket):
            return 0
        keys = [entry.key async for entry in s3.list_objects(server.bucket, prefix=prefix)]
        if keys:
            await s3.delete_objects(server.bucket, keys)
        async for upload in s3.list_multipart_uploads(server.bucket, prefix=prefix):
            await s3.abort_multipart_upload(server.bucket, upload.key, upload.upload_id)
    return len(keys)


def prepare(server: Server, sizes: Sizes, large_file: Path) -> None:
    """Create the bucket, the large object and the small objects the downloads read."""
    anyio.run(_prepare, server, sizes, large_file)


def cleanup(server: Server, prefix: str) -> int:
    """Delete every object (and abort every upload) under ``prefix``; return how many."""
    return anyio.run(_cleanup, server, prefix)
