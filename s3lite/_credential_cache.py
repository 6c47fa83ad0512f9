"""The credentials a client signs with, refreshed before they expire.

Rules of this module:
- A provider is anything with ``async def get_credentials() -> Credentials``
  (the default chain, or the caller's own object).
- Credentials without ``expiration`` are kept for the client's life.
- Temporary credentials are refreshed as botocore does: from ``ADVISORY``
  (15 minutes) before they expire a refresh is tried, and if it fails the old
  credentials are kept; from ``MANDATORY`` (10 minutes) before, a refresh must
  succeed or the request fails.
- One refresh at a time: concurrent requests wait for it in the mandatory
  window, and go on with the still-valid credentials in the advisory window.
- A failed advisory refresh is not tried again for ``RETRY_AFTER`` seconds.
- Time comes from a clock argument (tests move it); secrets are never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import anyio

from ._credentials import Credentials
from ._exceptions import CredentialRetrievalError, InvalidRequestError, NoCredentialsError

__all__ = ["ADVISORY", "MANDATORY", "CredentialCache", "CredentialProvider"]

ADVISORY = timedelta(minutes=15)
MANDATORY = timedelta(minutes=10)
RETRY_AFTER = timedelta(seconds=30)

logger = logging.getLogger("s3lite")


@runtime_checkable
class CredentialProvider(Protocol):
    """Gives credentials when asked (and fresh ones when asked again)."""

    async def get_credentials(self) -> Credentials: ...


def _now() -> datetime:
    return datetime.now(UTC)


class CredentialCache:
    """The current credentials of one client, from ``provider``."""

    def __init__(
        self,
        provider: CredentialProvider,
        *,
        initial: Credentials | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._provider = provider
        self._current = initial
        self._clock = clock
        self._lock = anyio.Lock()
        self._quiet_until: datetime | None = None

    @classmethod
    def static(cls, credentials: Credentials) -> CredentialCache:
        """A cache of fixed credentials (no provider is ever asked)."""
        return cls(_Fixed(credentials), initial=credentials)

    @property
    def current(self) -> Credentials | None:
        """The credentials held now (None before the first request)."""
        return self._current

    def _left(self, credentials: Credentials) -> timedelta | None:
        if credentials.expiration is None:
            return None
        return credentials.expiration - self._clock()

    async def get(self) -> Credentials:
        """Credentials to sign a request with now."""
        current = self._current
        left = self._left(current) if current is not None else timedelta(0)
        if current is not None and (left is None or left > ADVISORY):
            return current
        mandatory = current is None or (left is not None and left <= MANDATORY)
        if not mandatory:
            assert current is not None
            quiet = self._quiet_until is not None and self._clock() < self._quiet_until
            if quiet or self._lock.locked():
                return current  # still valid: another task is refreshing, or it just failed
        async with self._lock:
            return await self._refresh(mandatory)

    async def _refresh(self, mandatory: bool) -> Credentials:
        current = self._current
        if current is not None:
            left = self._left(current)
            if left is None or left > ADVISORY:
                return current  # refreshed while this task waited
            mandatory = left <= MANDATORY
        try:
            fresh = await self._provider.get_credentials()
        except Exception as error:
            if mandatory or current is None:
                raise
            self._quiet_until = self._clock() + RETRY_AFTER
            logger.warning(
                "refreshing credentials failed; the current ones stay in use until "
                "10 minutes before they expire: %s",
                error,
            )
            return current
        if not isinstance(fresh, Credentials):
            raise CredentialRetrievalError(
                f"get_credentials() returned {type(fresh).__name__}, not s3lite.Credentials"
            )
        self._quiet_until = None
        self._current = fresh
        return fresh

    def for_presigning(self) -> Credentials:
        """The credentials a presigned URL is made with: they must be known already."""
        current = self._current
        if current is None:
            raise NoCredentialsError(
                "no credentials are resolved yet: a presigned URL is made without I/O, so "
                "send any request first (or pass keys) when they come from a role, a "
                "process, a container or the instance"
            )
        left = self._left(current)
        if left is not None and left <= timedelta(0):
            raise InvalidRequestError("the client's credentials have expired: send a request first")
        return current


class _Fixed:
    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    async def get_credentials(self) -> Credentials:
        return self._credentials
