"""A bucket in another region is followed, as AWS asks: a local server on 127.0.0.1
answers as S3 does to a request signed for the wrong region (301 PermanentRedirect with
``x-amz-bucket-region``, 400 AuthorizationHeaderMalformed naming the region, a bare 301 to
a HEAD); the client signs again for that region and remembers it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from s3lite import S3Client, ServiceError
from s3lite._urls import Endpoint
from tests.fakeaws import Answer, FakeAws, Request, running

pytestmark = pytest.mark.anyio

HOME = "eu-west-1"


def scope_region(request: Request) -> str:
    match = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/s3/", request.headers["authorization"])
    assert match is not None
    return match[1]


def as_aws(request: Request) -> Answer:
    """The bucket ``far-bucket`` lives in eu-west-1."""
    region = scope_region(request)
    if region == HOME:
        body = b"hello" if request.method == "GET" else b""
        return 200, {"etag": '"5d41402abc4b2a76b9719d911017c592"'}, body
    if request.method == "HEAD":
        return 301, {"x-amz-bucket-region": HOME}, b""
    if request.method == "PUT":
        return 400, {}, (
            b"<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region '"
            + region.encode()
            + b"' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>"
        )
    return 301, {"x-amz-bucket-region": HOME}, (
        b"<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to "
        b"access must be addressed using the specified endpoint.</Message>"
        b"<Endpoint>far-bucket.s3.eu-west-1.amazonaws.com</Endpoint></Error>"
    )


@pytest.fixture
def aws() -> Iterator[FakeAws]:
    fake = FakeAws()
    for method in ("GET", "PUT", "HEAD"):
        fake.routes[(method, "/far-bucket/k")] = as_aws
    with running(fake) as server:
        yield server


def client(fake: FakeAws) -> S3Client:
    return S3Client(
        fake.url, access_key="AK", secret_key="s", region="us-east-1", addressing_style="path"
    )


async def test_a_redirected_get_is_signed_again_for_the_buckets_region(aws: FakeAws) -> None:
    async with client(aws) as s3:
        assert await (await s3.get_object("far-bucket", "k")).read() == b"hello"
        assert await s3.object_exists("far-bucket", "k")  # remembered: straight there

    regions = [(r.method, scope_region(r)) for r in aws.requests]
    assert regions == [("GET", "us-east-1"), ("GET", HOME), ("HEAD", HOME)]


@pytest.mark.parametrize("method", ["PUT", "HEAD"])
async def test_authorization_header_malformed_and_a_bare_301_are_followed(
    aws: FakeAws, method: str
) -> None:
    async with client(aws) as s3:
        if method == "PUT":
            await s3.put_object("far-bucket", "k", b"data")
        else:
            await s3.head_object("far-bucket", "k")
        assert HOME in s3.presign_get("far-bucket", "k")  # presigned for its region too

    assert [scope_region(r) for r in aws.requests] == ["us-east-1", HOME]


async def test_a_redirect_is_followed_once_not_forever(aws: FakeAws) -> None:
    def always_elsewhere(request: Request) -> Answer:
        region = "ap-south-1" if scope_region(request) != "ap-south-1" else "sa-east-1"
        return 301, {"x-amz-bucket-region": region}, b""

    aws.routes[("GET", "/far-bucket/k")] = always_elsewhere
    async with client(aws) as s3:
        with pytest.raises(ServiceError) as raised:
            await s3.get_object("far-bucket", "k")
    assert (raised.value.code, raised.value.bucket_region) == ("PermanentRedirect", "sa-east-1")
    assert len(aws.requests) == 2


def test_aws_endpoints_move_to_the_buckets_region_and_others_stay() -> None:
    moved = {
        "https://s3.amazonaws.com": "https://s3.eu-west-1.amazonaws.com",
        "https://s3.us-east-2.amazonaws.com": "https://s3.eu-west-1.amazonaws.com",
        "https://s3-us-west-1.amazonaws.com": "https://s3.eu-west-1.amazonaws.com",
        "https://s3.dualstack.us-west-2.amazonaws.com": (
            "https://s3.dualstack.eu-west-1.amazonaws.com"
        ),
        "http://127.0.0.1:9000": "http://127.0.0.1:9000",
        "https://minio.example.com": "https://minio.example.com",
    }
    for url, expected in moved.items():
        assert str(Endpoint.parse(url).in_region(HOME)) == expected
    target = Endpoint.parse("https://s3.eu-west-1.amazonaws.com").target("my.dotted.bucket", "k")
    assert (target.host, target.path) == ("s3.eu-west-1.amazonaws.com", "/my.dotted.bucket/k")
