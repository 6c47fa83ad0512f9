"""``s3lite._urls``: bucket and key validation, endpoint parsing, request targets.

Expected paths are derived with ``urllib.parse.quote`` (an independent RFC 3986
encoder) rather than written out, so the tests check the rule, not a copy of it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3lite._exceptions import ConfigurationError, InvalidRequestError
from s3lite._urls import (
    MAX_KEY_BYTES,
    AddressingStyle,
    Endpoint,
    Target,
    validate_bucket_name,
    validate_key,
)


def expected_path(prefix: str, key: str) -> str:
    """The key encoded once with every byte but unreserved characters and '/' escaped."""
    return prefix + quote(key, safe="/")


# --------------------------------------------------------------------------- bucket names

VALID_BUCKETS = [
    "abc",
    "a" * 63,
    "123",
    "my-bucket",
    "my.bucket.example",
    "a-b.c-d",
    "1.2.3",  # looks numeric but is not an IPv4 address
    "192.168.1.1a",
    "0-9",
]


@pytest.mark.parametrize("name", VALID_BUCKETS)
def test_validate_bucket_name_accepts_valid_names(name: str) -> None:
    assert validate_bucket_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "3 to 63 characters"),
        ("a" * 64, "3 to 63 characters"),
        ("", "3 to 63 characters"),
        ("MyBucket", "lowercase"),
        ("my_bucket", "lowercase"),
        ("my bucket", "lowercase"),
        ("my/bucket", "lowercase"),
        (".bucket", "start and end"),
        ("bucket.", "start and end"),
        ("-bucket", "start and end"),
        ("bucket-", "start and end"),
        ("my..bucket", "adjacent"),
        ("my.-bucket", "adjacent"),
        ("my-.bucket", "adjacent"),
        ("192.168.1.1", "IP address"),
        ("10.0.0.255", "IP address"),
    ],
)
def test_validate_bucket_name_rejects_invalid_names_naming_the_problem(
    name: str, problem: str
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_bucket_name(name)
    message = str(info.value)
    assert problem in message
    assert repr(name) in message


@pytest.mark.parametrize("name", [None, 123, b"bucket", ["bucket"]])
def test_validate_bucket_name_rejects_non_str_naming_the_type(name: object) -> None:
    with pytest.raises(InvalidRequestError, match="must be a str") as info:
        validate_bucket_name(name)
    assert type(name).__name__ in str(info.value)


def test_invalid_bucket_name_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_bucket_name("UPPER")


@given(st.from_regex(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", fullmatch=True))
def test_validate_bucket_name_agrees_with_the_s3_rules(name: str) -> None:
    def is_ip(text: str) -> bool:
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return False
        return True

    valid = not any(bad in name for bad in ("..", ".-", "-.")) and not is_ip(name)
    if valid:
        assert validate_bucket_name(name) == name
    else:
        with pytest.raises(InvalidRequestError):
            validate_bucket_name(name)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "a" * MAX_KEY_BYTES,
        "é" * (MAX_KEY_BYTES // 2),  # 2 bytes each
        "€" * (MAX_KEY_BYTES // 3) + "a",  # 3 bytes each, 1024 in all
        "😀" * (MAX_KEY_BYTES // 4),  # 4 bytes each
        "a//b",
        "../x",
        " ",
    ],
)
def test_validate_key_accepts_up_to_1024_utf8_bytes(key: str) -> None:
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "a" * (MAX_KEY_BYTES + 1),
        "é" * (MAX_KEY_BYTES // 2) + "a",
        "€" * (MAX_KEY_BYTES // 3 + 1),
        "😀" * (MAX_KEY_BYTES // 4) + "a",
    ],
)
def test_validate_key_rejects_more_than_1024_utf8_bytes(key: str) -> None:
    size = len(key.encode("utf-8"))
    assert size > MAX_KEY_BYTES
    assert len(key) <= MAX_KEY_BYTES + 1  # long in bytes, not necessarily in characters
    with pytest.raises(InvalidRequestError, match=f"{size} bytes"):
        validate_key(key)


def test_validate_key_rejects_empty_key() -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        validate_key("")


@pytest.mark.parametrize("key", [None, 1, b"key", ("k",)])
def test_validate_key_rejects_non_str(key: object) -> None:
    with pytest.raises(InvalidRequestError, match="must be a str") as info:
        validate_key(key)
    assert type(key).__name__ in str(info.value)


@pytest.mark.parametrize("key", ["\ud800", "abc\udfffdef"])
def test_validate_key_rejects_lone_surrogates(key: str) -> None:
    with pytest.raises(InvalidRequestError, match="surrogate"):
        validate_key(key)


@given(st.text(min_size=1))
def test_validate_key_accepts_exactly_the_short_encodable_keys(key: str) -> None:
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        size = None
    if size is not None and size <= MAX_KEY_BYTES:
        assert validate_key(key) == key
    else:
        with pytest.raises(InvalidRequestError):
            validate_key(key)


# --------------------------------------------------------------------------- Endpoint.parse


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "base_path"),
    [
        ("http://127.0.0.1:9000", "http", "127.0.0.1", 9000, ""),
        ("http://localhost", "http", "localhost", None, ""),
        ("https://s3.us-east-1.amazonaws.com", "https", "s3.us-east-1.amazonaws.com", None, ""),
        ("https://minio.example.com:8443/", "https", "minio.example.com", 8443, ""),
        ("http://gateway:8080/s3", "http", "gateway", 8080, "/s3"),
        ("http://gateway:8080/a/b/", "http", "gateway", 8080, "/a/b"),
        ("  http://host:1234  ", "http", "host", 1234, ""),
        ("HTTP://Host.Example", "http", "host.example", None, ""),
        ("http://[::1]:9000", "http", "::1", 9000, ""),
        ("https://[2001:db8::5]", "https", "2001:db8::5", None, ""),
    ],
)
def test_endpoint_parse_reads_scheme_host_port_and_base_path(
    url: str, scheme: str, host: str, port: int | None, base_path: str
) -> None:
    endpoint = Endpoint.parse(url)
    assert (endpoint.scheme, endpoint.host, endpoint.port, endpoint.base_path) == (
        scheme,
        host,
        port,
        base_path,
    )
    assert endpoint.addressing_style == "auto"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host",
        "s3://bucket",
        "host:9000",
        "localhost",
        "//host:9000",
        "",
        "   ",
        "http://",
        "https:///path",
    ],
)
def test_endpoint_parse_refuses_urls_without_http_scheme_or_host(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Endpoint.parse(url)


@pytest.mark.parametrize("url", [None, 9000, b"http://host"])
def test_endpoint_parse_refuses_non_str(url: object) -> None:
    with pytest.raises(ConfigurationError, match="non-empty string"):
        Endpoint.parse(url)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://user:hunter2@host:9000", "credentials"),
        ("http://user@host", "credentials"),
        ("http://:hunter2@host", "credentials"),
        ("http://host/?versioning", "a query or a fragment"),
        ("http://host/path?x=1", "a query or a fragment"),
        ("http://host/#fragment", "a query or a fragment"),
    ],
)
def test_endpoint_parse_refuses_userinfo_query_and_fragment(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=f"must not carry {problem}") as info:
        Endpoint.parse(url)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("url", ["ftp://user:hunter2@host", "http://user:hunter2@"])
def test_endpoint_parse_error_never_echoes_a_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Endpoint.parse(url)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("url", ["http://host:abc", "http://host:70000", "http://host:-1"])
def test_endpoint_parse_refuses_invalid_ports(url: str) -> None:
    with pytest.raises(ConfigurationError, match="port"):
        Endpoint.parse(url)


def test_endpoint_parse_refuses_unknown_addressing_style() -> None:
    with pytest.raises(ConfigurationError, match="addressing_style"):
        Endpoint.parse("http://host", "dns")  # type: ignore[arg-type]


@pytest.mark.parametrize("style", ["auto", "path", "virtual"])
def test_endpoint_parse_keeps_addressing_style(style: str) -> None:
    assert Endpoint.parse("http://host", style).addressing_style == style  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000",
        "https://s3.amazonaws.com",
        "http://host:8080/base",
        "http://[::1]:9",
    ],
)
def test_endpoint_str_round_trips_through_parse(url: str) -> None:
    endpoint = Endpoint.parse(url)
    assert Endpoint.parse(str(endpoint)) == endpoint


# --------------------------------------------------------------------------- targets


def test_target_path_style_puts_bucket_in_path() -> None:
    endpoint = Endpoint.parse("http://127.0.0.1:9000", "path")
    target = endpoint.target("bkt", "dir/file.txt")
    assert target.host == endpoint.host
    assert target.port == 9000
    assert target.path == "/bkt/dir/file.txt"
    assert target.url == "http://127.0.0.1:9000/bkt/dir/file.txt"


def test_target_path_style_keeps_base_path() -> None:
    endpoint = Endpoint.parse("http://gateway:8080/s3/", "path")
    assert endpoint.target("bkt", "k").path == "/s3/bkt/k"
    assert endpoint.target("bkt").path == "/s3/bkt"
    assert endpoint.target().path == "/s3/"


def test_target_virtual_style_puts_bucket_in_host() -> None:
    endpoint = Endpoint.parse("https://storage.example.com:8443/base", "virtual")
    target = endpoint.target("bkt", "dir/file.txt")
    assert target.host == "bkt.storage.example.com"
    assert target.path == "/base/dir/file.txt"
    assert endpoint.target("bkt").path == "/base/"
    assert target.host_header == "bkt.storage.example.com:8443"


def test_target_without_bucket_is_the_service_root() -> None:
    styles: tuple[AddressingStyle, ...] = ("auto", "path", "virtual")
    for style in styles:
        endpoint = Endpoint.parse("https://s3.eu-west-1.amazonaws.com", style)
        target = endpoint.target()
        assert target.host == "s3.eu-west-1.amazonaws.com"
        assert target.path == "/"


@pytest.mark.parametrize(
    ("url", "bucket", "virtual"),
    [
        ("https://s3.us-east-1.amazonaws.com", "plain-bucket", True),
        ("https://s3.us-east-1.amazonaws.com", "dotted.bucket", False),  # TLS wildcard
        ("http://s3.us-east-1.amazonaws.com", "dotted.bucket", True),
        ("http://s3.amazonaws.com", "plain-bucket", True),
        ("https://s3.amazonaws.com.example.net", "plain-bucket", False),
        ("https://amazonaws.com", "plain-bucket", False),
        ("http://127.0.0.1:9000", "plain-bucket", False),
        ("https://minio.example.com", "plain-bucket", False),
        ("http://[::1]:9000", "plain-bucket", False),
    ],
)
def test_target_auto_style_is_virtual_only_on_aws_for_dns_safe_buckets(
    url: str, bucket: str, virtual: bool
) -> None:
    endpoint = Endpoint.parse(url)
    assert endpoint.uses_virtual_host(bucket) is virtual
    target = endpoint.target(bucket, "k")
    if virtual:
        assert target.host == f"{bucket}.{endpoint.host}"
        assert target.path == "/k"
    else:
        assert target.host == endpoint.host
        assert target.path == f"/{bucket}/k"


@pytest.mark.parametrize("bucket", ["plain-bucket", "dotted.bucket"])
def test_target_explicit_styles_ignore_the_host(bucket: str) -> None:
    aws = "https://s3.us-east-1.amazonaws.com"
    assert Endpoint.parse(aws, "path").uses_virtual_host(bucket) is False
    assert Endpoint.parse("http://127.0.0.1:9000", "virtual").uses_virtual_host(bucket) is True


@pytest.mark.parametrize(
    ("scheme", "port", "header"),
    [
        ("http", None, "host"),
        ("http", 80, "host"),
        ("https", 443, "host"),
        ("http", 443, "host:443"),
        ("https", 80, "host:80"),
        ("http", 9000, "host:9000"),
    ],
)
def test_host_header_omits_only_the_scheme_default_port(
    scheme: str, port: int | None, header: str
) -> None:
    assert Target(scheme, "host", port, "/").host_header == header


def test_host_header_from_parsed_default_port_is_bare() -> None:
    endpoint = Endpoint.parse("https://s3.amazonaws.com:443")
    assert endpoint.port is None  # the scheme's default port is dropped when parsed
    assert endpoint.target("bkt", "k").host_header == "bkt.s3.amazonaws.com"


@pytest.mark.parametrize(
    "key",
    [
        "a//b",
        "a/../b",
        "./a",
        "..",
        "a/.",
        "/leading",
        "trailing/",
        "%2F",
        "100%",
        "with space",
        "a+b",
        "é/ü/日本",
        "😀",
        "~tilde_-.",
        "a?b#c",
        "a;b=c&d",
    ],
)
def test_target_encodes_keys_once_and_never_normalises(key: str) -> None:
    target = Endpoint.parse("http://127.0.0.1:9000", "path").target("bkt", key)
    assert target.path == expected_path("/bkt/", key)
    assert target.path.split("/")[2:] == [quote(segment, safe="") for segment in key.split("/")]
    assert unquote(target.path.removeprefix("/bkt/")) == key


@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=60))
def test_target_path_decodes_back_to_the_key(key: str) -> None:
    target = Endpoint.parse("http://h:1", "virtual").target("bkt", key)
    assert target.path == expected_path("/", key)
    assert target.path.isascii()
    assert unquote(target.path[1:]) == key


def test_ipv6_target_url_brackets_the_host() -> None:
    endpoint = Endpoint.parse("http://[::1]:9000", "path")
    target = endpoint.target("bkt", "a b")
    assert target.host == "::1"
    assert target.url == "http://[::1]:9000/bkt/a%20b"
    assert str(endpoint) == "http://[::1]:9000"


@pytest.mark.parametrize(
    ("url", "header"), [("http://[::1]:9000", "[::1]:9000"), ("http://[::1]", "[::1]")]
)
def test_ipv6_host_header_is_bracketed(url: str, header: str) -> None:
    assert Endpoint.parse(url, "path").target("bkt", "k").host_header == header
