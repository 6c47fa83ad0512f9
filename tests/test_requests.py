"""``s3lite._requests`` and the pure parts of ``s3lite._pipeline``, with plain values only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s3lite import (
    InvalidRequestError,
    NoSuchBucket,
    NoSuchKey,
    ServiceError,
    SlowDown,
)
from s3lite import _requests as rq
from s3lite._http import Headers
from s3lite._models import CompletedPart
from s3lite._pipeline import service_error
from s3lite._retry import RetryBudget, RetryPolicy


def test_object_request_validates_bucket_and_key_before_building() -> None:
    with pytest.raises(InvalidRequestError, match="object key must be a str"):
        rq.object_request("DELETE", "bucket", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="invalid bucket name"):
        rq.object_request("DELETE", "B", "k")
    request = rq.object_request("DELETE", "bucket", "a/b")
    assert (request.method, request.bucket, request.key) == ("DELETE", "bucket", "a/b")


def test_get_object_asks_for_the_checksum_only_for_whole_objects() -> None:
    assert rq.get_object("b1b", "k", None).headers == (("x-amz-checksum-mode", "ENABLED"),)
    assert rq.get_object("b1b", "k", (5, None)).headers == (("range", "bytes=5-"),)
    assert rq.get_object("b1b", "k", (0, 9)).stream


def test_resume_object_is_pinned_to_the_etag() -> None:
    request = rq.resume_object("b1b", "k", 100, 199, "abc")
    assert request.headers == (("range", "bytes=100-199"), ("if-match", '"abc"'))


@pytest.mark.parametrize(
    ("range_", "message"),
    [
        ((-1, 5), "range start"),
        ((5, 4), "range end"),
        ((True, 4), "range start"),
        ([0, 1], "tuple"),
    ],
)
def test_bad_ranges_are_refused(range_: object, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        rq.range_header(range_)  # type: ignore[arg-type]


def test_copy_object_pins_the_source_and_chooses_the_directive() -> None:
    request = rq.copy_object(
        "src", "a b", "dst", "k", source_etag="e1", replace=True, headers=[("content-type", "x/y")]
    )
    assert ("x-amz-copy-source", "/src/a%20b") in request.headers
    assert ("x-amz-copy-source-if-match", '"e1"') in request.headers
    assert ("x-amz-metadata-directive", "REPLACE") in request.headers
    assert request.headers[-1] == ("content-type", "x/y")


def test_list_objects_page_uses_the_token_instead_of_start_after() -> None:
    first = rq.list_objects_page(
        "b1b", prefix="p/", delimiter="/", start_after="p/a", page_size=10, token=None
    )
    assert ("start-after", "p/a") in first.query
    later = rq.list_objects_page(
        "b1b", prefix="p/", delimiter="/", start_after="p/a", page_size=10, token="t"
    )
    assert ("continuation-token", "t") in later.query
    assert all(name != "start-after" for name, _ in later.query)


def test_complete_states_the_full_object_crc32_only_when_given() -> None:
    parts = [CompletedPart(1, "e1", "AAAAAA==", "crc32")]
    plain = rq.complete_multipart_upload("b1b", "k", "u", parts, full_object_crc32=None)
    assert all(name != "x-amz-checksum-type" for name, _ in plain.headers)
    whole = rq.complete_multipart_upload("b1b", "k", "u", parts, full_object_crc32="AAAAAA==")
    assert ("x-amz-checksum-type", "FULL_OBJECT") in whole.headers
    assert b"<PartNumber>1</PartNumber>" in whole.payload.open(None, b"")  # type: ignore[arg-type,operator]


def test_part_numbers_are_1_to_10000() -> None:
    rq.check_part_number(10_000)
    for bad in (0, 10_001, True, "1"):
        with pytest.raises(InvalidRequestError, match="part_number"):
            rq.check_part_number(bad)  # type: ignore[arg-type]


def test_object_info_reads_metadata_and_checksums_from_plain_headers() -> None:
    headers = Headers(
        [
            ("Content-Length", "12"),
            ("ETag", '"abc"'),
            ("Last-Modified", "Wed, 02 Dec 2026 03:00:00 GMT"),
            ("X-Amz-Meta-Owner", "ann"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-checksum-type", "FULL_OBJECT"),
        ]
    )
    info = rq.object_info("k", headers)
    assert (info.size, info.etag, dict(info.metadata)) == (12, "abc", {"owner": "ann"})
    assert dict(info.checksums) == {"crc32": "AAAAAA=="}
    assert info.last_modified == datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 10-19/100", (100, (10, 19))),
        ("bytes 0-9/*", (10, (0, 9))),
        ("", (10, None)),
    ],
)
def test_content_range_gives_total_size_and_bounds(
    value: str, expected: tuple[int, tuple[int, int] | None]
) -> None:
    headers = Headers([("content-range", value)] if value else [])
    assert rq.content_range(headers, 10) == expected


def test_headers_join_repeats_and_ignore_case() -> None:
    headers = Headers([("X-A", "1"), ("x-a", "2"), ("B", "3")])
    assert headers.get("x-A") == "1, 2"
    assert "b" in headers
    assert headers.items() == [("x-a", "1"), ("x-a", "2"), ("b", "3")]


# --- service_error: the one translation of S3 error answers ------------------------

ERROR = (
    b"<?xml version='1.0'?><Error><Code>SlowDown</Code><Message>easy</Message>"
    b"<RequestId>r1</RequestId><HostId>h1</HostId></Error>"
)
DATE = Headers([("date", "Wed, 02 Dec 2026 03:00:00 GMT"), ("x-amz-request-id", "hdr")])


def test_an_error_document_gives_its_code_message_ids_and_server_date() -> None:
    error = service_error(503, "Service Unavailable", DATE, ERROR, bucket="b", key="k")
    assert isinstance(error, SlowDown)
    assert (error.code, error.message, error.request_id, error.host_id) == (
        "SlowDown",
        "easy",
        "r1",
        "h1",
    )
    assert error.server_date == datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_a_200_with_an_error_document_is_the_same_error() -> None:
    error = service_error(200, "OK", DATE, ERROR, bucket="b", key="k")
    assert isinstance(error, SlowDown)
    assert error.status == 200


def test_a_200_error_root_without_a_code_is_an_internal_error() -> None:
    error = service_error(200, "OK", DATE, b"<Error></Error>", bucket="b", key=None)
    assert error.code == "InternalError"


@pytest.mark.parametrize(
    ("key", "cls", "code"),
    [("k", NoSuchKey, "NoSuchKey"), (None, NoSuchBucket, "NoSuchBucket")],
)
def test_a_bodiless_404_names_what_was_missing(
    key: str | None, cls: type[ServiceError], code: str
) -> None:
    error = service_error(404, "Not Found", DATE, b"", bucket="b", key=key)
    assert isinstance(error, cls)
    assert (error.code, error.request_id, error.message) == (code, "hdr", "Not Found")


def test_an_unreadable_error_body_falls_back_to_the_status() -> None:
    error = service_error(418, "", Headers([]), b"<html>teapot", bucket=None, key=None)
    assert (type(error), error.code) == (ServiceError, "HTTP418")


# --- RetryBudget ---------------------------------------------------------------------


def test_a_budget_retries_transient_errors_until_attempts_run_out() -> None:
    slow = service_error(503, "", Headers([]), ERROR, bucket=None, key=None)
    budget = RetryBudget(RetryPolicy(max_attempts=3, base_delay=0.5), replayable=True)
    delays = [budget.delay_after(attempt, slow) for attempt in (1, 2, 3)]
    assert delays[2] is None
    assert all(d is not None and 0 <= d <= 1.0 for d in delays[:2])


def test_a_budget_never_retries_a_one_shot_body_or_a_client_error() -> None:
    slow = service_error(503, "", Headers([]), ERROR, bucket=None, key=None)
    assert RetryBudget(RetryPolicy(), replayable=False).delay_after(1, slow) is None
    missing = service_error(404, "", Headers([]), b"", bucket="b", key="k")
    assert RetryBudget(RetryPolicy(), replayable=True).delay_after(1, missing) is None


def test_a_budget_stops_at_the_total_timeout() -> None:
    now = [0.0]
    slow = service_error(503, "", Headers([]), ERROR, bucket=None, key=None)
    budget = RetryBudget(
        RetryPolicy(max_attempts=10, total_timeout=5.0), replayable=True, clock=lambda: now[0]
    )
    assert budget.delay_after(1, slow) is not None
    now[0] = 5.0
    assert budget.delay_after(2, slow) is None
