"""``CredentialCache``: temporary credentials refreshed before they expire, once for all
concurrent requests, with botocore's advisory and mandatory windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from s3lite import CredentialRetrievalError, Credentials, NoCredentialsError
from s3lite._credential_cache import CredentialCache

pytestmark = pytest.mark.anyio

START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Provider:
    """Hands out numbered credentials valid for an hour; can be made to fail or stall."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls = 0
        self.fail = False
        self.stall = anyio.Event()
        self.stall.set()

    async def get_credentials(self) -> Credentials:
        self.calls += 1
        await self.stall.wait()
        if self.fail:
            raise CredentialRetrievalError("the provider is down")
        expires = self.clock() + timedelta(hours=1)
        return Credentials(f"KEY{self.calls}", "secret", "token", expires)


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_credentials_are_fetched_once_and_kept_while_fresh(clock: Clock) -> None:
    provider = Provider(clock)
    cache = CredentialCache(provider, clock=clock)
    assert (await cache.get()).access_key == "KEY1"
    clock.now += timedelta(minutes=44)  # 16 minutes left: outside the advisory window
    assert (await cache.get()).access_key == "KEY1"
    assert provider.calls == 1


async def test_the_advisory_window_refreshes_and_keeps_the_old_on_failure(clock: Clock) -> None:
    provider = Provider(clock)
    cache = CredentialCache(provider, clock=clock)
    await cache.get()
    clock.now += timedelta(minutes=46)  # 14 minutes left
    provider.fail = True
    assert (await cache.get()).access_key == "KEY1"  # refresh failed: the old ones go on
    assert (await cache.get()).access_key == "KEY1"
    assert provider.calls == 2  # not retried at once after a failure
    clock.now += timedelta(minutes=1)
    provider.fail = False
    assert (await cache.get()).access_key == "KEY3"


async def test_the_mandatory_window_needs_a_refresh(clock: Clock) -> None:
    provider = Provider(clock)
    cache = CredentialCache(provider, clock=clock)
    await cache.get()
    clock.now += timedelta(minutes=51)  # 9 minutes left
    provider.fail = True
    with pytest.raises(CredentialRetrievalError):
        await cache.get()


async def test_concurrent_requests_share_one_refresh(clock: Clock) -> None:
    provider = Provider(clock)
    cache = CredentialCache(provider, clock=clock)
    await cache.get()
    clock.now += timedelta(minutes=55)  # mandatory: everyone waits for the one refresh
    provider.stall = anyio.Event()
    got: list[str] = []

    async def request() -> None:
        got.append((await cache.get()).access_key)

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(request)
        await anyio.wait_all_tasks_blocked()
        provider.stall.set()
    assert got == ["KEY2"] * 10
    assert provider.calls == 2


async def test_in_the_advisory_window_others_go_on_while_one_refreshes(clock: Clock) -> None:
    provider = Provider(clock)
    cache = CredentialCache(provider, clock=clock)
    await cache.get()
    clock.now += timedelta(minutes=48)
    provider.stall = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(cache.get)  # this one refreshes, and waits for the provider
        await anyio.wait_all_tasks_blocked()
        assert (await cache.get()).access_key == "KEY1"  # still valid: not kept waiting
        provider.stall.set()
    assert (await cache.get()).access_key == "KEY2"


async def test_keys_without_expiration_never_refresh_and_presigning_needs_credentials(
    clock: Clock,
) -> None:
    fixed = CredentialCache.static(Credentials("AK", "s"))
    clock.now += timedelta(days=400)
    assert (await fixed.get()).access_key == "AK"
    assert fixed.for_presigning().access_key == "AK"
    with pytest.raises(NoCredentialsError, match="send any request first"):
        CredentialCache(Provider(clock), clock=clock).for_presigning()
