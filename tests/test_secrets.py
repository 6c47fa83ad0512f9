"""Secrets never show: not in ``repr``/``str``, logs, exception messages or CLI output.

Objects that never talk to the server get a made-up secret, new for every test; tests
against the real server use its secret (random for every session).  Every exception
these tests provoke goes through ``raises_clean``, which checks its ``str``, ``repr``
and whole formatted traceback (causes and contexts included).  Each check has a
positive control (the access key, a bucket name, a file id *does* appear), so an empty
capture cannot pass for a clean one.
"""

from __future__ import annotations

import logging
import secrets
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx
import pytest

from s3lite import (
    ConfigurationError,
    ConnectionSettings,
    Credentials,
    InvalidAccessKeyId,
    NoSuchBucket,
    NoSuchKey,
    RetryPolicy,
    S3Client,
    S3Error,
    SignatureDoesNotMatch,
    parse_connection_string,
    read_connection_config,
)
from s3lite._cli import ENV_CONNECTION_STRING, main
from s3lite._options import MIN_PART_SIZE
from s3lite._signing import signing_key
from s3lite.storage import FileStorage
from tests.conftest import TestServer, empty_and_delete_bucket, unique_bucket_name
from tests.faultproxy import FaultProxy, Respond, Rule, upstream_of
from tests.s3server import LocalS3Server

pytestmark = pytest.mark.anyio

ACCESS_KEY = "AKIDEXAMPLESECRETS"
RECORD = "0b6c4c5e-39ba-4f5e-9df3-0d4b5b0c1a2e"
LOGGERS = ("s3lite", "httpx", "httpcore")


@pytest.fixture
def secret() -> str:
    """A made-up secret key, new for every test."""
    return f"madeUpSecret{secrets.token_urlsafe(24)}"


@pytest.fixture
def token() -> str:
    """A made-up session token, new for every test."""
    return f"madeUpToken{secrets.token_urlsafe(32)}"


def forms(value: str) -> list[str]:
    """A secret as it could appear: as is, URL-encoded, and as its derived signing key."""
    today = datetime.now(UTC).strftime("%Y%m%d")
    return [
        value,
        quote(value, safe=""),
        signing_key(value, today, "us-east-1", "s3").hex(),
    ]


def assert_clean(text: str, *hidden: str) -> None:
    """Fail if any form of any ``hidden`` value is in ``text`` (the report masks them)."""
    found = [form for value in hidden for form in forms(value) if form in text]
    if found:
        for form in found:
            text = text.replace(form, "<SECRET>")
        message = f"{len(found)} secret value(s) shown as <SECRET> in:\n{text[:3000]}"
        raise AssertionError(message) from None  # no context: it would show the secret


def exception_text(error: BaseException) -> str:
    """``str``, ``repr`` and the full formatted traceback (with causes) of ``error``."""
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


@contextmanager
def raises_clean(
    expected: type[BaseException], *hidden: str, match: str | None = None
) -> Iterator[None]:
    """``pytest.raises`` that also checks the exception shows none of ``hidden``."""
    with pytest.raises(expected, match=match) as caught:
        yield
    assert_clean(exception_text(caught.value), *hidden)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = []
    for record in caplog.records:
        lines.append(formatter.format(record))  # the message, plus exc_info and stack_info
        lines.append(repr(record.msg))
        lines.append(repr(record.args))
    return "\n".join(lines)


def capture_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


# --- repr and str ------------------------------------------------------------------------


def test_credentials_repr_and_str_mask_the_secret_and_the_token(secret: str, token: str) -> None:
    credentials = Credentials(ACCESS_KEY, secret, token)
    for text in (repr(credentials), str(credentials), f"{credentials}", f"{credentials!r}"):
        assert ACCESS_KEY in text
        assert "***" in text
        assert_clean(text, secret, token)
    assert_clean(repr(Credentials(ACCESS_KEY, secret)), secret)


