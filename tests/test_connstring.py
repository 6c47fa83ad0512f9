"""Connection strings and connection-config files (``s3lite._connstring``).

Every error must be a ``ConfigurationError`` naming the offending key, and no
error message or repr may ever contain the secret key or the session token.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3lite import ClientOptions, S3Client
from s3lite._connstring import (
    CONNECTION_STRING_KEYS,
    ConnectionSettings,
    parse_connection_string,
    read_connection_config,
)
from s3lite._exceptions import ConfigurationError, S3Error
from s3lite._urls import bucket_name_problem

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY="
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789"
BASE = (
    "ServiceUrl=http://127.0.0.1:8333; AccessKey=AKIAEXAMPLE; "
    f"SecretKey={SECRET}; ObjectBucketName=files; RecycleBucketName=files-recycle;"
)
NO_ENV: dict[str, str] = {}


def parse(text: str, **environ: str) -> ConnectionSettings:
    return parse_connection_string(text, environ=environ)


def parse_error(text: str, **environ: str) -> str:
    with pytest.raises(ConfigurationError) as info:
        parse_connection_string(text, environ=environ)
    message = str(info.value)
    assert SECRET not in message
    assert TOKEN not in message
    assert text not in message
    return message


def build(**pairs: str) -> str:
    """A connection string from BASE with keys replaced (value '' removes the key)."""
    values = {
        "ServiceUrl": "http://127.0.0.1:8333",
        "AccessKey": "AKIAEXAMPLE",
        "SecretKey": SECRET,
        "ObjectBucketName": "files",
        "RecycleBucketName": "files-recycle",
    }
    values.update(pairs)
    return "; ".join(f"{key}={value}" for key, value in values.items() if value) + ";"


# --- the happy path ----------------------------------------------------------


def test_parse_reads_the_documented_example() -> None:
    settings = parse(BASE)
    assert settings == ConnectionSettings(
        service_url="http://127.0.0.1:8333",
        access_key="AKIAEXAMPLE",
        secret_key=SECRET,
        object_bucket="files",
        recycle_bucket="files-recycle",
        region="us-east-1",
        addressing_style="auto",
        session_token=None,
    )


def test_parse_accepts_values_containing_equals_signs() -> None:
    assert parse(build(SecretKey="abc=def==")).secret_key == "abc=def=="


def test_parse_treats_keys_case_insensitively() -> None:
    text = (
        "serviceurl=http://h:1; ACCESSKEY=AK; secretKEY=sk; objectbucketname=files; "
        "RECYCLEBUCKETNAME=bin; region=eu-west-1; forcepathstyle=TRUE; SESSIONTOKEN=tok"
    )
    settings = parse(text)
    assert (settings.access_key, settings.secret_key, settings.session_token) == ("AK", "sk", "tok")
    assert (settings.object_bucket, settings.recycle_bucket) == ("files", "bin")
    assert (settings.region, settings.addressing_style) == ("eu-west-1", "path")


def test_parse_tolerates_whitespace_empty_pairs_and_trailing_semicolon() -> None:
    text = (
        " ;; ServiceUrl = http://127.0.0.1:8333 ;\n\t AccessKey=AKIAEXAMPLE ;  ; "
        f"SecretKey =  {SECRET}\t;ObjectBucketName=files ; RecycleBucketName=files-recycle ; ;"
    )
    assert parse(text) == parse(BASE)


def test_parse_accepts_a_string_without_trailing_semicolon() -> None:
    assert parse(BASE.rstrip(";")) == parse(BASE)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ('"abc;def"', "abc;def"),
        ("'abc;def'", "abc;def"),
        ('"  padded  "', "  padded  "),
        ("'say \"hi\"'", 'say "hi"'),
        ('"it\'s"', "it's"),
        ('"a""b"', 'a"b'),
        ("'a''b'", "a'b"),
        ('  "x=y;z"  ', "x=y;z"),
        ('abc"def', 'abc"def'),
        ("abc'", "abc'"),
    ],
)
def test_parse_strips_one_matching_pair_of_quotes(written: str, value: str) -> None:
    assert parse(build(SecretKey=written)).secret_key == value


def test_parse_leaves_recycle_bucket_none_when_not_given() -> None:
    assert parse(build(RecycleBucketName="")).recycle_bucket is None


def test_connection_string_keys_lists_the_canonical_names() -> None:
    assert CONNECTION_STRING_KEYS == (
        "ServiceUrl",
        "AccessKey",
        "SecretKey",
        "ObjectBucketName",
        "RecycleBucketName",
        "Region",
        "SessionToken",
        "ForcePathStyle",
        "AddressingStyle",
        "Checksum",
    )


# --- ServiceUrl --------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_url", "normalised"),
    [
        ("http://127.0.0.1:8333", "http://127.0.0.1:8333"),
        ("http://127.0.0.1:8333/", "http://127.0.0.1:8333"),
        ("HTTPS://S3.Example.COM/", "https://s3.example.com"),
        ("http://s3.example.com:80", "http://s3.example.com"),
        ("https://s3.example.com:443/", "https://s3.example.com"),
        ("https://s3.example.com:80", "https://s3.example.com:80"),
        ("http://minio:9000/s3/v1//", "http://minio:9000/s3/v1"),
        ("http://[::1]:8333/", "http://[::1]:8333"),
        ("http://[0:0:0:0:0:0:0:1]", "http://[::1]"),
        ("http://my_host.internal", "http://my_host.internal"),
        ("http://localhost/Path/Kept", "http://localhost/Path/Kept"),
    ],
)
def test_service_url_is_normalised(given_url: str, normalised: str) -> None:
    assert parse(build(ServiceUrl=given_url)).service_url == normalised


@pytest.mark.parametrize(
    ("bad_url", "reason"),
    [
        ("127.0.0.1:8333", "http:// or https://"),
        ("localhost:8333", "http:// or https://"),
        ("ftp://files.example.com", "'ftp'"),
        ("http://", "no host"),
        ("http:///files", "no host"),
        ("http://host/path?x=1", "query"),
        ("http://host/?", "query"),
        ("http://host/#top", "fragment"),
        ("http://user:pw@host", "user info"),
        ("http://host:0", "port"),
        ("http://host:65536", "port"),
        ("http://host:abc", "port"),
        ("http://host:", "port"),
        ("http://ho st", "whitespace"),
        ("http://-bad-.example", "invalid host"),
        ("http://bad..example", "invalid host"),
        ("http://[::1", "IPv6"),
        ("http://[not-ip]:80", "IPv6"),
        ("http://[::1]x", "after its IPv6 host"),
    ],
)
def test_service_url_must_be_http_or_https_with_a_host(bad_url: str, reason: str) -> None:
    message = parse_error(build(ServiceUrl=bad_url))
    assert "ServiceUrl" in message
    assert reason in message


def test_service_url_with_user_info_never_echoes_the_password() -> None:
    message = parse_error(build(ServiceUrl="http://admin:hunter2pass@host:9000"))
    assert "hunter2pass" not in message


# --- buckets and region ------------------------------------------------------


@pytest.mark.parametrize(
    "bucket", ["abc", "files", "my.bucket-01", "a" * 63, "1-2", "192.168.5.4x", "0.0.0"]
)
def test_bucket_names_following_s3_rules_are_accepted(bucket: str) -> None:
    assert parse(build(ObjectBucketName=bucket, RecycleBucketName="")).object_bucket == bucket


@pytest.mark.parametrize(
    ("bucket", "reason"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("Files", "lowercase"),
        ("my_bucket", "lowercase"),
        ("-files", "start and end"),
        ("files.", "start and end"),
        ("my..bucket", "adjacent dots"),
        ("192.168.5.4", "IP address"),
    ],
)
@pytest.mark.parametrize("key", ["ObjectBucketName", "RecycleBucketName"])
def test_bucket_names_are_validated_by_s3_rules(key: str, bucket: str, reason: str) -> None:
    message = parse_error(build(**{key: bucket}))
    assert key in message
    assert reason in message


def test_recycle_bucket_must_differ_from_object_bucket() -> None:
    message = parse_error(build(ObjectBucketName="files", RecycleBucketName="files"))
    assert "RecycleBucketName" in message
    assert "ObjectBucketName" in message


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "garage", "ru-1", "-"])
def test_region_accepts_lowercase_letters_digits_and_hyphens(region: str) -> None:
    assert parse(build(Region=region)).region == region


@pytest.mark.parametrize("region", ["US-EAST-1", "eu_west_1", "eu west", "région"])
def test_region_rejects_other_characters(region: str) -> None:
    assert "Region" in parse_error(build(Region=f'"{region}"'))


# --- addressing style --------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "style"),
    [
        ("true", "path"),
        ("True", "path"),
        ("1", "path"),
        ("yes", "path"),
        ("YES", "path"),
        ("false", "virtual"),
        ("0", "virtual"),
        ("no", "virtual"),
    ],
)
def test_force_path_style_selects_path_or_virtual(flag: str, style: str) -> None:
    assert parse(build(ForcePathStyle=flag)).addressing_style == style


@pytest.mark.parametrize("style", ["auto", "path", "virtual", "PATH", "Virtual"])
def test_addressing_style_accepts_auto_path_virtual(style: str) -> None:
    assert parse(build(AddressingStyle=style)).addressing_style == style.lower()


def test_addressing_style_defaults_to_auto() -> None:
    assert parse(BASE).addressing_style == "auto"


@pytest.mark.parametrize(("flag", "style"), [("true", "path"), ("no", "virtual")])
def test_agreeing_force_path_style_and_addressing_style_are_accepted(flag: str, style: str) -> None:
    assert parse(build(ForcePathStyle=flag, AddressingStyle=style)).addressing_style == style


@pytest.mark.parametrize(
    ("flag", "style"), [("true", "virtual"), ("true", "auto"), ("false", "path")]
)
def test_conflicting_force_path_style_and_addressing_style_is_an_error(
    flag: str, style: str
) -> None:
    message = parse_error(build(ForcePathStyle=flag, AddressingStyle=style))
    assert "ForcePathStyle" in message
    assert "AddressingStyle" in message


# --- malformed strings: the key is named, the secret never shown ------------------

MALFORMED = [
    # (connection string, key the message must name)
    pytest.param(build(ServiceUrl=""), "ServiceUrl", id="missing-service-url"),
    pytest.param(build(ObjectBucketName=""), "ObjectBucketName", id="missing-object-bucket"),
    pytest.param(BASE + " AccesKey=AKIA2;", "AccesKey", id="typo-key"),
    pytest.param(BASE + " Bucket=files;", "Bucket", id="unknown-key"),
    pytest.param(BASE + " accesskey=AKIA2;", "AccessKey", id="duplicate-key-other-case"),
    pytest.param(BASE + f" SECRETKEY={SECRET};", "SecretKey", id="duplicate-secret"),
    pytest.param(BASE + " SecretKey;", "SecretKey", id="secret-key-without-equals"),
    pytest.param(
        build(SecretKey="").rstrip(";") + f"; SecretKey {SECRET}", "SecretKey", id="secret-space"
    ),
    pytest.param(
        build(SecretKey="").rstrip(";") + f"; SecretKey{SECRET}", "SecretKey", id="secret-glued"
    ),
    pytest.param(
        build(SecretKey="").rstrip(";") + f"; SecretKey:{SECRET}", "SecretKey", id="secret-colon"
    ),
    pytest.param(
        build(SecretKey="").replace("AccessKey", f"SecretKey {SECRET}; AccessKey"),
        "SecretKey",
        id="secret-space-mid-string",
    ),
    pytest.param(build(SecretKey=f"'{SECRET}"), "SecretKey", id="secret-unterminated-quote"),
    pytest.param(build(SecretKey=f'"{SECRET}" x'), "SecretKey", id="secret-text-after-quote"),
    pytest.param(build(SecretKey="''"), "SecretKey", id="secret-empty-quoted"),
    pytest.param(BASE.replace(SECRET, ""), "SecretKey", id="secret-empty"),
    pytest.param(build(SecretKey=f'"{SECRET}\x01"'), "SecretKey", id="secret-control-char"),
    pytest.param(BASE + f" SessionToken {TOKEN};", "SessionToken", id="token-without-equals"),
    pytest.param(BASE + f" SessionToken='{TOKEN}", "SessionToken", id="token-unterminated"),
    pytest.param(BASE + f' SessionToken="{TOKEN} x";', "SessionToken", id="token-space"),
    pytest.param(BASE + " SessionToken=;", "SessionToken", id="token-empty"),
    pytest.param(build(AccessKey='"AKIA EXAMPLE"'), "AccessKey", id="access-key-space"),
    pytest.param(build(AccessKey=""), "AccessKey", id="access-key-missing"),
    pytest.param(BASE.replace("AKIAEXAMPLE", ""), "AccessKey", id="access-key-empty"),
    pytest.param(build(ServiceUrl="ftp://h"), "ServiceUrl", id="bad-scheme"),
    pytest.param(build(ServiceUrl="http://u:p@h"), "ServiceUrl", id="user-info"),
    pytest.param(build(ObjectBucketName="Files"), "ObjectBucketName", id="bad-bucket"),
    pytest.param(build(RecycleBucketName="files"), "RecycleBucketName", id="same-buckets"),
    pytest.param(build(Region="EU"), "Region", id="bad-region"),
    pytest.param(build(ForcePathStyle="maybe"), "ForcePathStyle", id="bad-force-path-style"),
    pytest.param(build(AddressingStyle="dns"), "AddressingStyle", id="bad-addressing-style"),
    pytest.param(
        build(ForcePathStyle="yes", AddressingStyle="virtual"),
        "AddressingStyle",
        id="conflicting-styles",
    ),
    pytest.param(BASE + " =value;", "pair 6", id="empty-key"),
    pytest.param(BASE + " just-some-text;", "pair 6", id="pair-without-equals"),
    pytest.param(BASE + " RegionName=eu;", "RegionName", id="unknown-key-with-known-prefix"),
]


@pytest.mark.parametrize(("text", "key"), MALFORMED)
def test_malformed_strings_name_the_key_and_never_show_the_secret(text: str, key: str) -> None:
    assert SECRET in text or "SecretKey=;" in text or "SecretKey=''" in text
    message = parse_error(text)
    assert key in message


def test_unknown_key_message_lists_the_accepted_keys_and_a_suggestion() -> None:
    message = parse_error(BASE + " AccesKey=AKIA2;")
    assert "'AccesKey'" in message
    assert "did you mean AccessKey" in message
    for key in CONNECTION_STRING_KEYS:
        assert key in message


def test_secret_given_in_an_unknown_key_value_is_not_shown() -> None:
    message = parse_error(BASE + f" Secret={SECRET};")
    assert "'Secret'" in message


def test_unknown_key_that_does_not_look_like_a_name_is_not_shown() -> None:
    message = parse_error(BASE + f" {SECRET[:13]}/x y=1;")
    assert SECRET[:13] not in message
    assert "unrecognised key" in message


def test_duplicate_key_error_names_the_key_and_both_pairs() -> None:
    message = parse_error(BASE + " region=eu-west-1; REGION=eu-west-2")
    assert "Region is given more than once" in message
    assert "pairs 6 and 7" in message


def test_secret_is_masked_even_where_another_value_would_echo_it() -> None:
    secret = "notavalidbucket_Secret"
    message = parse_error(build(SecretKey=secret, ObjectBucketName=secret))
    assert "ObjectBucketName" in message
    assert secret not in message


def test_empty_connection_string_is_an_error() -> None:
    assert "empty" in parse_error(" ; ;")


def test_non_string_connection_string_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="must be a str"):
        parse_connection_string(None, environ=NO_ENV)  # type: ignore[arg-type]


def test_configuration_error_is_an_s3_error_and_a_value_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse("nonsense")
    assert isinstance(info.value, S3Error)
    assert isinstance(info.value, ValueError)


# --- repr / str never show the secret ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [BASE, BASE + f" SessionToken={TOKEN};", build(SecretKey=f"'{SECRET};x'")],
)
def test_repr_and_str_mask_the_secret_key_and_session_token(text: str) -> None:
    settings = parse(text)
    for shown in (repr(settings), str(settings), f"{settings}", f"{[settings]}"):
        assert SECRET not in shown
        assert TOKEN not in shown
        assert "secret_key='***'" in shown
        assert "AKIAEXAMPLE" in shown


def test_repr_shows_whether_a_session_token_is_set() -> None:
    assert "session_token=None" in repr(parse(BASE))
    assert "session_token='***'" in repr(parse(BASE + f" SessionToken={TOKEN}"))


# --- environment fallbacks ----------------------------------------------------

ENV_CREDS = {"AWS_ACCESS_KEY_ID": "AKIAFROMENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}
NO_CREDS = build(AccessKey="", SecretKey="")


def test_credentials_come_from_the_environment_when_not_given() -> None:
    settings = parse(NO_CREDS, **ENV_CREDS)
    assert (settings.access_key, settings.secret_key) == ("AKIAFROMENV", "env-secret")
    assert settings.session_token is None


def test_explicit_credentials_win_over_the_environment() -> None:
    settings = parse(BASE, **ENV_CREDS, AWS_SESSION_TOKEN=TOKEN)
    assert (settings.access_key, settings.secret_key) == ("AKIAEXAMPLE", SECRET)
    assert settings.session_token is None


def test_credentials_are_never_completed_from_the_environment() -> None:
    # A source is taken whole: AccessKey from the string and SecretKey from the
    # environment would sign with a key pair nobody wrote down together.
    message = parse_error(build(SecretKey=""), **ENV_CREDS)
    assert "AccessKey is given but SecretKey is not" in message
    assert "env-secret" not in message


def test_environment_session_token_is_used_with_environment_access_key() -> None:
    assert parse(NO_CREDS, **ENV_CREDS, AWS_SESSION_TOKEN=TOKEN).session_token == TOKEN


def test_session_token_key_without_keys_is_refused() -> None:
    text = NO_CREDS + " SessionToken=explicit-token;"
    message = parse_error(text, **ENV_CREDS, AWS_SESSION_TOKEN=TOKEN)
    assert "SessionToken is given but AccessKey and SecretKey is not" in message


def test_session_token_key_goes_with_the_strings_own_keys() -> None:
    text = BASE + " SessionToken=explicit-token;"
    assert parse(text, **ENV_CREDS, AWS_SESSION_TOKEN=TOKEN).session_token == "explicit-token"


def test_empty_environment_variables_count_as_unset() -> None:
    message = parse_error(NO_CREDS, AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="x")
    assert "AccessKey" in message
    assert "AWS_ACCESS_KEY_ID" in message


@pytest.mark.parametrize(
    ("environ", "key", "variable"),
    [
        ({}, "AccessKey", "AWS_ACCESS_KEY_ID"),
        ({"AWS_ACCESS_KEY_ID": "AKIA"}, "SecretKey", "AWS_SECRET_ACCESS_KEY"),
        ({"AWS_SECRET_ACCESS_KEY": SECRET}, "AccessKey", "AWS_ACCESS_KEY_ID"),
    ],
)
def test_missing_credentials_name_the_key_and_the_variable(
    environ: dict[str, str], key: str, variable: str
) -> None:
    message = parse_error(NO_CREDS, **environ)
    assert key in message
    assert variable in message


def test_invalid_credentials_from_the_environment_name_the_variable() -> None:
    message = parse_error(NO_CREDS, AWS_ACCESS_KEY_ID="AK IA", AWS_SECRET_ACCESS_KEY=SECRET)
    assert "AccessKey (from AWS_ACCESS_KEY_ID)" in message
    message = parse_error(NO_CREDS, **ENV_CREDS, AWS_SESSION_TOKEN=f"{TOKEN}\n")
    assert "SessionToken (from AWS_SESSION_TOKEN)" in message


@pytest.mark.parametrize(
    ("extra", "environ", "region"),
    [
        ("", {}, "us-east-1"),
        ("", {"AWS_DEFAULT_REGION": "eu-west-2"}, "eu-west-2"),
        ("", {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2"}, "eu-west-1"),
        ("", {"AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-west-2"}, "eu-west-2"),
        (" Region=ap-south-1;", {"AWS_REGION": "eu-west-1"}, "ap-south-1"),
    ],
)
def test_region_comes_from_key_then_aws_region_then_aws_default_region(
    extra: str, environ: dict[str, str], region: str
) -> None:
    assert parse(BASE + extra, **environ).region == region


def test_invalid_region_from_the_environment_names_the_variable() -> None:
    message = parse_error(BASE, AWS_REGION="EU West")
    assert "Region (from AWS_REGION)" in message


def test_environ_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOSENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "os-secret")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    settings = parse_connection_string(NO_CREDS)
    assert (settings.access_key, settings.secret_key) == ("AKIAOSENV", "os-secret")
    assert settings.region == "eu-north-1"


def test_environment_secret_never_appears_in_errors() -> None:
    message = parse_error(
        build(AccessKey="", SecretKey="", ObjectBucketName="env_secret_1"),
        AWS_ACCESS_KEY_ID="AKIA",
        AWS_SECRET_ACCESS_KEY="env_secret_1",
    )
    assert "env_secret_1" not in message


# --- ConnectionSettings itself ---------------------------------------------------


def test_to_connection_string_includes_the_secret_and_round_trips() -> None:
    settings = parse(BASE + f" SessionToken={TOKEN}; ForcePathStyle=true")
    text = settings.to_connection_string()
    assert SECRET in text
    assert TOKEN in text
    assert parse(text) == settings


def test_to_connection_string_does_not_depend_on_the_environment() -> None:
    settings = parse(BASE, AWS_REGION="eu-west-1")
    other_env = {"AWS_REGION": "ap-east-1", "AWS_SESSION_TOKEN": TOKEN, **ENV_CREDS}
    assert parse(settings.to_connection_string(), **other_env) == settings


@pytest.mark.parametrize(
    "secret", ["a;b", " lead", "trail ", "'quoted'", '"dq"', "mix'\";", "=", "x\u2003"]
)
def test_to_connection_string_quotes_values_that_need_it(secret: str) -> None:
    settings = parse(build(SecretKey=f'"{secret.replace(chr(34), chr(34) * 2)}"'))
    assert settings.secret_key == secret
    assert parse(settings.to_connection_string()) == settings


def test_constructing_settings_normalises_the_service_url() -> None:
    settings = ConnectionSettings("HTTP://Host:80/", "AK", "sk", "files", None)
    assert settings.service_url == "http://host"
    assert settings.region == "us-east-1"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"service_url": "ftp://h"}, "service_url"),
        ({"access_key": ""}, "access_key"),
        ({"secret_key": "a\nb"}, "secret_key"),
        ({"object_bucket": "B"}, "object_bucket"),
        ({"recycle_bucket": "files"}, "recycle_bucket"),
        ({"recycle_bucket": "x"}, "recycle_bucket"),
        ({"region": ""}, "region"),
        ({"addressing_style": "dns"}, "addressing_style"),
        ({"session_token": "a b"}, "session_token"),
    ],
)
def test_constructing_invalid_settings_is_a_configuration_error(
    fields: dict[str, str], field: str
) -> None:
    values: dict[str, str | None] = {
        "service_url": "http://h",
        "access_key": "AK",
        "secret_key": "sk",
        "object_bucket": "files",
        "recycle_bucket": None,
    }
    values.update(fields)
    with pytest.raises(ConfigurationError, match=field):
        ConnectionSettings(**values)  # type: ignore[arg-type]


def test_settings_are_immutable_and_hashable() -> None:
    settings = parse(BASE)
    with pytest.raises(AttributeError):
        settings.region = "eu-west-1"  # type: ignore[misc]
    assert hash(settings) == hash(parse(BASE))


# --- property tests -----------------------------------------------------------

_label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_hosts = st.one_of(
    st.lists(_label, min_size=1, max_size=3).map(".".join),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address.compressed}]"),
)
_paths = st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,8}", fullmatch=True), max_size=3).map(
    lambda parts: "".join("/" + part for part in parts)
)
_urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https"]),
    _hosts,
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda port: f":{port}")),
    _paths,
)
_header_tokens = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1)
_secrets = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1)
_buckets = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", fullmatch=True).filter(
    lambda name: bucket_name_problem(name) is None
)


@st.composite
def _settings(draw: st.DrawFn) -> ConnectionSettings:
    object_bucket = draw(_buckets)
    return ConnectionSettings(
        service_url=draw(_urls),
        access_key=draw(_header_tokens),
        secret_key=draw(_secrets),
        object_bucket=object_bucket,
        recycle_bucket=draw(st.none() | _buckets.filter(lambda name: name != object_bucket)),
        region=draw(st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True)),
        addressing_style=draw(st.sampled_from(["auto", "path", "virtual"])),
        session_token=draw(st.none() | _header_tokens),
    )


@given(_settings())
def test_to_connection_string_round_trips_any_valid_settings(settings: ConnectionSettings) -> None:
    assert parse_connection_string(settings.to_connection_string(), environ=NO_ENV) == settings


def _pairs(settings: ConnectionSettings) -> list[tuple[str, str]]:
    pairs = [
        ("ServiceUrl", settings.service_url),
        ("AccessKey", settings.access_key),
        ("SecretKey", settings.secret_key),
        ("ObjectBucketName", settings.object_bucket),
        ("Region", settings.region),
        ("AddressingStyle", settings.addressing_style),
    ]
    if settings.recycle_bucket is not None:
        pairs.append(("RecycleBucketName", settings.recycle_bucket))
    if settings.session_token is not None:
        pairs.append(("SessionToken", settings.session_token))
    return pairs


_space = st.text(st.sampled_from(" \t\r\n"), max_size=3)


@given(_settings(), st.data())
def test_key_case_whitespace_and_order_variations_parse_equal(
    settings: ConnectionSettings, data: st.DataObject
) -> None:
    pairs = data.draw(st.permutations(_pairs(settings)))
    segments = []
    for key, value in pairs:
        upper = data.draw(st.lists(st.booleans(), min_size=len(key), max_size=len(key)))
        spelled = "".join(c.upper() if u else c.lower() for c, u in zip(key, upper, strict=True))
        quoted = '"' + value.replace('"', '""') + '"'
        pads = [data.draw(_space) for _ in range(4)]
        segments.append(f"{pads[0]}{spelled}{pads[1]}={pads[2]}{quoted}{pads[3]}")
        segments.extend(data.draw(st.lists(_space, max_size=1)))  # empty pairs
    text = ";".join(segments) + data.draw(st.sampled_from(["", ";", "; ", ";;"]))
    assert parse_connection_string(text, environ=NO_ENV) == settings


@given(
    st.lists(st.tuples(st.integers(0, len(BASE)), st.sampled_from([*";='\" :xA", ""])), max_size=4)
)
def test_random_edits_never_leak_the_secret_into_errors(edits: list[tuple[int, str]]) -> None:
    text = BASE
    for pos, char in sorted(edits, reverse=True):  # insert a character, or delete ("")
        text = text[:pos] + char + text[pos + (0 if char else 1) :]
    try:
        settings = parse_connection_string(text, environ=NO_ENV)
    except ConfigurationError as err:
        assert SECRET not in str(err)
    else:
        assert SECRET not in repr(settings)


# --- config files ---------------------------------------------------------------------


def write_config(path: Path, entries: dict[str, str], *, wrap: bool = False) -> Path:
    adds = "\n".join(
        f"    <add name={quoteattr(name)} connectionString={quoteattr(text)} />"
        for name, text in entries.items()
    )
    body = f"<connectionStrings>\n{adds}\n</connectionStrings>"
    if wrap:
        body = f"<configuration>\n  <appSettings />\n  {body}\n</configuration>"
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n', encoding="utf-8")
    return path


def read_error(path: Path | str, name: str = "s3Connection") -> str:
    with pytest.raises(ConfigurationError) as info:
        read_connection_config(path, name, environ=NO_ENV)
    message = str(info.value)
    assert str(path) in message
    assert repr(name) in message
    assert SECRET not in message
    return message


@pytest.mark.parametrize("wrap", [False, True], ids=["connectionStrings", "configuration"])
def test_read_connection_config_finds_the_named_entry(tmp_path: Path, wrap: bool) -> None:
    path = write_config(
        tmp_path / "app.config", {"db": "Server=x;Password=p", "s3Connection": BASE}, wrap=wrap
    )
    assert read_connection_config(path, environ=NO_ENV) == parse(BASE)
    assert read_connection_config(str(path), "s3Connection", environ=NO_ENV) == parse(BASE)


def test_read_connection_config_prefers_an_exact_name_over_other_cases(tmp_path: Path) -> None:
    other = build(ObjectBucketName="other")
    path = write_config(tmp_path / "c.xml", {"S3CONNECTION": other, "s3Connection": BASE})
    assert read_connection_config(path, environ=NO_ENV).object_bucket == "files"
    assert read_connection_config(path, "S3CONNECTION", environ=NO_ENV).object_bucket == "other"


def test_read_connection_config_falls_back_to_a_case_insensitive_name(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.xml", {"S3Connection": BASE})
    assert read_connection_config(path, environ=NO_ENV) == parse(BASE)


def test_read_connection_config_passes_environ_through(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.xml", {"s3Connection": NO_CREDS})
    settings = read_connection_config(path, environ=ENV_CREDS)
    assert settings.access_key == "AKIAFROMENV"


def test_read_connection_config_reads_utf16_files(tmp_path: Path) -> None:
    path = tmp_path / "c.xml"
    text = write_config(tmp_path / "tmp.xml", {"s3Connection": BASE}).read_text(encoding="utf-8")
    path.write_text(text.replace("utf-8", "utf-16"), encoding="utf-16")
    assert read_connection_config(path, environ=NO_ENV) == parse(BASE)


def test_missing_config_file_names_the_path_and_entry(tmp_path: Path) -> None:
    assert "does not exist" in read_error(tmp_path / "missing.config")


def test_unreadable_config_file_names_the_path_and_entry(tmp_path: Path) -> None:
    assert "cannot be read" in read_error(tmp_path)


def test_malformed_xml_names_the_path_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.config"
    path.write_text(f'<connectionStrings><add name="s3Connection" connectionString="{BASE}">')
    assert "not well-formed XML" in read_error(path)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',
        '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "<!DOCTYPE connectionStrings>",
    ],
    ids=["entity-expansion", "external-entity", "bare-doctype"],
)
def test_config_with_doctype_or_entity_is_refused(tmp_path: Path, doctype: str) -> None:
    path = tmp_path / "bomb.config"
    path.write_text(
        f'<?xml version="1.0"?>\n{doctype}\n<connectionStrings>'
        '<add name="s3Connection" connectionString="&lol2;" /></connectionStrings>'
    )
    assert "DOCTYPE" in read_error(path)


def test_missing_entry_lists_the_names_that_exist(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.config", {"db": "x", "cache": "y"})
    message = read_error(path)
    assert "'cache', 'db'" in message


def test_ambiguous_case_insensitive_entries_are_an_error(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.config", {"S3CONNECTION": BASE, "s3connection": BASE})
    assert "2 entries" in read_error(path)


def test_repeated_exact_entries_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.config"
    add = f'<add name="s3Connection" connectionString={quoteattr(BASE)} />'
    path.write_text(f"<connectionStrings>{add}{add}</connectionStrings>")
    assert "2 entries" in read_error(path)


def test_entry_without_connection_string_attribute_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.config"
    path.write_text('<connectionStrings><add name="s3Connection" /></connectionStrings>')
    assert "connectionString attribute" in read_error(path)


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<appSettings />", "root element <appSettings>"),
        ("<configuration><appSettings /></configuration>", "no <connectionStrings>"),
    ],
)
def test_config_without_connection_strings_section_is_an_error(
    tmp_path: Path, xml: str, expected: str
) -> None:
    path = tmp_path / "c.config"
    path.write_text(xml)
    assert expected in read_error(path)


def test_invalid_entry_error_names_file_entry_and_key_but_not_the_secret(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.config", {"s3Connection": BASE + " AccesKey=x"})
    message = read_error(path)
    assert "AccesKey" in message


@pytest.mark.parametrize(
    ("written", "setting", "option"),
    [
        ("auto", "auto", "auto"),
        ("CRC32", "crc32", "crc32"),
        ("sha256", "sha256", "sha256"),
        ("Md5", "md5", "md5"),
        ("none", "none", None),
    ],
)
def test_checksum_key_sets_the_client_option(
    written: str, setting: str, option: str | None
) -> None:
    settings = parse(build() + f" Checksum={written};")
    assert settings.checksum == setting
    assert settings.checksum_option == option
    assert parse(settings.to_connection_string()) == settings
    # The connection string's choice overrides the options the code passes.
    client = S3Client.from_settings(settings, options=ClientOptions(checksum="sha256"))
    assert client.options.checksum == option


def test_checksum_key_left_out_keeps_the_client_option() -> None:
    settings = parse(build())
    assert settings.checksum is None
    client = S3Client.from_settings(settings, options=ClientOptions(checksum="sha256"))
    assert client.options.checksum == "sha256"


def test_bad_checksum_value_is_a_configuration_error_naming_the_key() -> None:
    with pytest.raises(ConfigurationError, match="Checksum 'crc64' is not one of auto"):
        parse(build() + " Checksum=crc64;")
