"""The pure SigV4 signer against the official AWS test suite and botocore.

The suite lives beside the repository in ``../shared/sigv4-test-suite`` (Apache-2.0);
it is read from there, never copied.  Every stage of every case is checked, for
header signing and query signing alike.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3lite import _signing as sig
from s3lite._exceptions import InvalidRequestError

SUITE = Path(
    os.environ.get(
        "SIGV4_TEST_SUITE",
        Path(__file__).resolve().parents[2] / "shared" / "sigv4-test-suite",
    )
)
CASES = (
    sorted(p.name for p in SUITE.iterdir() if (p / "request.txt").exists())
    if SUITE.is_dir()
    else []
)
needs_suite = pytest.mark.skipif(
    not CASES, reason=f"AWS SigV4 test suite not found at {SUITE} (set SIGV4_TEST_SUITE)"
)


@dataclass
class SuiteCase:
    method: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    context: dict[str, object]

    def read(self, name: str) -> str:
        raise NotImplementedError


def parse_request(
    text: str,
) -> tuple[str, str, list[tuple[str, str]], list[tuple[str, str]], bytes]:
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    request_line = lines[0].split(" ")
    method, target = request_line[0], " ".join(request_line[1:-1])
    raw_path, _, raw_query = target.partition("?")
    query = []
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        query.append((unquote(name), unquote(value)))
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
        elif line:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return method, raw_path, query, headers, body.encode("utf-8")


def load(
    case: str,
) -> tuple[dict[str, object], tuple[str, str, list[tuple[str, str]], list[tuple[str, str]], bytes]]:
    folder = SUITE / case
    context = json.loads((folder / "context.json").read_text())
    return context, parse_request((folder / "request.txt").read_text())


def expected(case: str, name: str) -> str:
    return (SUITE / case / name).read_text()


def credentials_of(context: dict[str, object]) -> sig.Credentials:
    creds = context["credentials"]
    assert isinstance(creds, dict)
    return sig.Credentials(creds["access_key_id"], creds["secret_access_key"], creds.get("token"))


def timestamp_of(context: dict[str, object]) -> datetime:
    return datetime.strptime(str(context["timestamp"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def canonical_uri_of(raw_path: str, context: dict[str, object]) -> str:
    path = sig.normalize_path(raw_path) if context["normalize"] else raw_path
    return sig.uri_encode_path(path)


@needs_suite
@pytest.mark.parametrize("case", CASES)
def test_header_signing_matches_every_stage_of_the_aws_suite(case: str) -> None:
    context, (method, raw_path, query, headers, body) = load(case)
    creds = credentials_of(context)
    result = sig.sign_headers(
        method,
        canonical_uri_of(raw_path, context),
        query,
        headers,
        hashlib.sha256(body).hexdigest(),
        creds,
        str(context["region"]),
        timestamp_of(context),
        service=str(context["service"]),
        send_content_sha256=bool(context["sign_body"]),
        sign_session_token=not context.get("omit_session_token", False),
    )
    assert result.canonical_request == expected(case, "header-canonical-request.txt")
    assert result.string_to_sign == expected(case, "header-string-to-sign.txt")
    assert result.signature == expected(case, "header-signature.txt")
    signed_request = expected(case, "header-signed-request.txt")
    authorization = dict(result.headers)["Authorization"]
    assert f"Authorization:{authorization}" in signed_request.splitlines()


@needs_suite
@pytest.mark.parametrize("case", CASES)
def test_query_signing_matches_every_stage_of_the_aws_suite(case: str) -> None:
    context, (method, raw_path, query, headers, body) = load(case)
    creds = credentials_of(context)
    when = timestamp_of(context)
    params = sig.presign_query(
        method,
        canonical_uri_of(raw_path, context),
        query,
        headers,
        creds,
        str(context["region"]),
        when,
        int(str(context["expiration_in_seconds"])),
        service=str(context["service"]),
        payload_hash=hashlib.sha256(body).hexdigest(),
        sign_session_token=not context.get("omit_session_token", False),
    )
    names = [name for name, _ in params]
    assert names[-1] == "X-Amz-Signature" or names[-1] == "X-Amz-Security-Token"
    signature = dict(params)["X-Amz-Signature"]
    assert signature == expected(case, "query-signature.txt")
    # Rebuild the intermediate stages from the same pure functions the presigner uses.
    unsigned = [(n, v) for n, v in params if n != "X-Amz-Signature"]
    if context.get("omit_session_token"):
        unsigned = [(n, v) for n, v in unsigned if n != "X-Amz-Security-Token"]
    block, signed = sig.canonical_headers(headers)
    creq = sig.canonical_request(
        method,
        canonical_uri_of(raw_path, context),
        sig.canonical_query(unsigned),
        block,
        signed,
        hashlib.sha256(body).hexdigest(),
    )
    assert creq == expected(case, "query-canonical-request.txt")
    scope = sig.credential_scope(
        sig.amz_date(when)[:8], str(context["region"]), str(context["service"])
    )
    sts = sig.string_to_sign(sig.amz_date(when), scope, creq)
    assert sts == expected(case, "query-string-to-sign.txt")
    # The signed request line carries the same parameters (order aside).
    request_line = expected(case, "query-signed-request.txt").splitlines()[0]
    target = " ".join(request_line.split(" ")[1:-1])
    sent = sorted(
        (unquote(n), unquote(v))
        for n, _, v in (p.partition("=") for p in target.partition("?")[2].split("&"))
    )
    assert sent == sorted(params)


@needs_suite
def test_suite_is_complete_enough_to_mean_something() -> None:
    assert len(CASES) >= 30
    normalized = [c for c in CASES if load(c)[0]["normalize"]]
    unnormalized = [c for c in CASES if not load(c)[0]["normalize"]]
    assert normalized and unnormalized


def test_signing_key_is_derived_once_per_date_region_service() -> None:
    sig.signing_key.cache_clear()
    first = sig.signing_key("secret", "20240101", "eu-west-1", "s3")
    again = sig.signing_key("secret", "20240101", "eu-west-1", "s3")
    assert first is again
    info = sig.signing_key.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    assert sig.signing_key("secret", "20240102", "eu-west-1", "s3") != first


def test_credentials_repr_never_shows_secret_or_token() -> None:
    creds = sig.Credentials("AKIDVISIBLE", "super-secret-value", "token-value-xyz")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "super-secret-value" not in text
        assert "token-value-xyz" not in text
        assert "AKIDVISIBLE" in text


@pytest.mark.parametrize("expires", [0, -1, sig.MAX_PRESIGN_EXPIRES + 1, 10**9])
def test_presign_rejects_expiry_outside_one_second_to_seven_days(expires: int) -> None:
    with pytest.raises(InvalidRequestError, match="expires"):
        sig.presign_query(
            "GET",
            "/b/k",
            [],
            [("host", "h")],
            sig.Credentials("a", "s"),
            "us-east-1",
            datetime(2024, 1, 1, tzinfo=UTC),
            expires,
        )


@pytest.mark.parametrize("expires", [1, sig.MAX_PRESIGN_EXPIRES])
def test_presign_accepts_expiry_bounds(expires: int) -> None:
    params = sig.presign_query(
        "GET",
        "/b/k",
        [],
        [("host", "h")],
        sig.Credentials("a", "s"),
        "us-east-1",
        datetime(2024, 1, 1, tzinfo=UTC),
        expires,
    )
    assert dict(params)["X-Amz-Expires"] == str(expires)


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("a//b", "a//b"),
        ("x y+z", "x%20y%2Bz"),
        (" lead and trail ", "%20lead%20and%20trail%20"),
        ("~tilde", "~tilde"),
        ("%2F", "%252F"),
        ("?#;,'\"", "%3F%23%3B%2C%27%22"),
        ("tab\there", "tab%09here"),
        ("a/./b/../c", "a/./b/../c"),
        ("ü", "%C3%BC"),
    ],
)
def test_s3_paths_are_encoded_once_and_never_normalised(key: str, encoded: str) -> None:
    assert sig.uri_encode_path(key) == encoded


def test_normalize_path_removes_dot_segments_and_empty_segments() -> None:
    assert sig.normalize_path("/a/./b/../c//d/") == "/a/c/d/"
    assert sig.normalize_path("/..") == "/"
    assert sig.normalize_path("//") == "/"


# --- botocore as an oracle -------------------------------------------------------------

key_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40
)
header_value = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=30
)
header_name = st.from_regex(r"x-amz-meta-[a-z0-9][a-z0-9-]{0,15}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
    key=key_text,
    query=st.lists(st.tuples(key_text, st.text(max_size=20)), max_size=4),
    meta=st.dictionaries(header_name, header_value, max_size=4),
    body=st.binary(max_size=64),
    session_token=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    ),
    region=st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2"]),
)
def test_header_signing_agrees_with_botocore(
    method: str,
    key: str,
    query: list[tuple[str, str]],
    meta: dict[str, str],
    body: bytes,
    session_token: str | None,
    region: str,
) -> None:
    botocore_auth = pytest.importorskip("botocore.auth")
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials
    from botocore.utils import percent_encode

    host = "127.0.0.1:9000"
    path = "/bucket/" + sig.uri_encode_path(key)
    # Our key encoding must agree with botocore's (which keeps '/' and '~').
    assert sig.uri_encode_path(key) == percent_encode(key, safe="/~")
    query_string = "&".join(f"{sig.uri_encode(n)}={sig.uri_encode(v)}" for n, v in query)
    url = f"http://{host}{path}" + (f"?{query_string}" if query_string else "")
    headers = dict(meta)
    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    botocore_auth.S3SigV4Auth(
        BotoCredentials("AKIDTEST", "secret/KEY+x", session_token), "s3", region
    ).add_auth(request)
    when = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    ours = sig.sign_headers(
        method,
        path,
        query,
        [("host", host), *meta.items()],
        hashlib.sha256(body).hexdigest(),
        sig.Credentials("AKIDTEST", "secret/KEY+x", session_token),
        region,
        when,
    )
    assert dict(ours.headers)["Authorization"] == request.headers["Authorization"]