def test_client_repr_and_str_mask_the_secret_and_the_token(secret: str, token: str) -> None:
    client = S3Client(
        "http://127.0.0.1:9", access_key=ACCESS_KEY, secret_key=secret, session_token=token
    )
    for text in (repr(client), str(client), f"{client}", repr([client])):
        assert ACCESS_KEY in text
        assert "127.0.0.1:9" in text
        assert_clean(text, secret, token)


def test_connection_settings_repr_and_str_mask_the_secret_and_the_token(
    secret: str, token: str
) -> None:
    settings = ConnectionSettings(
        service_url="http://127.0.0.1:9",
        access_key=ACCESS_KEY,
        secret_key=secret,
        object_bucket="objects",
        recycle_bucket="recycle",
        session_token=token,
    )
    parsed = parse_connection_string(settings.to_connection_string(), environ={})
    assert parsed == settings
    assert secret in settings.to_connection_string()  # by design: it is the secret
    for value in (settings, parsed):
        for text in (repr(value), str(value), f"{value}", repr({"settings": value})):
            assert ACCESS_KEY in text
            assert "objects" in text
            assert_clean(text, secret, token)


async def test_file_storage_repr_masks_the_secret(secret: str, tmp_path: Path) -> None:
    text = (
        f"ServiceUrl=http://127.0.0.1:9; AccessKey={ACCESS_KEY}; SecretKey={secret}; "
        "ObjectBucketName=repr-objects; RecycleBucketName=repr-recycle;"
    )
    storage = FileStorage(tmp_path / "files.db", text)
    assert "files.db" in repr(storage)
    assert_clean(repr(storage), secret)
    async with storage as fs:  # connecting does not contact the server
        for shown in (repr(fs), str(fs), repr(fs._s3_store())):
            assert "repr-objects" in shown
            assert "repr-recycle" in shown
            assert_clean(shown, secret)


async def test_file_storage_repr_masks_the_real_secret(
    s3_server: TestServer, tmp_path: Path
) -> None:
    text = s3_server.connection_string(unique_bucket_name("r"), unique_bucket_name("rr"))
    async with FileStorage(tmp_path / "files.db", text) as fs:
        assert s3_server.settings.service_url in repr(fs)
        assert_clean(repr(fs) + str(fs), s3_server.settings.secret_key)


def test_local_s3_server_and_test_server_reprs_mask_the_secret(
    secret: str, tmp_path: Path, s3_server: TestServer
) -> None:
    server = LocalS3Server("http://127.0.0.1:9", ACCESS_KEY, secret, "us-east-1", tmp_path)
    for text in (repr(server), str(server), f"{server}"):
        assert ACCESS_KEY in text
        assert_clean(text, secret)
    assert secret in server.connection_string()  # by design
    real = repr(s3_server) + str(s3_server) + repr(s3_server.settings)
    assert s3_server.settings.access_key in real
    assert_clean(real, s3_server.settings.secret_key)


# --- exception messages ------------------------------------------------------------------

# Connection strings a person could get wrong, each holding the secret ({secret}) and
# the session token ({token}); every one must fail without showing either.
MALFORMED = [
    pytest.param(
        "ServiceUrl=ftp://127.0.0.1; AccessKey=AK; SecretKey={secret}; ObjectBucketName=b1c;",
        "ServiceUrl must start with http:// or https://",
        id="bad-scheme",
    ),
    pytest.param(
        "ServiceUrl=http://AK:{secret}@127.0.0.1; ObjectBucketName=b1c;",
        "must not contain user info",
        id="secret-in-url",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; SecretKey={secret}; SecretKey={secret}x;"
        " ObjectBucketName=b1c;",
        "SecretKey is given more than once",
        id="duplicate-secret",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; {secret}; ObjectBucketName=b1c;",
        "is not Key=Value",
        id="secret-without-key",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; SecretKey{secret}=x; ObjectBucketName=b1c;",
        "starts with SecretKey followed by more text",
        id="secret-glued-to-key",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; Secret={secret}; ObjectBucketName=b1c;",
        "unknown key 'Secret'",
        id="misspelt-secret-key",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; SecretKey={secret}; Region={secret};"
        " ObjectBucketName=b1c;",
        "is not a valid region",
        id="secret-as-region",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; SecretKey={secret}; ObjectBucketName={secret};",
        "is not a valid bucket name",
        id="secret-as-bucket",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; SecretKey={secret};",
        "ObjectBucketName is missing",
        id="missing-bucket",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; SecretKey={secret}; ObjectBucketName=b1c;"
        " SessionToken='{token} x';",
        "SessionToken must be printable ASCII without spaces",
        id="bad-token",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; SecretKey='{secret}\x01';"
        " ObjectBucketName=b1c;",
        "SecretKey must not contain control characters",
        id="control-char-in-secret",
    ),
    pytest.param(
        "ServiceUrl=http://127.0.0.1; AccessKey=AK; SecretKey='{secret}; ObjectBucketName=b1c;",
        "has a value with no closing '",
        id="unclosed-quote",
    ),
]


