"""``s3lite._retry``: full-jitter delays and the retryable-error table."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3lite._exceptions import (
    ConfigurationError,
    IntegrityError,
    InvalidRequestError,
    MalformedResponseError,
    RequestTimeoutError,
    ServiceError,
    StorageError,
    TransportError,
    error_class_for_code,
)
from s3lite._retry import RetryPolicy, is_retryable

delays = st.floats(min_value=0, max_value=60, allow_nan=False)


def service_error(code: str, status: int) -> ServiceError:
    return error_class_for_code(code)(code, "message", status=status, request_id="RID")


# --------------------------------------------------------------------------- delays


@given(
    attempt=st.integers(1, 60),
    base_delay=delays,
    max_delay=delays,
    seed=st.integers(0, 2**32),
)
def test_delay_is_between_zero_and_the_capped_exponential(
    attempt: int, base_delay: float, max_delay: float, seed: int
) -> None:
    policy = RetryPolicy(base_delay=base_delay, max_delay=max_delay)
    cap = min(max_delay, base_delay * 2 ** (attempt - 1))
    delay = policy.delay(attempt, random.Random(seed))
    assert 0.0 <= delay <= cap
    assert delay <= max_delay


@given(attempt=st.integers(1, 59), base_delay=delays, max_delay=delays, seed=st.integers(0, 2**32))
def test_delay_never_shrinks_from_one_attempt_to_the_next(
    attempt: int, base_delay: float, max_delay: float, seed: int
) -> None:
    # The same random draw scaled by a cap that can only grow.
    policy = RetryPolicy(base_delay=base_delay, max_delay=max_delay)
    assert policy.delay(attempt, random.Random(seed)) <= policy.delay(
        attempt + 1, random.Random(seed)
    )


def test_delay_cap_doubles_until_max_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    rng = random.Random(1234)
    samples = {
        attempt: [policy.delay(attempt, rng) for _ in range(2000)] for attempt in (1, 2, 3, 4, 8)
    }
    expected_caps = {1: 0.5, 2: 1.0, 3: 2.0, 4: 3.0, 8: 3.0}
    for attempt, cap in expected_caps.items():
        values = samples[attempt]
        assert max(values) <= cap
        assert max(values) > 0.95 * cap  # the whole interval is used (full jitter)
        assert min(values) < 0.05 * cap
    assert sum(samples[1]) < sum(samples[2]) < sum(samples[3])


def test_delay_uses_the_module_random_without_rng() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=1.0)
    values = {policy.delay(3) for _ in range(20)}
    assert all(0.0 <= value <= 1.0 for value in values)
    assert len(values) > 1


def test_delay_is_zero_with_zero_base_delay() -> None:
    policy = RetryPolicy(base_delay=0)
    assert [policy.delay(attempt, random.Random(attempt)) for attempt in range(1, 10)] == [0.0] * 9


def test_delay_stays_capped_for_very_high_attempts() -> None:
    policy = RetryPolicy(max_attempts=2000, base_delay=0.1, max_delay=5.0)
    assert 0.0 <= policy.delay(1500, random.Random(0)) <= policy.max_delay


# --------------------------------------------------------------------------- configuration


def test_default_policy_retries_with_bounded_time() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts > 1
    assert 0 < policy.base_delay <= policy.max_delay
    assert policy.total_timeout is not None and policy.total_timeout > 0


def test_disabled_policy_makes_a_single_attempt() -> None:
    assert RetryPolicy.disabled().max_attempts == 1


def test_policy_is_frozen() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"max_attempts": 0}, "at least 1"),
        ({"max_attempts": -3}, "at least 1"),
        ({"max_attempts": True}, "must be an int"),
        ({"max_attempts": 2.0}, "must be an int"),
        ({"max_attempts": "3"}, "must be an int"),
        ({"base_delay": -0.1}, "finite and not negative"),
        ({"max_delay": -1}, "finite and not negative"),
        ({"base_delay": float("nan")}, "finite and not negative"),
        ({"max_delay": float("inf")}, "finite and not negative"),
        ({"total_timeout": 0}, "positive or None"),
        ({"total_timeout": -5.0}, "positive or None"),
    ],
)
def test_policy_rejects_invalid_options(options: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_policy_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 1}, {"base_delay": 0, "max_delay": 0}, {"total_timeout": None}],
)
def test_policy_accepts_edge_values(options: dict[str, object]) -> None:
    policy = RetryPolicy(**options)  # type: ignore[arg-type]
    for name, value in options.items():
        assert getattr(policy, name) == value


# --------------------------------------------------------------------------- what is retried


@pytest.mark.parametrize(
    "error",
    [
        TransportError("connection reset"),
        RequestTimeoutError("read timed out"),
        service_error("InternalError", 500),
        service_error("ServiceUnavailable", 503),
        service_error("SlowDown", 503),
        service_error("RequestTimeout", 400),
        service_error("RequestTimeTooSkewed", 403),
        service_error("HTTP500", 500),
        service_error("BadGateway", 502),
        service_error("GatewayTimeout", 504),
        service_error("TooManyRequests", 429),
        service_error("Throttling", 400),
        service_error("SlowDown", 200),  # a 200 response that carried an <Error>
        service_error("InternalError", 200),
    ],
    ids=lambda error: f"{type(error).__name__}-{getattr(error, 'status', '')}",
)
def test_transient_errors_are_retryable(error: BaseException) -> None:
    assert is_retryable(error) is True


@pytest.mark.parametrize(
    "error",
    [
        service_error("NoSuchKey", 404),
        service_error("NoSuchBucket", 404),
        service_error("AccessDenied", 403),
        service_error("SignatureDoesNotMatch", 403),
        service_error("InvalidAccessKeyId", 403),
        service_error("InvalidRange", 416),
        service_error("PreconditionFailed", 412),
        service_error("BadRequest", 400),
        service_error("InvalidArgument", 400),
        service_error("EntityTooSmall", 400),
        service_error("NotImplemented", 501),
        IntegrityError("short body"),
        MalformedResponseError("not XML"),
        InvalidRequestError("bad key"),
        ConfigurationError("bad endpoint"),
        StorageError("storage"),
        ValueError("not s3"),
        OSError("not s3"),
        TimeoutError("not s3"),
        KeyboardInterrupt(),
    ],
    ids=lambda error: f"{type(error).__name__}-{getattr(error, 'status', '')}",
)
def test_permanent_and_foreign_errors_are_not_retryable(error: BaseException) -> None:
    assert is_retryable(error) is False


def test_request_time_too_skewed_is_retryable_whatever_its_status() -> None:
    for status in (400, 403, 200):
        assert is_retryable(service_error("RequestTimeTooSkewed", status)) is True


def test_certificate_failures_are_not_retried() -> None:
    from s3lite import CertificateError, TransportError

    assert is_retryable(TransportError("connection reset"))
    assert not is_retryable(CertificateError("certificate verify failed"))
