"""``_progress.Progress``: counts once, throttles its calls, always reports the end."""

from __future__ import annotations

import pytest

from s3lite import InvalidRequestError
from s3lite._progress import INTERVAL, Progress, check_callback

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_calls_are_throttled_and_the_last_always_comes(clock: Clock) -> None:
    calls: list[tuple[int, int | None]] = []
    progress = Progress(lambda done, total: calls.append((done, total)), 300, clock=clock)

    await progress.advance(100)  # too soon after the start
    clock.now += INTERVAL
    await progress.advance(100)
    await progress.advance(50)  # too soon after the last call
    clock.now += INTERVAL / 2
    await progress.advance(50)
    await progress.finish()

    assert calls == [(200, 300), (300, 300)]


async def test_an_async_callback_is_awaited(clock: Clock) -> None:
    calls: list[int] = []

    async def record(done: int, total: int | None) -> None:
        calls.append(done)

    progress = Progress(record, None, clock=clock)
    clock.now += INTERVAL
    await progress.advance(7)
    await progress.finish()
    assert calls == [7, 7]


async def test_without_a_callback_bytes_are_still_counted() -> None:
    progress = Progress(None, 10)
    await progress.advance(4)
    await progress.finish()
    assert progress.done == 4


def test_a_callback_must_be_callable() -> None:
    assert check_callback(None) is None
    with pytest.raises(InvalidRequestError, match="progress must be a callable"):
        check_callback(42)