@pytest.mark.parametrize(("template", "message"), MALFORMED)
def test_malformed_connection_strings_never_show_the_secret(
    template: str, message: str, secret: str, token: str, tmp_path: Path
) -> None:
    text = template.format(secret=secret, token=token)
    with raises_clean(ConfigurationError, secret, token, match=message):
        parse_connection_string(text, environ={})
    with raises_clean(ConfigurationError, secret, token, match=message):
        S3Client.from_connection_string(text)
    with raises_clean(ConfigurationError, secret, token, match=message):
        FileStorage(tmp_path / "files.db", text)
    config = tmp_path / "ConnectionStrings.config"
    quoted = text.replace("&", "&amp;").replace('"', "&quot;").replace("\x01", "&#1;")
    config.write_text(
        f'<connectionStrings><add name="s3Connection" connectionString="{quoted}"/>'
        "</connectionStrings>",
        encoding="utf-8",
    )
    if "\x01" not in text:  # XML 1.0 cannot carry a control character at all
        with raises_clean(ConfigurationError, secret, token, match=message):
            read_connection_config(config, environ={})


def test_a_secret_from_the_environment_is_not_shown_either(secret: str) -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": secret}
    text = f"ServiceUrl=http://127.0.0.1; ObjectBucketName=b1c; Region={secret};"
    with raises_clean(ConfigurationError, secret, match="is not a valid region"):
        parse_connection_string(text, environ=environ)


def test_a_malformed_config_file_holding_the_secret_does_not_show_it(
    secret: str, tmp_path: Path
) -> None:
    config = tmp_path / "ConnectionStrings.config"
    config.write_text(
        '<connectionStrings><add name="s3Connection" connectionString="ServiceUrl='
        f'http://127.0.0.1; AccessKey=AK; SecretKey={secret}; ObjectBucketName=b1c;"/>'
        f"<broken {secret}></connectionStrings>",
        encoding="utf-8",
    )
    with raises_clean(ConfigurationError, secret, match="is not well-formed XML"):
        read_connection_config(config)


def test_bad_client_options_do_not_show_the_secret(secret: str, token: str) -> None:
    options = {"access_key": ACCESS_KEY, "secret_key": secret, "session_token": token}
    with raises_clean(ConfigurationError, secret, token, match="part_size"):
        S3Client("http://127.0.0.1:9", part_size=1, **options)  # type: ignore[arg-type]
    with raises_clean(ConfigurationError, secret, token, match="must not carry credentials"):
        S3Client(f"http://{ACCESS_KEY}:{secret}@127.0.0.1:9", **options)  # type: ignore[arg-type]


def test_a_connection_string_passed_as_the_endpoint_does_not_show_the_secret(
    secret: str,
) -> None:
    text = f"ServiceUrl=http://127.0.0.1:9; AccessKey=AK; SecretKey={secret}; ObjectBucketName=b1c;"
    with raises_clean(ConfigurationError, secret, match="http:// or https://"):
        S3Client(text, access_key="AK", secret_key="x")


# --- the real server: errors, logs and presigned URLs ----------------------------------


