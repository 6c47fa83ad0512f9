"""``s3lite._credentials``: one rule for credentials and region, used by every entry point."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from s3lite import ConfigurationError, S3Client, parse_connection_string
from s3lite._credentials import Credentials, resolve_credentials, resolve_region

ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAENV",
    "AWS_SECRET_ACCESS_KEY": "env-secret",
    "AWS_SESSION_TOKEN": "env-token",
}
CONNECTION = (
    "ServiceUrl=http://127.0.0.1:9; AccessKey=AKIAENV; SecretKey=own-secret; "
    "ObjectBucketName=files;"
)


def test_explicit_keys_never_take_the_environment_token() -> None:
    resolved = resolve_credentials("AKIAENV", "own-secret", None, ENV)
    assert resolved.credentials == Credentials("AKIAENV", "own-secret", None)
    assert resolved.origin == "explicit"


def test_the_environment_is_taken_whole() -> None:
    resolved = resolve_credentials(None, None, None, ENV)
    assert resolved.credentials == Credentials("AKIAENV", "env-secret", "env-token")
    assert resolved.origin == "environment"


@pytest.mark.parametrize(
    ("key", "secret", "token", "named"),
    [
        ("AKIA", None, None, "access_key is given but secret_key is not"),
        (None, "s", None, "secret_key is given but access_key is not"),
        (None, None, "t", "session_token is given but access_key and secret_key is not"),
    ],
)
def test_a_partial_explicit_source_is_refused_not_completed_from_the_environment(
    key: str | None, secret: str | None, token: str | None, named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named) as info:
        resolve_credentials(key, secret, token, ENV)
    assert "env-secret" not in str(info.value)


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set"),
        ({"AWS_ACCESS_KEY_ID": "AK"}, "(AWS_SECRET_ACCESS_KEY not set)"),
        ({"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "s"}, "(AWS_ACCESS_KEY_ID not set)"),
    ],
)
def test_missing_environment_credentials_name_what_is_missing(
    environ: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigurationError, match="no credentials") as info:
        resolve_credentials(None, None, None, environ)
    assert missing in str(info.value)


@pytest.mark.parametrize(
    ("given", "environ", "expected"),
    [
        ("eu-west-3", {"AWS_REGION": "ap-south-1"}, ("eu-west-3", None)),
        (None, {"AWS_REGION": "ap-south-1"}, ("ap-south-1", "AWS_REGION")),
        (
            None,
            {"AWS_REGION": "", "AWS_DEFAULT_REGION": "ca-central-1"},
            ("ca-central-1", "AWS_DEFAULT_REGION"),
        ),
        (None, {}, ("us-east-1", None)),
    ],
)
def test_region_comes_from_argument_then_aws_region_then_default(
    given: str | None, environ: dict[str, str], expected: tuple[str, str | None]
) -> None:
    assert resolve_region(given, environ) == expected


async def _sent_token(build: Callable[[httpx.AsyncClient], S3Client]) -> str | None:
    """The session token the client signs its first request with."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = build(http)
        async with client:
            await client.delete_object("files", "k")
    token: str | None = seen[0].headers.get("x-amz-security-token")
    return token


@pytest.mark.anyio
async def test_client_with_the_environments_access_key_signs_without_its_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Failing first: the client took AWS_SESSION_TOKEN whenever the access key equalled
    # AWS_ACCESS_KEY_ID, although the caller gave its own key and secret.
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    token = await _sent_token(
        lambda http: S3Client(
            "http://127.0.0.1:9", access_key="AKIAENV", secret_key="own-secret", http_client=http
        ),
    )
    assert token is None


@pytest.mark.anyio
async def test_connection_string_naming_its_keys_signs_without_the_environment_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Failing first: parse_connection_string said "no token", then from_settings
    # resolved the environment again and signed with AWS_SESSION_TOKEN.
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert parse_connection_string(CONNECTION).session_token is None
    token = await _sent_token(
        lambda http: S3Client.from_connection_string(CONNECTION, http_client=http)
    )
    assert token is None


@pytest.mark.anyio
async def test_environment_credentials_sign_with_the_environment_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    token = await _sent_token(lambda http: S3Client("http://127.0.0.1:9", http_client=http))
    assert token == "env-token"
