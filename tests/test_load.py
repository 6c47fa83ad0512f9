"""Load: 10,000 operations at concurrency 128 against the local server.

No errors, no leaked connections or file descriptors, and memory that stays flat
(the second half of the run may not grow the process by more than a small bound).
"""

from __future__ import annotations

import gc
import os
import random
from pathlib import Path

import anyio
import pytest

from s3lite import NoSuchKey
from tests.conftest import TestServer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

OPERATIONS = int(os.environ.get("S3LITE_LOAD_OPERATIONS", "10000"))
CONCURRENCY = 128
KEYS = 512


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
async def test_ten_thousand_operations_at_concurrency_128_leak_nothing(
    s3_server: TestServer, bucket: str, anyio_backend: str
) -> None:
    # The full load runs on asyncio; trio runs a fifth of it (same code paths, half the wait).
    operations = OPERATIONS if anyio_backend == "asyncio" else OPERATIONS // 5
    rng = random.Random(1234)
    payloads = {f"load/{i:04d}": rng.randbytes(rng.randrange(0, 8192)) for i in range(KEYS)}
    counts = {"put": 0, "get": 0, "head": 0, "delete": 0, "list": 0, "missing": 0}
    fds_before = open_fds()
    async with s3_server.client(max_connections=CONCURRENCY) as s3:
        stored: dict[str, bytes] = {}
        limiter = anyio.CapacityLimiter(CONCURRENCY)

        async def one(index: int) -> None:
            key = f"load/{index % KEYS:04d}"
            kind = (
                ("put", "get", "get", "head", "delete", "list")[index % 6]
                if index >= KEYS
                else "put"
            )
            async with limiter:
                if kind == "put":
                    await s3.put_object(bucket, key, payloads[key])
                    stored[key] = payloads[key]
                elif kind in ("get", "head", "delete"):
                    try:
                        if kind == "get":
                            data = await (await s3.get_object(bucket, key)).read()
                            assert data == payloads[key]
                        elif kind == "head":
                            assert (await s3.head_object(bucket, key)).size == len(payloads[key])
                        else:
                            await s3.delete_object(bucket, key)
                    except NoSuchKey:
                        counts["missing"] += 1  # deleted by a concurrent operation: allowed
                else:
                    async for _entry in s3.list_objects(
                        bucket, prefix=f"load/{index % 10}", page_size=50
                    ):
                        pass
            counts[kind] += 1

        async def run(start: int, stop: int) -> None:
            async with anyio.create_task_group() as group:
                for index in range(start, stop):
                    group.start_soon(one, index)

        half = operations // 2
        await run(0, half)
        gc.collect()
        rss_half = rss_bytes()
        await run(half, operations)
        gc.collect()
        rss_end = rss_bytes()
        assert sum(counts.values()) - counts["missing"] == operations
        # Still healthy after the storm: a fresh round trip works.
        await s3.put_object(bucket, "after", b"ok")
        assert await (await s3.get_object(bucket, "after")).read() == b"ok"
    gc.collect()
    assert open_fds() <= fds_before + 2, "sockets or files leaked"
    assert rss_end - rss_half < 32 * 1024 * 1024, f"memory grew by {(rss_end - rss_half) >> 20} MiB"