async def test_a_wrong_secret_fails_without_showing_either_secret(
    s3_server: TestServer, bucket: str, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    capture_debug_logs(caplog)
    real = s3_server.settings.secret_key
    settings = s3_server.settings
    async with S3Client(
        settings.service_url,
        access_key=settings.access_key,
        secret_key=secret,
        region=settings.region,
    ) as wrong:
        assert_clean(repr(wrong), secret, real)
        with raises_clean(SignatureDoesNotMatch, secret, real, match="SignatureDoesNotMatch"):
            await wrong.put_object(bucket, "k", b"data")
        with raises_clean(SignatureDoesNotMatch, secret, real):
            await (await wrong.get_object(bucket, "k")).read()
        with raises_clean(SignatureDoesNotMatch, secret, real):
            [entry async for entry in wrong.list_objects(bucket)]
    logs = log_text(caplog)
    assert f"/{bucket}/k" in logs  # the failed requests were logged ...
    assert "403" in logs
    assert_clean(logs, secret, real)  # ... without either secret


async def test_a_session_token_is_not_shown_in_errors_or_logs(
    s3_server: TestServer, bucket: str, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    capture_debug_logs(caplog)
    settings = s3_server.settings
    async with S3Client(
        settings.service_url,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        session_token=token,
        region=settings.region,
    ) as s3:
        assert_clean(repr(s3), token, settings.secret_key)
        with raises_clean(S3Error, token, settings.secret_key):
            if "ignores-session-token" in s3_server.quirks:
                await s3.head_object(bucket, "k")  # the token is accepted: make an error
            else:  # SeaweedFS knows no session tokens: it refuses the request
                await s3.put_object(bucket, "k", b"data")
        url = s3.presign_get(bucket, "k")
    assert settings.access_key in url
    assert f"X-Amz-Security-Token={quote(token, safe='')}" in url  # needed by the URL holder
    assert_clean(url, settings.secret_key)
    logs = log_text(caplog)
    assert f"/{bucket}/k" in logs
    assert_clean(logs, token, settings.secret_key)


async def test_presigned_urls_carry_the_access_key_but_not_the_secret(
    s3_server: TestServer, s3: S3Client, bucket: str
) -> None:
    settings = s3_server.settings
    await s3.put_object(bucket, "doc.txt", b"presigned")
    get_url = s3.presign_get(bucket, "doc.txt", expires_in=60)
    put_url = s3.presign_put(bucket, "up.txt", expires_in=60, content_type="text/plain")
    for url in (get_url, put_url):
        assert f"X-Amz-Credential={quote(settings.access_key, safe='')}%2F" in url
        assert "X-Amz-Signature=" in url
        assert_clean(url, settings.secret_key)
    async with httpx.AsyncClient() as http:  # the URLs work: they are the real thing
        assert (await http.get(get_url)).content == b"presigned"
        put = await http.put(put_url, content=b"up", headers={"content-type": "text/plain"})
        assert put.status_code == 200
    assert await (await s3.get_object(bucket, "up.txt")).read() == b"up"


async def test_debug_logs_of_every_operation_never_show_the_secret(
    s3_server: TestServer, bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture_debug_logs(caplog)
    real = s3_server.settings.secret_key
    missing = unique_bucket_name("absent")
    retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
    async with s3_server.client(
        multipart_threshold=MIN_PART_SIZE, part_size=MIN_PART_SIZE, retry=retry
    ) as s3:
        await s3.put_object(bucket, "small.txt", b"hello", metadata={"owner": "me"})
        await s3.put_object(bucket, "big.bin", b"x" * (MIN_PART_SIZE + 1))  # multipart
        assert await (await s3.get_object(bucket, "small.txt")).read() == b"hello"
        assert await (await s3.get_object(bucket, "big.bin", range=(0, 3))).read() == b"xxxx"
        assert (await s3.head_object(bucket, "small.txt")).metadata == {"owner": "me"}
        assert len([entry async for entry in s3.list_objects(bucket)]) == 2
        await s3.copy_object(bucket, "small.txt", bucket, "copy.txt")
        upload_id = await s3.create_multipart_upload(bucket, "parts.bin")
        await s3.upload_part(bucket, "parts.bin", upload_id, 1, b"part")
        assert len(await s3.list_parts(bucket, "parts.bin", upload_id)) == 1
        assert [u.key async for u in s3.list_multipart_uploads(bucket)] == ["parts.bin"]
        await s3.abort_multipart_upload(bucket, "parts.bin", upload_id)
        url = s3.presign_get(bucket, "small.txt")
        async with httpx.AsyncClient() as http:
            assert (await http.get(url)).content == b"hello"
        await s3.delete_object(bucket, "copy.txt")
        await s3.delete_objects(bucket, ["big.bin"])
        with raises_clean(NoSuchKey, real):
            await s3.get_object(bucket, "absent.txt")
        with raises_clean(NoSuchKey, real):
            await s3.head_object(bucket, "absent.txt")
        with raises_clean(NoSuchBucket, real):
            await s3.put_object(missing, "k", b"x")
        with raises_clean(S3Error, real):
            await s3.copy_object(bucket, "small.txt", missing, "k")
        await empty_and_delete_bucket(s3, missing)

    # A retried request logs the error it retries: force one through the fault proxy.
    settings = s3_server.settings
    async with FaultProxy(*upstream_of(settings.service_url)) as proxy:
        proxy.add(Rule(Respond(500, "InternalError"), method="GET", target="/small.txt$"))
        async with S3Client(
            proxy.endpoint,
            access_key=settings.access_key,
            secret_key=real,
            region=settings.region,
            addressing_style="path",
            retry=retry,
        ) as via_proxy:
            assert await (await via_proxy.get_object(bucket, "small.txt")).read() == b"hello"
        assert proxy.count("GET") == 2

    objects, recycle = unique_bucket_name("lo"), unique_bucket_name("lr")
    text = s3_server.connection_string(objects, recycle)
    async with FileStorage(tmp_path / "files.db", text) as fs:
        try:
            await fs.set_active_storage("S3")
            info = await fs.upload("ActivityFile", RECORD, "a.txt", b"storage")
            await fs.delete(info.id)
            await fs.restore(info.id)
            await fs.migrate("S3", "Database")
            await fs.migrate("Database", "S3")
            assert await fs.read(info.id) == b"storage"
        finally:
            client = fs._s3_store().client
            for name in (objects, recycle):
                await empty_and_delete_bucket(client, name)

    logs = log_text(caplog)
    names = {record.name.split(".")[0] for record in caplog.records}
    assert names >= set(LOGGERS), names  # DEBUG records of s3lite, httpx and httpcore
    assert "retrying" in logs  # the retry path logged the error it retries
    assert f"X-Amz-Credential={s3_server.settings.access_key}" in logs  # httpx logs URLs
    for expected in (bucket, "big.bin", "parts.bin", objects, str(info.id)):
        assert expected in logs
    assert_clean(logs, real)


# --- the command line --------------------------------------------------------------------


@pytest.fixture
def cli_buckets(s3_server: TestServer) -> Iterator[tuple[str, str]]:
    names = unique_bucket_name("scli"), unique_bucket_name("sclr")
    yield names

    async def cleanup() -> None:
        async with s3_server.client() as client:
            for name in names:
                await empty_and_delete_bucket(client, name)

    anyio.run(cleanup)


@pytest.fixture
def in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_CONNECTION_STRING, raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit status, and stdout followed by stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + "\n--- stderr ---\n" + captured.err


def test_cli_output_and_logs_never_show_the_secret(
    s3_server: TestServer,
    cli_buckets: tuple[str, str],
    in_tmp_folder: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture_debug_logs(caplog)
    real = s3_server.settings.secret_key
    text = s3_server.connection_string(*cli_buckets)
    (in_tmp_folder / "report.txt").write_bytes(b"cli content")
    common = ["--database", "files.db", "--connection-string", text, "-v", "--progress"]

    def cli(*argv: str, expect: int = 0) -> str:
        code, output = run(capsys, *common, *argv)
        assert code == expect, output
        assert_clean(output, real)
        return output

    assert "S3" in cli("active-storage", "S3")
    stdout = cli("put", "ActivityFile", RECORD, "report.txt").partition("--- stderr ---")[0]
    file_id = str(uuid.UUID(stdout.strip()))
    assert file_id in cli("ls", "--all", "--json")
    assert "S3" in cli("info", file_id)
    assert "cli content" in cli("get", file_id, "-")
    assert file_id in cli("rm", file_id)
    assert file_id in cli("restore", file_id)
    assert "migrated 1 file(s)" in cli("migrate", "S3", "Database")
    assert "migrated 1 file(s)" in cli("migrate", "Database", "S3")
    assert "30 day(s)" in cli("lifecycle", "--days", "30")
    cli("repair")
    cli("purge")
    # Errors after a valid connection string: a bad subcommand argument, an unknown id.
    assert "unknown store code 'Nowhere'" in cli("migrate", "Database", "Nowhere", expect=1)
    assert "not a file id" in cli("info", "not-a-uuid", expect=1)
    assert "invalid choice: 'maybe'" in cli(
        "feature", "UseBaseEntityFileDeleteListener", "maybe", expect=2
    )
    assert "required: FILE_ID" in cli("rm", expect=2)
    assert "--batch-size: not a whole number" in cli(
        "migrate", "S3", "Database", "--batch-size", "many", expect=2
    )
    assert_clean(log_text(caplog), real)
    assert s3_server.settings.service_url.split("//")[1] in log_text(caplog)


@pytest.mark.parametrize(("template", "message"), MALFORMED)
def test_cli_with_a_malformed_connection_string_does_not_show_the_secret(
    template: str,
    message: str,
    secret: str,
    token: str,
    in_tmp_folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = template.format(secret=secret, token=token)
    code, output = run(capsys, "--connection-string", text, "ls")
    assert code == 1, output
    assert "s3lite: error:" in output
    assert_clean(output, secret, token)
    monkeypatch.setenv(ENV_CONNECTION_STRING, text)
    code, output = run(capsys, "ls")
    assert code == 1, output
    assert "s3lite: error:" in output
    assert_clean(output, secret, token)


def test_cli_with_a_wrong_secret_does_not_show_it(
    s3_server: TestServer,
    cli_buckets: tuple[str, str],
    secret: str,
    in_tmp_folder: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture_debug_logs(caplog)
    real = s3_server.settings.secret_key
    text = s3_server.connection_string(*cli_buckets).replace(real, secret)
    assert secret in text
    (in_tmp_folder / "a.txt").write_bytes(b"x")
    common = ["--database", "files.db", "--connection-string", text, "-v"]
    assert run(capsys, *common, "active-storage", "S3")[0] == 0
    code, output = run(capsys, *common, "put", "ActivityFile", RECORD, "a.txt")
    assert code == 1
    assert "SignatureDoesNotMatch" in output
    assert_clean(output + log_text(caplog), secret, real)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--connection_string={text}", "ls"], id="underscore-option"),
        pytest.param(["ls", "--conection-string", "{text}"], id="misspelt-option"),
    ],
)
def test_cli_usage_errors_do_not_echo_the_connection_string(
    argv: list[str], secret: str, in_tmp_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f"ServiceUrl=http://127.0.0.1:9; AccessKey=AK; SecretKey={secret}; ObjectBucketName=b1c;"
    code, output = run(capsys, *(arg.format(text=text) for arg in argv))
    assert code == 2
    assert "usage: s3lite" in output
    assert_clean(output, secret)


def test_cli_errors_from_the_s3_layer_do_not_show_an_invalid_access_key_secret(
    s3_server: TestServer,
    cli_buckets: tuple[str, str],
    secret: str,
    in_tmp_folder: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = s3_server.settings
    text = s3_server.connection_string(*cli_buckets)
    text = text.replace(settings.secret_key, secret).replace(settings.access_key, "AKUNKNOWN1")
    (in_tmp_folder / "a.txt").write_bytes(b"x")
    common = ["--database", "files.db", "--connection-string", text]
    assert run(capsys, *common, "active-storage", "S3")[0] == 0
    code, output = run(capsys, *common, "put", "ActivityFile", RECORD, "a.txt")
    assert code == 1
    assert "InvalidAccessKeyId" in output
    assert_clean(output, secret, settings.secret_key)
    assert InvalidAccessKeyId.__name__ in output
