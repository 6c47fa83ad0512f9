"""Retry policy: which failures are retried, and how long to wait (full jitter).

Rules of this module:
- Pure decisions: ``is_retryable(error)``, ``RetryPolicy.delay(attempt, random)``
  and ``RetryBudget.delay_after(attempt, error)`` take values and return values;
  the pipeline does the sleeping.
- Only replayable requests get more than one attempt; every attempt of one
  operation fits in ``total_timeout``.
- Only transient failures are retried: the network, 5xx, throttling, and the
  two 4xx codes that are transient (``RequestTimeout``, ``RequestTimeTooSkewed``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._exceptions import (
    CertificateError,
    ConfigurationError,
    RequestTimeTooSkewed,
    ServiceError,
    TransportError,
)

__all__ = ["RetryBudget", "RetryPolicy", "is_retryable"]

_RETRYABLE_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "TooManyRequests",
    }
)
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter.

    ``max_attempts`` counts the first try (1 disables retries); ``base_delay``
    and ``max_delay`` bound each wait in seconds; ``total_timeout`` bounds the
    time spent across all attempts of one operation (None: no bound).
    """

    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 5.0
    total_timeout: float | None = 120.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ConfigurationError("RetryPolicy.max_attempts must be an int")
        if self.max_attempts < 1:
            raise ConfigurationError("RetryPolicy.max_attempts must be at least 1")
        if not (0 <= self.base_delay < math.inf and 0 <= self.max_delay < math.inf):
            raise ConfigurationError("RetryPolicy delays must be finite and not negative")
        if self.total_timeout is not None and self.total_timeout <= 0:
            raise ConfigurationError("RetryPolicy.total_timeout must be positive or None")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): U(0, cap)."""
        cap = min(self.max_delay, self.base_delay * (2 ** min(attempt - 1, 62)))
        return (rng or random).uniform(0.0, cap)


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` is transient, so that the same request may succeed if sent again."""
    if isinstance(error, RequestTimeTooSkewed):
        return True
    if isinstance(error, ServiceError):
        return error.code in _RETRYABLE_CODES or error.status in _RETRYABLE_STATUS
    return isinstance(error, TransportError) and not isinstance(error, CertificateError)


class RetryBudget:
    """The attempts one operation has left under a policy."""

    __slots__ = ("_attempts", "_clock", "_deadline", "_policy")

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        replayable: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._attempts = policy.max_attempts if replayable else 1
        self._clock = clock
        timeout = policy.total_timeout
        self._deadline = None if timeout is None else clock() + timeout

    def delay_after(self, attempt: int, error: BaseException) -> float | None:
        """Seconds to wait before trying again after attempt ``attempt`` failed with
        ``error``, or ``None`` when the error is to be raised."""
        if attempt >= self._attempts or not is_retryable(error):
            return None
        if self._deadline is not None and self._clock() >= self._deadline:
            return None
        return self._policy.delay(attempt)
