"""``get_object(..., max_concurrency=N)``: parallel ranged GETs read as one ordered stream.

Rules of this module:
- The parts run in tasks of a task group that the call object enters on
  ``__aenter__`` and leaves on ``__aexit__``: no task outlives the caller's
  ``async with`` block.  Closing the stream (end of body, ``aclose``, leaving the
  block) cancels the parts still running, and only them.
- Part 1 streams straight from its answer; each later part is read whole into
  memory by its own task.  At most ``max_concurrency`` parts are in flight or held
  at once, the one being read included: at most ``max_concurrency * part_size``
  bytes are buffered.
- A part's error reaches the reader in order, as the exception of the read that
  reaches that part; the stream is then closed.
- The bytes are verified as they pass, in order, like a whole GET: the stored
  checksum (or MD5 ETag) of the object, else its size.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from ._download import GetObjectCall, ObjectStream
from ._exceptions import InvalidRequestError
from ._pipeline import Pipeline
from ._progress import Progress, ProgressCallback
from ._ranged import FirstPart, Span, open_first, open_part
from ._requests import Same
from ._tasks import first_error

__all__ = ["ParallelGetCall"]


@dataclasses.dataclass(slots=True)
class _Part:
    ready: anyio.Event = dataclasses.field(default_factory=anyio.Event)
    chunks: deque[bytes] = dataclasses.field(default_factory=deque)
    error: Exception | None = None


class _OrderedParts:
    """The body of a parallel GET: the parts' bytes, in order (an ``_http.Body``).

    ``max_concurrency`` is at least 2 (one part is a plain GET).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        bucket: str,
        key: str,
        first: FirstPart,
        spans: list[Span],
        max_concurrency: int,
    ) -> None:
        self._pipeline = pipeline
        self._bucket = bucket
        self._key = key
        self._first = first
        self._head = first.stream.__aiter__()
        self._spans = spans
        self._parts = [_Part() for _ in spans]
        # Part 1 is held by the reader at first; when it is read, its place goes to
        # the later parts (released below), so that N parts are held or in flight.
        self._slots = anyio.Semaphore(max_concurrency - 1)
        self._index = 0
        self._scope: anyio.CancelScope | None = None

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Fetch parts 2.. in the background until all are fetched or ``aclose``."""
        with anyio.CancelScope() as scope:
            self._scope = scope
            task_status.started()
            async with anyio.create_task_group() as group:
                for index in range(1, len(self._spans)):
                    await self._slots.acquire()
                    group.start_soon(self._fetch, index)

    async def _fetch(self, index: int) -> None:
        part = self._parts[index]
        try:
            stream = await open_part(
                self._pipeline, self._bucket, self._key, self._first, self._spans[index]
            )
            try:
                async for chunk in stream:
                    part.chunks.append(chunk)
            finally:
                await stream.aclose()
        except Exception as error:  # delivered to the reader, in order
            part.error = error
        finally:
            part.ready.set()

    def __aiter__(self) -> _OrderedParts:
        return self

    async def __anext__(self) -> bytes:
        if self._index == 0:
            try:
                return await anext(self._head)
            except StopAsyncIteration:
                self._index = 1
                self._slots.release()
        while self._index < len(self._parts):
            part = self._parts[self._index]
            await part.ready.wait()
            if part.error is not None:
                raise part.error
            if part.chunks:
                return part.chunks.popleft()
            self._index += 1
            self._slots.release()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
        for part in self._parts:
            part.chunks.clear()
        await self._first.stream.aclose()


class ParallelGetCall(GetObjectCall):
    """What ``get_object(..., max_concurrency=N)`` returns: use it with ``async with``."""

    def __init__(
        self,
        pipeline: Pipeline,
        bucket: str,
        key: str,
        *,
        part_size: int,
        max_concurrency: int,
        progress: ProgressCallback | None,
        same: Same = ((), ()),
    ) -> None:
        super().__init__(self._open_outside_a_block)
        self._same = same
        self._pipeline = pipeline
        self._bucket = bucket
        self._key = key
        self._part_size = part_size
        self._max_concurrency = max_concurrency
        self._progress = progress
        self._exit = AsyncExitStack()

    async def _open_outside_a_block(self) -> ObjectStream:
        raise InvalidRequestError(
            "get_object(..., max_concurrency=N) runs its parts in tasks: use it as "
            "'async with s3.get_object(...) as stream:', not with await"
        )

    async def __aenter__(self) -> ObjectStream:
        group: TaskGroup = await self._exit.enter_async_context(anyio.create_task_group())
        try:
            self._stream = await self._open(group)
        except BaseException as error:
            await self._leave(type(error), error, error.__traceback__)
            raise
        return self._stream

    async def _open(self, group: TaskGroup) -> ObjectStream:
        first = await open_first(
            self._pipeline, self._bucket, self._key, self._part_size, self._same
        )
        body = _OrderedParts(
            self._pipeline,
            self._bucket,
            self._key,
            first,
            first.spans(self._part_size),
            self._max_concurrency,
        )
        await group.start(body.run)
        check = first.check
        verify = (check.algorithm, check.expected) if check.algorithm and check.expected else None
        return ObjectStream(
            dataclasses.replace(first.stream.info, size=first.total),
            body,
            total_size=first.total,
            content_range=None,
            verify=verify,
            verified_by=check.verified_by,
            progress=Progress(self._progress, first.total),
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            with anyio.CancelScope(shield=True):
                await self._stream.aclose()
        await self._leave(exc_type, exc, tb)

    async def _leave(self, *exc_info: Any) -> None:
        try:
            await self._exit.__aexit__(*exc_info)
        except BaseExceptionGroup as errors:
            raise first_error(errors) from None
