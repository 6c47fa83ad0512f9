"""The default credential chain against fake AWS endpoints on 127.0.0.1 and shared files
in temporary homes; and that the credentials found are the ones that sign."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from s3lite import (
    ConfigurationError,
    CredentialRetrievalError,
    Credentials,
    NoCredentialsError,
    S3Client,
    _credential_sources,
)
from s3lite._credential_sources import DefaultCredentialChain
from tests.fakeaws import (
    Answer,
    FakeAws,
    Request,
    credentials_json,
    running,
    sts_credentials,
    sts_error,
)

pytestmark = pytest.mark.anyio

LATER = (datetime.now(UTC) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
ROLE_PATH = "/latest/meta-data/iam/security-credentials/"


@pytest.fixture
def fake() -> Iterator[FakeAws]:
    with running(FakeAws()) as server:
        yield server


def home(tmp_path: Path, credentials: str = "", config: str = "") -> dict[str, str]:
    """An environment whose home holds these shared files (and nothing else is set)."""
    aws = tmp_path / ".aws"
    aws.mkdir(exist_ok=True)
    (aws / "credentials").write_text(credentials)
    (aws / "config").write_text(config)
    return {"HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}


def chain(environ: dict[str, str], **kwargs: str) -> DefaultCredentialChain:
    return DefaultCredentialChain(environ, **kwargs)  # type: ignore[arg-type,unused-ignore]


def ok(body: bytes, **headers: str) -> Answer:
    return 200, headers, body


# --- environment and shared files ----------------------------------------------------


async def test_the_environment_comes_first(tmp_path: Path) -> None:
    environ = home(tmp_path, "[default]\naws_access_key_id = FILE\naws_secret_access_key = s\n")
    environ |= {"AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "e", "AWS_SESSION_TOKEN": "t"}
    assert await chain(environ).get_credentials() == Credentials("ENV", "e", "t")


async def test_an_explicit_profile_skips_the_environment_but_aws_profile_does_not(
    tmp_path: Path,
) -> None:
    environ = home(
        tmp_path,
        "[default]\naws_access_key_id = D\naws_secret_access_key = d\n"
        "[work]\naws_access_key_id = W\naws_secret_access_key = w\naws_session_token = wt\n",
    )
    environ |= {"AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "e"}
    assert (await chain(environ, profile="work").get_credentials()).access_key == "W"
    assert (await chain(environ | {"AWS_PROFILE": "work"}).get_credentials()).access_key == "ENV"
    del environ["AWS_ACCESS_KEY_ID"]  # half of the environment's keys: it does not apply
    found = await chain(environ | {"AWS_PROFILE": "work"}).get_credentials()
    assert found == Credentials("W", "w", "wt")


async def test_the_config_file_holds_profiles_under_profile_name(tmp_path: Path) -> None:
    environ = home(
        tmp_path,
        config="[profile dev]\naws_access_key_id = C\naws_secret_access_key = c\n",
    )
    assert (await chain(environ, profile="dev").get_credentials()).access_key == "C"


async def test_a_chosen_profile_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    environ = home(tmp_path, "[default]\naws_access_key_id = D\naws_secret_access_key = d\n")
    with pytest.raises(ConfigurationError, match="'nope' is not in"):
        await chain(environ | {"AWS_PROFILE": "nope"}).get_credentials()


async def test_nothing_found_names_every_source_and_no_secret(tmp_path: Path) -> None:
    environ = home(tmp_path, "[other]\naws_access_key_id = X\naws_secret_access_key = hush-7f3a\n")
    environ |= {"AWS_ACCESS_KEY_ID": "ONLYKEY"}
    with pytest.raises(NoCredentialsError) as raised:
        await chain(environ).get_credentials()
    message = str(raised.value)
    for phrase in (
        "the environment: AWS_SECRET_ACCESS_KEY is not set",
        "no [default] profile",
        "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not both set",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_EC2_METADATA_DISABLED is true",
    ):
        assert phrase in message
    assert "hush-7f3a" not in message
    assert isinstance(raised.value, ConfigurationError)


# --- credential_process ------------------------------------------------------------


def process_profile(tmp_path: Path, document: object, status: int = 0) -> dict[str, str]:
    script = tmp_path / "creds.py"
    printed = json.dumps(json.dumps(document))
    script.write_text(f"import sys\nprint({printed})\nsys.exit({status})\n")
    return home(tmp_path, config=f"[default]\ncredential_process = {sys.executable} {script}\n")


async def test_credential_process_gives_temporary_credentials(tmp_path: Path) -> None:
    document = {
        "Version": 1,
        "AccessKeyId": "PROC",
        "SecretAccessKey": "p",
        "SessionToken": "pt",
        "Expiration": LATER,
    }
    found = await chain(process_profile(tmp_path, document)).get_credentials()
    assert (found.access_key, found.secret_key, found.session_token) == ("PROC", "p", "pt")
    assert found.expiration is not None and found.expiration > datetime.now(UTC)


@pytest.mark.parametrize(
    ("document", "status", "message"),
    [
        ({"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "s"}, 3, "exited with status 3"),
        ({"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "s"}, 0, '"Version": 1'),
        ({"Version": 1, "AccessKeyId": "A"}, 0, "no AccessKeyId and SecretAccessKey"),
    ],
)
async def test_a_failing_credential_process_is_an_error(
    tmp_path: Path, document: object, status: int, message: str
) -> None:
    with pytest.raises(CredentialRetrievalError, match=message):
        await chain(process_profile(tmp_path, document, status)).get_credentials()


# --- roles through STS --------------------------------------------------------------


def sts_route(fake: FakeAws, key: str = "ROLE", token: str = "role-token") -> None:
    def answer(request: Request) -> Answer:
        action = request.form()["Action"]
        return ok(sts_credentials(action, key + str(len(fake.of("POST"))), "rs", token, LATER))

    fake.routes[("POST", "/")] = answer


async def test_role_arn_with_source_profile_assumes_the_role_signed_by_the_source(
    tmp_path: Path, fake: FakeAws
) -> None:
    sts_route(fake)
    environ = home(
        tmp_path,
        "[base]\naws_access_key_id = BASEKEY\naws_secret_access_key = b\n",
        "[profile app]\nrole_arn = arn:aws:iam::123:role/app\nsource_profile = base\n"
        "role_session_name = s3lite-test\nexternal_id = ext-1\n",
    )
    environ["AWS_ENDPOINT_URL_STS"] = fake.url

    found = await chain(environ, profile="app", region="eu-west-2").get_credentials()

    assert (found.access_key, found.session_token) == ("ROLE1", "role-token")
    (call,) = fake.of("POST", "/")
    assert call.form() == {
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": "arn:aws:iam::123:role/app",
        "RoleSessionName": "s3lite-test",
        "DurationSeconds": "3600",
        "ExternalId": "ext-1",
    }
    assert "Credential=BASEKEY/" in call.headers["authorization"]
    assert "/eu-west-2/sts/aws4_request" in call.headers["authorization"]


async def test_chained_roles_assume_each_role_with_the_one_before(
    tmp_path: Path, fake: FakeAws
) -> None:
    sts_route(fake)
    environ = home(
        tmp_path,
        "[root]\naws_access_key_id = ROOTKEY\naws_secret_access_key = r\n",
        "[profile middle]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = root\n"
        "[profile top]\nrole_arn = arn:aws:iam::1:role/t\nsource_profile = middle\n",
    )
    environ["AWS_ENDPOINT_URL"] = fake.url  # the general endpoint variable, for STS too

    found = await chain(environ, profile="top").get_credentials()

    first, second = fake.of("POST", "/")
    assert first.form()["RoleArn"].endswith("role/m")
    assert "ROOTKEY/" in first.headers["authorization"]
    assert second.form()["RoleArn"].endswith("role/t")
    assert "ROLE1/" in second.headers["authorization"]
    assert second.headers["x-amz-security-token"] == "role-token"
    assert found.access_key == "ROLE2"


async def test_a_source_profile_loop_is_an_error(tmp_path: Path) -> None:
    environ = home(
        tmp_path,
        config="[profile a]\nrole_arn = arn:a\nsource_profile = b\n"
        "[profile b]\nrole_arn = arn:b\nsource_profile = a\n",
    )
    with pytest.raises(CredentialRetrievalError, match="source_profile loops: a -> b -> a"):
        await chain(environ, profile="a").get_credentials()


async def test_credential_source_environment_and_sts_errors(
    tmp_path: Path, fake: FakeAws
) -> None:
    fake.routes[("POST", "/")] = lambda request: (403, {}, sts_error("AccessDenied", "not you"))
    profile = "[default]\nrole_arn = arn:r\ncredential_source = Environment\n"
    environ = home(tmp_path, config=profile)
    environ |= {
        "AWS_ACCESS_KEY_ID": "ENVKEY",
        "AWS_SECRET_ACCESS_KEY": "e",
        "AWS_ENDPOINT_URL_STS": fake.url,
        "AWS_PROFILE": "default",
    }
    with pytest.raises(CredentialRetrievalError, match="AssumeRole refused: AccessDenied: not you"):
        # The environment applies first; a profile given by name skips it and assumes.
        await chain(environ, profile="default").get_credentials()
    assert "ENVKEY/" in fake.of("POST")[0].headers["authorization"]


async def test_web_identity_from_the_environment_is_unsigned(
    tmp_path: Path, fake: FakeAws
) -> None:
    sts_route(fake, key="WEB", token="web-token")
    token_file = tmp_path / "token"
    token_file.write_text("eyJ.jwt.token\n")
    environ = home(tmp_path) | {
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_ROLE_ARN": "arn:aws:iam::1:role/web",
        "AWS_ROLE_SESSION_NAME": "pod-1",
        "AWS_ENDPOINT_URL_STS": fake.url,
    }

    found = await chain(environ).get_credentials()

    assert (found.access_key, found.session_token) == ("WEB1", "web-token")
    (call,) = fake.of("POST", "/")
    assert "authorization" not in call.headers
    form = call.form()
    assert form["Action"] == "AssumeRoleWithWebIdentity"
    assert (form["WebIdentityToken"], form["RoleSessionName"]) == ("eyJ.jwt.token", "pod-1")


# --- container endpoint ------------------------------------------------------------


async def test_the_container_endpoint_with_an_authorization_token_file(
    tmp_path: Path, fake: FakeAws
) -> None:
    fake.routes[("GET", "/creds")] = lambda r: ok(credentials_json("CONT", "c", "ct", LATER))
    token_file = tmp_path / "auth"
    token_file.write_text("Bearer secret-auth\n")
    environ = home(tmp_path) | {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{fake.url}/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
    }
    found = await chain(environ).get_credentials()
    assert (found.access_key, found.session_token) == ("CONT", "ct")
    assert fake.of("GET")[0].headers["authorization"] == "Bearer secret-auth"


async def test_the_relative_container_uri_goes_to_the_container_host(
    tmp_path: Path, fake: FakeAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_credential_sources, "CONTAINER_HOST", fake.url)
    fake.routes[("GET", "/v2/credentials/abc")] = lambda r: ok(
        credentials_json("REL", "r", "rt", LATER)
    )
    environ = home(tmp_path) | {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"}
    assert (await chain(environ).get_credentials()).access_key == "REL"


async def test_a_full_container_uri_over_http_must_be_local(tmp_path: Path) -> None:
    environ = home(tmp_path) | {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://203.0.113.7/creds"}
    with pytest.raises(CredentialRetrievalError, match="must be https"):
        await chain(environ).get_credentials()


# --- EC2 instance metadata --------------------------------------------------------


def imds(fake: FakeAws, *, token_status: int = 200, role: str | None = "app-role") -> None:
    tokens = iter(["token-1", "token-2", "token-3"])

    def token(request: Request) -> Answer:
        return token_status, {}, next(tokens).encode() if token_status == 200 else b""

    fake.routes[("PUT", "/latest/api/token")] = token
    fake.routes[("GET", ROLE_PATH)] = lambda r: (
        (200, {}, role.encode()) if role else (404, {}, b"")
    )
    fake.routes[("GET", ROLE_PATH + "app-role")] = lambda r: ok(
        credentials_json("INST", "i", "it", LATER)
    )


def imds_environ(tmp_path: Path, fake: FakeAws) -> dict[str, str]:
    environ = home(tmp_path) | {"AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.url}
    del environ["AWS_EC2_METADATA_DISABLED"]
    return environ


async def test_instance_metadata_uses_an_imdsv2_token(tmp_path: Path, fake: FakeAws) -> None:
    imds(fake)
    found = await chain(imds_environ(tmp_path, fake)).get_credentials()
    assert (found.access_key, found.session_token) == ("INST", "it")
    (put,) = fake.of("PUT")
    assert put.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    assert all(get.headers["x-aws-ec2-metadata-token"] == "token-1" for get in fake.of("GET"))


async def test_an_imdsv1_only_instance_is_not_used(tmp_path: Path, fake: FakeAws) -> None:
    imds(fake, token_status=403)
    with pytest.raises(NoCredentialsError, match="refused an IMDSv2 token"):
        await chain(imds_environ(tmp_path, fake)).get_credentials()
    assert fake.of("GET") == []  # never asked without a token


async def test_an_expired_imds_token_is_renewed_once(tmp_path: Path, fake: FakeAws) -> None:
    imds(fake)
    answers: Iterator[Answer] = iter([(401, {}, b""), (200, {}, b"app-role")])
    fake.routes[("GET", ROLE_PATH)] = lambda r: next(answers)
    found = await chain(imds_environ(tmp_path, fake)).get_credentials()
    assert found.access_key == "INST"
    assert len(fake.of("PUT")) == 2


async def test_an_instance_without_a_role_and_a_slow_one(tmp_path: Path, fake: FakeAws) -> None:
    imds(fake, role=None)
    with pytest.raises(NoCredentialsError, match="the instance has no IAM role"):
        await chain(imds_environ(tmp_path, fake)).get_credentials()

    def slow(request: Request) -> Answer:
        time.sleep(2.0)
        return ok(b"late")

    fake.routes[("PUT", "/latest/api/token")] = slow
    environ = imds_environ(tmp_path, fake) | {"AWS_METADATA_SERVICE_TIMEOUT": "0.3"}
    started = time.monotonic()
    with pytest.raises(NoCredentialsError, match="instance metadata did not answer"):
        await chain(environ).get_credentials()
    assert time.monotonic() - started < 1.8  # a laptop is not kept waiting


# --- the client signs with what the chain found ------------------------------------


async def signed_with(client_factory: object) -> httpx.Request:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        client_factory(http) as s3,  # type: ignore[operator]
    ):
        await s3.delete_object("bucket", "key")
    return seen[0]


async def test_the_client_signs_with_the_instance_role(
    tmp_path: Path, fake: FakeAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    imds(fake)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in imds_environ(tmp_path, fake).items():
        monkeypatch.setenv(name, value)

    request = await signed_with(
        lambda http: S3Client("http://127.0.0.1:9", region="eu-west-1", http_client=http)
    )
    assert "Credential=INST/" in request.headers["authorization"]
    assert "/eu-west-1/s3/aws4_request" in request.headers["authorization"]
    assert request.headers["x-amz-security-token"] == "it"


async def test_the_client_takes_region_and_endpoint_from_the_profile_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = home(
        tmp_path,
        "[dev]\naws_access_key_id = DEVKEY\naws_secret_access_key = d\n",
        "[profile dev]\nregion = ap-south-2\n",
    )
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9999")

    client = S3Client(profile="dev")
    assert (client.region, client.endpoint) == ("ap-south-2", "http://127.0.0.1:9999")
    assert "DEVKEY" in client.presign_get("bkt", "k")  # static keys: known at once
    request = await signed_with(lambda http: S3Client(profile="dev", http_client=http))
    assert "Credential=DEVKEY/" in request.headers["authorization"]


async def test_a_provider_object_gives_the_credentials(tmp_path: Path) -> None:
    class Vault:
        calls = 0

        async def get_credentials(self) -> Credentials:
            Vault.calls += 1
            await anyio.lowlevel.checkpoint()
            return Credentials("VAULT", "v", "vt", datetime.now(UTC) + timedelta(hours=1))

    request = await signed_with(
        lambda http: S3Client("http://127.0.0.1:9", credentials=Vault(), http_client=http)
    )
    assert "Credential=VAULT/" in request.headers["authorization"]
    assert request.headers["x-amz-security-token"] == "vt"
    with pytest.raises(ConfigurationError, match="get_credentials"):
        S3Client("http://127.0.0.1:9", credentials="AKIA:secret")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not both"):
        S3Client("http://127.0.0.1:9", credentials=Vault(), access_key="a", secret_key="s")
