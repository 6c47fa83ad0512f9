"""AWS STS, as far as credentials need it: AssumeRole and AssumeRoleWithWebIdentity.

Rules of this module:
- Pure: request forms in, credentials or a typed error out; the chain
  (``_credential_sources``) sends them.
- The endpoint follows ``AWS_ENDPOINT_URL_STS``, then ``AWS_ENDPOINT_URL``, then
  the regional ``https://sts.REGION.amazonaws.com``.
- Answers are untrusted XML (``_xml.parse_untrusted``: no DOCTYPE); an error
  document becomes ``CredentialRetrievalError`` with STS's code and message.
"""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime

from ._credentials import Credentials
from ._exceptions import CredentialRetrievalError
from ._xml import DoctypeRefused, local_name, parse_untrusted

__all__ = [
    "VERSION",
    "assume_role_form",
    "parse_credentials",
    "parse_iso_time",
    "sts_endpoint",
    "web_identity_form",
]

VERSION = "2011-06-15"
DEFAULT_DURATION = 3600


def sts_endpoint(environ: Mapping[str, str], region: str) -> str:
    """Where STS requests go (see the module's rules)."""
    configured = environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL")
    return configured or f"https://sts.{region}.amazonaws.com"


def assume_role_form(
    role_arn: str,
    session_name: str,
    *,
    external_id: str | None = None,
    duration: int = DEFAULT_DURATION,
) -> bytes:
    """The form body of an AssumeRole request (signed by the caller)."""
    fields = [
        ("Action", "AssumeRole"),
        ("Version", VERSION),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
        ("DurationSeconds", str(duration)),
    ]
    if external_id:
        fields.append(("ExternalId", external_id))
    return urllib.parse.urlencode(fields).encode("ascii")


def web_identity_form(role_arn: str, session_name: str, token: str) -> bytes:
    """The form body of an AssumeRoleWithWebIdentity request (sent unsigned)."""
    fields = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", VERSION),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
        ("WebIdentityToken", token),
    ]
    return urllib.parse.urlencode(fields).encode("ascii")


def parse_iso_time(value: str) -> datetime:
    """An ISO 8601 time (``2026-12-03T10:00:00Z``) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _find(root: ET.Element, name: str) -> ET.Element | None:
    for element in root.iter():
        if local_name(element.tag) == name:
            return element
    return None


def _text(root: ET.Element, name: str) -> str:
    element = _find(root, name)
    return (element.text or "").strip() if element is not None else ""


def parse_credentials(action: str, status: int, body: bytes) -> Credentials:
    """The credentials of an STS answer, or ``CredentialRetrievalError`` saying why not."""
    try:
        root = parse_untrusted(body.strip()) if body.strip() else None
    except (DoctypeRefused, ET.ParseError):
        root = None
    if root is None:
        raise CredentialRetrievalError(f"STS {action} answered {status} without a readable body")
    if local_name(root.tag) == "ErrorResponse" or status >= 300:
        code = _text(root, "Code") or str(status)
        message = _text(root, "Message")
        raise CredentialRetrievalError(f"STS {action} refused: {code}: {message}".rstrip(": "))
    values = {name: _text(root, name) for name in ("AccessKeyId", "SecretAccessKey")}
    token, expiration = _text(root, "SessionToken"), _text(root, "Expiration")
    missing = [name for name, value in values.items() if not value]
    if missing or not token or not expiration:
        raise CredentialRetrievalError(f"STS {action} answered without complete credentials")
    try:
        expires = parse_iso_time(expiration)
    except ValueError:
        raise CredentialRetrievalError(
            f"STS {action} answered an unreadable Expiration {expiration!r}"
        ) from None
    return Credentials(values["AccessKeyId"], values["SecretAccessKey"], token, expires)
