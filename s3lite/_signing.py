"""AWS Signature Version 4, as pure functions.

Rules of this module:
- No I/O, no clock, no HTTP library: every input (method, path, query pairs,
  header pairs, payload hash, credentials, region, time) is an argument and
  every output is a value.  The caller owns the request.
- Each SigV4 stage is its own function (canonical URI, query, headers,
  canonical request, string to sign, signing key, signature) so each can be
  tested against the AWS test suite on its own.
- Query parameters and headers stay lists of pairs until canonicalisation, so
  repeated keys survive.
- The body is never read here: the caller passes its SHA-256 hex digest or one
  of the literal payload modes below.
- Memoised, still pure: the signing key per (secret, day, region, service) and the
  formatted timestamp per second; the same inputs always give the same outputs.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from ._credentials import Credentials
from ._exceptions import InvalidRequestError

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "MAX_PRESIGN_EXPIRES",
    "STREAMING_PAYLOAD",
    "STREAMING_PAYLOAD_TRAILER",
    "STREAMING_UNSIGNED_PAYLOAD_TRAILER",
    "UNSIGNED_PAYLOAD",
    "Credentials",
    "HeaderSignature",
    "amz_date",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "credential_scope",
    "normalize_path",
    "presign_query",
    "sha256_hex",
    "sign_headers",
    "signature",
    "signing_key",
    "string_to_sign",
    "uri_encode",
    "uri_encode_path",
]

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_ENCODED_BYTE = tuple(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in range(256))


@dataclass(frozen=True, slots=True)
class HeaderSignature:
    """What ``sign_headers`` produced: headers to add, and the intermediate stages."""

    headers: tuple[tuple[str, str], ...]
    signature: str
    canonical_request: str
    string_to_sign: str
    scope: str
    amz_date: str


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def uri_encode(text: str) -> str:
    """Percent-encode every byte of ``text`` (UTF-8) except RFC 3986 unreserved characters."""
    return "".join([_ENCODED_BYTE[b] for b in text.encode("utf-8")])


def uri_encode_path(path: str) -> str:
    """Percent-encode a path, keeping ``/`` separators as they are (S3 encodes paths once)."""
    return "/".join([uri_encode(segment) for segment in path.split("/")])


def normalize_path(path: str) -> str:
    """Remove empty, ``.`` and ``..`` segments (RFC 3986), as non-S3 services require.

    S3 paths are never normalised: a key may legitimately contain ``//`` or ``..``.
    """
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return normalized


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Encode each name and value, then sort by encoded name and value."""
    encoded = sorted((uri_encode(name), uri_encode(value)) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in encoded)


def _fold_value(value: str) -> str:
    # Trim, and collapse every run of whitespace (including folded lines) to one space.
    return " ".join(value.split())


def canonical_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """Return (canonical header block, signed header list) for the given header pairs.

    Names are lower-cased; values trimmed with inner whitespace collapsed; values
    of a repeated name are joined with ``,`` in the order given.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.strip().lower(), []).append(_fold_value(value))
    names = sorted(grouped)
    block = "".join(f"{name}:{','.join(grouped[name])}\n" for name in names)
    return block, ";".join(names)


def canonical_request(
    method: str,
    canonical_uri: str,
    canonical_query_string: str,
    canonical_header_block: str,
    signed_headers: str,
    payload_hash: str,
) -> str:
    """Join the six parts of a canonical request."""
    return "\n".join(
        (
            method.upper(),
            canonical_uri,
            canonical_query_string,
            canonical_header_block,
            signed_headers,
            payload_hash,
        )
    )


def amz_date(now: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC (naive datetimes are taken as UTC)."""
    global _last_amz_date
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    second = now.timestamp() // 1  # whole seconds: formatted once per second
    if _last_amz_date[0] != second:
        _last_amz_date = (second, now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return _last_amz_date[1]


_last_amz_date: tuple[float, str] = (math.nan, "")


def credential_scope(date: str, region: str, service: str) -> str:
    """``DATE/REGION/SERVICE/aws4_request`` (``date`` is ``YYYYMMDD``)."""
    return f"{date}/{region}/{service}/aws4_request"


def string_to_sign(timestamp: str, scope: str, canonical_request_text: str) -> str:
    """The string to sign for a request: algorithm, time, scope and hashed canonical request."""
    hashed = sha256_hex(canonical_request_text.encode("utf-8"))
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashed}"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


