"""Progress of a transfer, reported to a caller's callback a few times a second.

Rules of this module:
- A callback takes ``(bytes_done, total_bytes)`` (``total_bytes`` None when the
  length is unknown) and may be a plain function or a coroutine function; what
  it returns is awaited when it is awaitable.
- Bytes are counted once: a retried or resumed request never counts its bytes
  again, so ``bytes_done`` only grows.
- Calls are throttled to one per ``INTERVAL`` seconds, except the last: when
  the transfer finishes, the callback always sees the final count.
- No I/O of its own; time comes from ``time.monotonic`` (or the clock given).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable

from ._exceptions import InvalidRequestError

__all__ = ["INTERVAL", "Progress", "ProgressCallback", "check_callback"]

ProgressCallback = Callable[[int, int | None], object]
"""``callback(bytes_done, total_bytes)``: sync, or async (then awaited)."""

INTERVAL = 0.25
"""The shortest time between two calls of a callback (seconds), the last call aside."""


def check_callback(progress: object) -> ProgressCallback | None:
    """``progress`` if it is None or callable; else ``InvalidRequestError``."""
    if progress is not None and not callable(progress):
        raise InvalidRequestError(
            f"progress must be a callable taking (bytes_done, total_bytes), got {progress!r}"
        )
    return progress


class Progress:
    """Counts the bytes of one transfer and tells ``callback`` about them, throttled.

    ``Progress(None, ...)`` counts and calls nothing, so callers need no branches.
    """

    __slots__ = ("_callback", "_clock", "_last", "done", "total")

    def __init__(
        self,
        callback: ProgressCallback | None,
        total: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._callback = callback
        self._clock = clock
        self.total = total
        self.done = 0
        self._last = clock()

    async def advance(self, count: int) -> None:
        """``count`` more bytes are done; the callback is called if it is due."""
        self.done += count
        if self._callback is None:
            return
        now = self._clock()
        if now - self._last >= INTERVAL:
            self._last = now
            await self._call()

    async def finish(self) -> None:
        """The transfer is complete: the callback sees the final count."""
        if self._callback is not None:
            self._last = self._clock()
            await self._call()

    async def _call(self) -> None:
        assert self._callback is not None
        result = self._callback(self.done, self.total)
        if inspect.isawaitable(result):
            await result
