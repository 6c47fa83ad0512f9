"""What every benchmarked client implements, and the shared defaults.

Rules of this module:
- A client adapter does only what a user of that library would write: no
  workload logic (that lives in ``workloads``), no timing, no RSS accounting.
- Large transfers are streamed: nothing here keeps a downloaded body.
  ``download_file`` / ``upload_file`` (the network profile) move a file in
  parallel parts with the library's own transfer call, at the part size and
  concurrency they are given.
- ``put_many`` / ``get_many`` default to ``concurrency`` tasks at a time over
  ``put_small`` / ``get_small``; a client with its own batch mode (s5cmd)
  overrides them.
- Everything runs on asyncio (aiobotocore, miniopy-async and obstore require
  it, and one event loop for every client keeps the comparison even), except the
  ``s3lite+backend=trio`` variant, which shows s3lite on trio.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar

import anyio

from benchmarks.config import Server, Spec

__all__ = ["BenchClient", "Unsupported", "bounded"]


class Unsupported(Exception):
    """The client cannot run this workload (the message says why)."""


async def bounded(
    count: int,
    concurrency: int,
    job: Callable[[int], Awaitable[int]],
    latencies: list[float] | None = None,
) -> int:
    """Run ``job(0..count-1)`` with at most ``concurrency`` in flight; sum the results.

    With ``latencies``, each job's wall time (from its start, not its wait for a
    slot) is appended to it, in seconds.
    """
    if not _on_asyncio():
        return await _bounded_anyio(count, concurrency, job, latencies)
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int) -> int:
        async with limit:
            return await _timed(job, index, latencies)

    results = await asyncio.gather(*(one(index) for index in range(count)))
    return sum(results)


async def _timed(
    job: Callable[[int], Awaitable[int]], index: int, latencies: list[float] | None
) -> int:
    if latencies is None:
        return await job(index)
    start = time.perf_counter()
    result = await job(index)
    latencies.append(time.perf_counter() - start)
    return result


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _bounded_anyio(
    count: int,
    concurrency: int,
    job: Callable[[int], Awaitable[int]],
    latencies: list[float] | None,
) -> int:
    """``bounded`` on any anyio backend (trio): a task group and a capacity limiter."""
    limit = anyio.CapacityLimiter(concurrency)
    total = 0

    async def one(index: int) -> None:
        nonlocal total
        async with limit:
            moved = await _timed(job, index, latencies)
        total += moved  # after the await: ``total += await ...`` would read total first

    async with anyio.create_task_group() as group:
        for index in range(count):
            group.start_soon(one, index)
    return total


class BenchClient:
    """One client library behind the operations the workloads need."""

    name: ClassVar[str]
    # Where the client's RSS and CPU show up: in this process, or in a child (s5cmd).
    runs_in_child: ClassVar[bool] = False
    # Workload family -> why this client cannot run it.
    unsupported: ClassVar[dict[str, str]] = {}
    # One line on how the client is configured, for the report.
    settings: ClassVar[str] = ""

    def __init__(self, spec: Spec, options: dict[str, str]) -> None:
        self.spec = spec
        self.server: Server = spec.server
        self.bucket = spec.server.bucket
        self.options = options
        self.latencies: list[float] = []
        """Seconds per small request, filled by ``put_many`` / ``get_many``."""

    async def open(self) -> None:
        """Create the client (before any measurement starts)."""

    async def close(self) -> None:
        """Release the client (after the measurement ends)."""

    async def __aenter__(self) -> BenchClient:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- large objects -----------------------------------------------------------------

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], size: int) -> None:
        """Upload from an async generator whose length the client is not told."""
        raise Unsupported("no streaming upload")

    async def put_file(self, key: str, path: Path, size: int) -> None:
        """Upload a file from disk."""
        raise Unsupported("no file upload")

    async def get_stream(self, key: str) -> int:
        """Download streamed, discarding the bytes; return how many arrived."""
        raise Unsupported("no streaming download")

    async def download_file(self, key: str, path: Path, part_size: int, connections: int) -> None:
        """Download into the file ``path`` in parts, ``connections`` in parallel."""
        raise Unsupported("no parallel file download")

    async def upload_file(
        self, key: str, path: Path, size: int, part_size: int, connections: int
    ) -> None:
        """Upload the file ``path`` in parts, ``connections`` in parallel."""
        raise Unsupported("no parallel file upload")

    async def copy(self, source: str, destination: str) -> None:
        """Server-side copy within the bucket."""
        raise Unsupported("no server-side copy")

    # --- small objects -----------------------------------------------------------------

    async def put_small(self, key: str, data: bytes) -> None:
        raise Unsupported("no small upload")

    async def get_small(self, key: str) -> int:
        return await self.get_stream(key)

    async def put_many(self, keys: Sequence[str], data: bytes, concurrency: int) -> None:
        async def one(index: int) -> int:
            await self.put_small(keys[index], data)
            return 1

        await bounded(len(keys), concurrency, one, self.latencies)

    async def get_many(self, keys: Sequence[str], concurrency: int) -> int:
        async def one(index: int) -> int:
            return await self.get_small(keys[index])

        return await bounded(len(keys), concurrency, one, self.latencies)