@lru_cache(maxsize=64)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """Derive the signing key; derived once per (secret, date, region, service) and cached."""
    k_date = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "aws4_request")


def signature(key: bytes, text: str) -> str:
    """Hex HMAC-SHA256 of ``text`` under ``key``."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _sign(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    header_block: str,
    signed_headers: str,
    payload_hash: str,
    credentials: Credentials,
    scope_parts: tuple[str, str, str],
) -> tuple[str, str, str]:
    """Canonical request, string to sign and signature; ``scope_parts`` is
    (timestamp, region, service)."""
    timestamp, region, service = scope_parts
    creq = canonical_request(
        method, path, canonical_query(query), header_block, signed_headers, payload_hash
    )
    sts = string_to_sign(timestamp, credential_scope(timestamp[:8], region, service), creq)
    key = signing_key(credentials.secret_key, timestamp[:8], region, service)
    return creq, sts, signature(key, sts)


def sign_headers(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    payload_hash: str,
    credentials: Credentials,
    region: str,
    now: datetime,
    *,
    service: str = "s3",
    send_content_sha256: bool = True,
    sign_session_token: bool = True,
) -> HeaderSignature:
    """Sign a request with the ``Authorization`` header.

    ``path`` is the canonical URI: for S3 the request path exactly as sent
    (already percent-encoded once).  ``headers`` must include ``host`` and every
    other header to be signed.  Returns the headers to add to the request:
    ``x-amz-date``, ``x-amz-content-sha256`` (unless ``send_content_sha256`` is
    false), ``x-amz-security-token`` (when the credentials carry one) and
    ``Authorization``.
    """
    timestamp = amz_date(now)
    scope = credential_scope(timestamp[:8], region, service)
    added: list[tuple[str, str]] = [("x-amz-date", timestamp)]
    if send_content_sha256:
        added.append(("x-amz-content-sha256", payload_hash))
    if credentials.session_token and sign_session_token:
        added.append(("x-amz-security-token", credentials.session_token))
    block, signed = canonical_headers([*headers, *added])
    creq, sts, sig = _sign(
        method, path, query, block, signed, payload_hash, credentials, (timestamp, region, service)
    )
    authorization = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={sig}"
    )
    if credentials.session_token and not sign_session_token:
        added.append(("x-amz-security-token", credentials.session_token))
    added.append(("Authorization", authorization))
    return HeaderSignature(
        headers=tuple(added),
        signature=sig,
        canonical_request=creq,
        string_to_sign=sts,
        scope=scope,
        amz_date=timestamp,
    )


def presign_query(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    credentials: Credentials,
    region: str,
    now: datetime,
    expires: int,
    *,
    service: str = "s3",
    payload_hash: str = UNSIGNED_PAYLOAD,
    sign_session_token: bool = True,
) -> list[tuple[str, str]]:
    """Sign a request in its query string (a presigned URL).

    Returns the full list of query pairs to send: ``query`` followed by the
    ``X-Amz-*`` authentication parameters and ``X-Amz-Signature``.  ``headers``
    are the headers the holder of the URL must send (at least ``host``).
    ``expires`` is in seconds, from 1 to 7 days.
    """
    if isinstance(expires, bool) or not isinstance(expires, int):
        raise InvalidRequestError(f"expires must be a whole number of seconds, got {expires!r}")
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise InvalidRequestError(
            f"expires must be between 1 second and 7 days ({MAX_PRESIGN_EXPIRES} s), got {expires}"
        )
    timestamp = amz_date(now)
    scope = credential_scope(timestamp[:8], region, service)
    block, signed = canonical_headers(headers)
    auth: list[tuple[str, str]] = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key}/{scope}"),
        ("X-Amz-Date", timestamp),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", signed),
    ]
    if credentials.session_token and sign_session_token:
        auth.append(("X-Amz-Security-Token", credentials.session_token))
    params = [*query, *auth]
    _, _, sig = _sign(
        method, path, params, block, signed, payload_hash, credentials, (timestamp, region, service)
    )
    params.append(("X-Amz-Signature", sig))
    if credentials.session_token and not sign_session_token:
        params.append(("X-Amz-Security-Token", credentials.session_token))
    return params
