"""One bucket-name rule (S3's published rules), the same through every entry point."""

from __future__ import annotations

import pytest

from s3lite import ConfigurationError, InvalidRequestError, parse_connection_string
from s3lite._urls import bucket_name_problem, validate_bucket_name

VALID = [
    "abc",
    "a" * 63,
    "my-bucket",
    "my.bucket.name",
    "0bucket9",
    "bucket-xn--middle",
    "s3alias-first",
    "sthree",
    "1.2.3",
    "1.2.3.4a",
]

# name, what the refusal says
INVALID = [
    ("ab", "3 to 63 characters"),
    ("a" * 64, "3 to 63 characters"),
    ("UPPER", "only lowercase letters"),
    ("under_score", "only lowercase letters"),
    ("sp ace", "only lowercase letters"),
    ("-lead", "start and end with a letter or digit"),
    ("trail-", "start and end with a letter or digit"),
    (".dot", "start and end with a letter or digit"),
    ("a..b", "two adjacent dots"),
    ("a.-b", "hyphen adjacent to a dot"),
    ("a-.b", "hyphen adjacent to a dot"),
    ("192.168.5.4", "formatted as an IP address"),
    ("999.1.1.1", "formatted as an IP address"),
    ("xn--bucket", "reserved prefix 'xn--'"),
    ("sthree-bucket", "reserved prefix 'sthree-'"),
    ("sthree-configurator", "reserved prefix 'sthree-'"),
    ("amzn-s3-demo-bucket", "reserved prefix 'amzn-s3-demo-'"),
    ("bucket-s3alias", "reserved suffix '-s3alias'"),
    ("bucket--ol-s3", "reserved suffix '--ol-s3'"),
    ("bucket.mrap", "reserved suffix '.mrap'"),
    ("bucket--x-s3", "reserved suffix '--x-s3'"),
    ("bucket--table-s3", "reserved suffix '--table-s3'"),
]


def _connection_string(bucket: str) -> str:
    return (
        "ServiceUrl=http://h; AccessKey=AKIATEST; SecretKey=test-secret-value; "
        f"ObjectBucketName={bucket};"
    )


@pytest.mark.parametrize("name", VALID)
def test_valid_names_pass_every_entry_point(name: str) -> None:
    assert bucket_name_problem(name) is None
    assert validate_bucket_name(name) == name
    assert parse_connection_string(_connection_string(name)).object_bucket == name


@pytest.mark.parametrize(("name", "reason"), INVALID)
def test_invalid_names_are_refused_by_every_entry_point_for_the_same_reason(
    name: str, reason: str
) -> None:
    problem = bucket_name_problem(name)
    assert problem is not None
    assert reason in problem
    with pytest.raises(InvalidRequestError, match="invalid bucket name") as by_client:
        validate_bucket_name(name)
    assert reason in str(by_client.value)
    with pytest.raises(ConfigurationError, match="ObjectBucketName") as by_string:
        parse_connection_string(_connection_string(name))
    assert reason in str(by_string.value)


@pytest.mark.parametrize("name", ["a.-b", "999.1.1.1"])
def test_names_the_two_validators_used_to_disagree_on_are_refused_by_both(name: str) -> None:
    # Before one rule: "a.-b" passed the connection string and failed at first use;
    # "999.1.1.1" failed the connection string and passed the client.
    with pytest.raises(InvalidRequestError):
        validate_bucket_name(name)
    with pytest.raises(ConfigurationError):
        parse_connection_string(_connection_string(name))
