"""Connection strings for one S3 server: parse, validate, write back.

Rules of this module:

- Format ``Key=Value; Key=Value;``.  Keys are case-insensitive; whitespace around
  keys and values, empty pairs and a trailing ``;`` are ignored.  A value runs to
  the next ``;`` and may contain ``=``.  A value wrapped in ``'...'`` or ``"..."``
  may also contain ``;``; inside it a doubled quote stands for one quote.
- Unknown keys and repeated keys are errors: a typo such as ``AccesKey`` is never
  ignored.  Empty values are errors.
- Credentials are taken whole from one place (``_credentials``): the string's
  ``AccessKey``/``SecretKey``/``SessionToken`` when it names any of them (then
  both keys are required), else ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/
  ``AWS_SESSION_TOKEN`` together.  ``Region`` falls back to ``AWS_REGION`` then
  ``AWS_DEFAULT_REGION``.
- ``Checksum=auto|crc32|sha256|md5|none`` sets the client's ``checksum`` option
  (``none``: no checksum); left out, the client's own option stands.
- Bucket names, the service URL and addressing styles follow the client's own
  rules (``_urls``): one validator each, not a copy.
- Every failure is a ``ConfigurationError`` naming the key.  No message contains
  the secret key, the session token or the input string; unknown key names are
  shown only when they look like key names.
- Pure apart from ``read_connection_config`` reading the one file it is given.
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ._checksum_policy import ChecksumSetting
from ._credentials import DEFAULT_REGION, resolve_credentials, resolve_region
from ._exceptions import ConfigurationError
from ._urls import (
    ADDRESSING_STYLES,
    DEFAULT_PORTS,
    AddressingStyle,
    bucket_name_problem,
    parse_service_url,
)
from ._xml import DoctypeRefused, local_name, parse_untrusted

__all__ = [
    "CHECKSUM_CHOICES",
    "CONNECTION_STRING_KEYS",
    "AddressingStyle",
    "ChecksumChoice",
    "ConnectionSettings",
    "parse_connection_string",
    "read_connection_config",
]

CONNECTION_STRING_KEYS: tuple[str, ...] = (
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
"""The accepted keys, in canonical spelling (matching is case-insensitive)."""

ChecksumChoice = Literal["auto", "crc32", "sha256", "md5", "none"]
CHECKSUM_CHOICES: tuple[ChecksumChoice, ...] = ("auto", "crc32", "sha256", "md5", "none")
"""The values of the ``Checksum`` key."""

_CANONICAL = {key.lower(): key for key in CONNECTION_STRING_KEYS}
_SENSITIVE_KEYS = ("secretkey", "sessiontoken")
_ACCEPTED = ", ".join(CONNECTION_STRING_KEYS)
_DEFAULT_REGION = DEFAULT_REGION
_STYLES: dict[str, AddressingStyle] = {style: style for style in ADDRESSING_STYLES}
_FORCE_PATH: dict[str, AddressingStyle] = {
    "true": "path",
    "1": "path",
    "yes": "path",
    "false": "virtual",
    "0": "virtual",
    "no": "virtual",
}
_QUOTES = "'\""
_KEY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")
_REGION = re.compile(r"[a-z0-9-]+")


_FIELD_KEYS = {
    "service_url": "ServiceUrl",
    "access_key": "AccessKey",
    "secret_key": "SecretKey",
    "object_bucket": "ObjectBucketName",
    "recycle_bucket": "RecycleBucketName",
    "region": "Region",
    "addressing_style": "AddressingStyle",
    "session_token": "SessionToken",
    "checksum": "Checksum",
}
_FIELD_LABELS = {name: f"{name} ({key})" for name, key in _FIELD_KEYS.items()}


class _BadValue(Exception):
    """Internal: a value failed a check; the message says why (never echoes secrets)."""


@dataclass(frozen=True, slots=True, repr=False)
class ConnectionSettings:
    """Where and how to reach one S3 server; validated when constructed.

    ``service_url`` is normalised on construction (lower-case scheme and host, no
    default port, no trailing slash).  ``repr``/``str`` mask the secret key and
    session token.
    """

    service_url: str
    access_key: str
    secret_key: str
    object_bucket: str
    recycle_bucket: str | None
    region: str = _DEFAULT_REGION
    addressing_style: AddressingStyle = "auto"
    session_token: str | None = None
    checksum: ChecksumChoice | None = None
    """The ``Checksum`` key (``None``: not given, the client's option stands)."""

    def __post_init__(self) -> None:
        # The only validation of settings; a parsed string gets the same checks here,
        # with its messages relabelled by ``_build`` (``AccessKey (from ...)``).
        label = _FIELD_LABELS
        try:
            url = _normalise_url(self.service_url)
        except _BadValue as bad:
            raise ConfigurationError(f"{label['service_url']} {bad}") from None
        object.__setattr__(self, "service_url", url)
        checks: list[tuple[str, str | None]] = [
            ("access_key", _token_problem(self.access_key)),
            ("secret_key", _secret_problem(self.secret_key)),
            ("object_bucket", _bucket_problem(self.object_bucket)),
            ("region", _region_problem(self.region)),
        ]
        if self.recycle_bucket is not None:
            checks.append(("recycle_bucket", _bucket_problem(self.recycle_bucket)))
        if self.session_token is not None:
            checks.append(("session_token", _token_problem(self.session_token)))
        if self.addressing_style not in _STYLES:
            checks.append(("addressing_style", "must be auto, path or virtual"))
        if self.checksum is not None and self.checksum not in CHECKSUM_CHOICES:
            checks.append(("checksum", f"must be one of {', '.join(CHECKSUM_CHOICES)}"))
        for name, problem in checks:
            if problem is not None:
                raise ConfigurationError(f"{label[name]} {problem}")
        if self.recycle_bucket == self.object_bucket:
            raise ConfigurationError(
                f"{label['recycle_bucket']} must differ from {label['object_bucket']}; "
                f"both are {_show(self.object_bucket)}"
            )

    def __repr__(self) -> str:
        token = None if self.session_token is None else "***"
        return (
            f"ConnectionSettings(service_url={self.service_url!r}, "
            f"access_key={self.access_key!r}, secret_key='***', "
            f"object_bucket={self.object_bucket!r}, recycle_bucket={self.recycle_bucket!r}, "
            f"region={self.region!r}, addressing_style={self.addressing_style!r}, "
            f"session_token={token!r}, checksum={self.checksum!r})"
        )

    @property
    def checksum_option(self) -> ChecksumSetting:
        """The ``checksum`` client option the ``Checksum`` key stands for."""
        return None if self.checksum in (None, "none") else self.checksum  # type: ignore[return-value]

    def to_connection_string(self) -> str:
        """The settings as a connection string that parses back to an equal value.

        The result CONTAINS THE SECRET KEY (and session token): treat it as a secret.
        ``Region`` is always written, so the result does not depend on the environment.
        """
        pairs = [
            ("ServiceUrl", self.service_url),
            ("AccessKey", self.access_key),
            ("SecretKey", self.secret_key),
            ("ObjectBucketName", self.object_bucket),
        ]
        if self.recycle_bucket is not None:
            pairs.append(("RecycleBucketName", self.recycle_bucket))
        pairs.append(("Region", self.region))
        if self.addressing_style != "auto":
            pairs.append(("AddressingStyle", self.addressing_style))
        if self.session_token is not None:
            pairs.append(("SessionToken", self.session_token))
        if self.checksum is not None:
            pairs.append(("Checksum", self.checksum))
        return "; ".join(f"{key}={_quote(value)}" for key, value in pairs) + ";"


def parse_connection_string(
    text: str, *, environ: Mapping[str, str] | None = None
) -> ConnectionSettings:
    """Parse and validate a connection string (see the module rules).

    ``environ`` (default ``os.environ``) supplies credentials and region that the
    string leaves out.  Raises ``ConfigurationError`` naming the offending key.
    """
    if not isinstance(text, str):
        raise ConfigurationError(f"connection string must be a str, not {type(text).__name__}")
    env = os.environ if environ is None else environ
    pairs = _split_pairs(text)
    fail = _Fail(
        [value for _, key, value in pairs if key.lower() in _SENSITIVE_KEYS]
        + [env.get("AWS_SECRET_ACCESS_KEY", ""), env.get("AWS_SESSION_TOKEN", "")]
    )
    return _build(_collect(pairs, fail), env, fail)


def read_connection_config(
    path: str | os.PathLike[str],
    name: str = "s3Connection",
    *,
    environ: Mapping[str, str] | None = None,
) -> ConnectionSettings:
    """Read connection string ``name`` from an XML ``<connectionStrings>`` file and parse it.

    The root may be ``<connectionStrings>`` or ``<configuration>``; ``name`` is
    matched exactly, then case-insensitively.  Documents with a DOCTYPE or ENTITY
    declaration are refused.  Every failure is a ``ConfigurationError`` naming the
    file and the entry.
    """
    where = f"config file {os.fspath(path)!r}"
    wanted = f"connection string {name!r}"
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError as err:
        raise ConfigurationError(f"{where} does not exist (looking for {wanted})") from err
    except OSError as err:
        reason = err.strerror or type(err).__name__
        message = f"{where} cannot be read: {reason} (looking for {wanted})"
        raise ConfigurationError(message) from err
    text = _find_connection_string(data, name, where, wanted)
    try:
        return parse_connection_string(text, environ=environ)
    except ConfigurationError as err:
        raise ConfigurationError(f"{where}, {wanted}: {err}") from err


# --- parsing -----------------------------------------------------------------


class _Fail:
    """Builds ConfigurationErrors with any known secret value masked (a backstop)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, message: str) -> ConfigurationError:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return ConfigurationError(message)


def _split_pairs(text: str) -> list[tuple[int, str, str]]:
    """``(pair number, key, value)`` for every non-empty pair, keys and values stripped."""
    pairs: list[tuple[int, str, str]] = []
    pos, end, number = 0, len(text), 0
    while pos < end:
        semi = text.find(";", pos)
        stop = end if semi < 0 else semi
        eq = text.find("=", pos, stop)
        if eq < 0:
            raw = text[pos:stop].strip()
            if raw:
                raise ConfigurationError(_no_equals_message(number + 1, raw))
            pos = stop + 1
            continue
        number += 1
        key = text[pos:eq].strip()
        if not key:
            raise ConfigurationError(f"pair {number} has no key before '='")
        start = eq + 1
        while start < stop and text[start].isspace():
            start += 1
        if start < stop and text[start] in _QUOTES:
            value, pos = _read_quoted(text, start, number, key)
        else:
            value, pos = text[start:stop].strip(), stop + 1
        pairs.append((number, key, value))
    if not pairs:
        raise ConfigurationError("connection string is empty")
    return pairs


def _read_quoted(text: str, start: int, number: int, key: str) -> tuple[str, int]:
    """Read a quoted value at ``start``; returns the value and the position after its ``;``."""
    quote, chunks, pos = text[start], [], start + 1
    while True:
        close = text.find(quote, pos)
        if close < 0:
            raise ConfigurationError(
                f"{_describe_key(key)} (pair {number}) has a value with no closing {quote}"
            )
        chunks.append(text[pos:close])
        if text.startswith(quote, close + 1):
            chunks.append(quote)
            pos = close + 2
            continue
        break
    after = close + 1
    while after < len(text) and text[after].isspace():
        after += 1
    if after < len(text) and text[after] != ";":
        raise ConfigurationError(
            f"{_describe_key(key)} (pair {number}) has text after the closing {quote} of its "
            f"value (to put {quote} inside a {quote}-quoted value, double it)"
        )
    return "".join(chunks), after + 1


def _sensitive_prefix(raw: str) -> str | None:
    lowered = raw.lower()
    for key in _SENSITIVE_KEYS:
        if lowered.startswith(key) and lowered != key:
            return _CANONICAL[key]
    return None


def _describe_key(raw: str) -> str:
    """How a raw key may be shown in a message: canonical, quoted, or not at all."""
    canonical = _CANONICAL.get(raw.lower())
    if canonical is not None:
        return canonical
    if _KEY_NAME.fullmatch(raw) and _sensitive_prefix(raw) is None:
        return f"unknown key {raw!r}"
    return "an unrecognised key"


def _no_equals_message(number: int, raw: str) -> str:
    canonical = _CANONICAL.get(raw.lower())
    if canonical is not None:
        return f"{canonical} (pair {number}) has no '=' and no value; write {canonical}=value"
    for lowered, key in _CANONICAL.items():
        if raw.lower().startswith(lowered):
            return f"pair {number} starts with {key} but has no '='; write {key}=value"
    return f"pair {number} is not Key=Value (no '='); its text is not shown in case it is secret"


def _collect(pairs: list[tuple[int, str, str]], fail: _Fail) -> dict[str, str]:
    """Map canonical key -> value, rejecting unknown and repeated keys."""
    values: dict[str, str] = {}
    seen_at: dict[str, int] = {}
    for number, raw, value in pairs:
        canonical = _CANONICAL.get(raw.lower())
        if canonical is None:
            raise fail(_unknown_key_message(number, raw))
        if canonical in values:
            raise fail(
                f"{canonical} is given more than once (pairs {seen_at[canonical]} and {number}; "
                "keys are case-insensitive)"
            )
        values[canonical], seen_at[canonical] = value, number
    return values


def _unknown_key_message(number: int, raw: str) -> str:
    prefix = _sensitive_prefix(raw)
    if prefix is not None:
        return (
            f"pair {number} has a key that starts with {prefix} followed by more text "
            f"(not shown); write {prefix}=value"
        )
    guess = difflib.get_close_matches(raw.lower().replace(" ", ""), list(_CANONICAL), n=1)
    hint = f" (did you mean {_CANONICAL[guess[0]]}?)" if guess else ""
    return f"{_describe_key(raw)} in pair {number}{hint}; accepted keys: {_ACCEPTED}"


def _build(values: dict[str, str], environ: Mapping[str, str], fail: _Fail) -> ConnectionSettings:
    for key, value in values.items():
        if not value:
            raise fail(f"{key} has an empty value")
    for key in ("ServiceUrl", "ObjectBucketName"):
        if key not in values:
            raise fail(f"{key} is missing; it is required")
    try:  # the URL first: user info in it is the mistake to report, not missing keys
        _normalise_url(values["ServiceUrl"])
    except _BadValue as bad:
        raise fail(f"ServiceUrl {bad}") from None
    try:
        resolved = resolve_credentials(
            values.get("AccessKey"),
            values.get("SecretKey"),
            values.get("SessionToken"),
            environ,
            names=("AccessKey", "SecretKey", "SessionToken"),
        )
    except ConfigurationError as err:
        raise fail(str(err)) from None
    region, variable = resolve_region(values.get("Region"), environ)
    # How each field is named in messages: by its key, and by where it came from.
    labels = dict(_FIELD_KEYS)
    if resolved.origin == "environment":
        labels["access_key"] = "AccessKey (from AWS_ACCESS_KEY_ID)"
        labels["secret_key"] = "SecretKey (from AWS_SECRET_ACCESS_KEY)"
        labels["session_token"] = "SessionToken (from AWS_SESSION_TOKEN)"
    if variable:
        labels["region"] = f"Region (from {variable})"
    credentials = resolved.credentials
    try:
        return ConnectionSettings(
            service_url=values["ServiceUrl"],
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            object_bucket=values["ObjectBucketName"],
            recycle_bucket=values.get("RecycleBucketName"),
            region=region,
            addressing_style=_addressing_style(values, fail),
            session_token=credentials.session_token,
            checksum=_checksum(values, fail),
        )
    except ConfigurationError as err:
        message = str(err)
        for name, label in _FIELD_LABELS.items():
            message = message.replace(label, labels[name])
        raise fail(message) from None


def _checksum(values: Mapping[str, str], fail: _Fail) -> ChecksumChoice | None:
    text = values.get("Checksum")
    if text is None:
        return None
    for choice in CHECKSUM_CHOICES:
        if text.lower() == choice:
            return choice
    raise fail(f"Checksum {_show(text)} is not one of {', '.join(CHECKSUM_CHOICES)}")


def _addressing_style(values: Mapping[str, str], fail: _Fail) -> AddressingStyle:
    forced = named = None
    force_text, style_text = values.get("ForcePathStyle"), values.get("AddressingStyle")
    if force_text is not None:
        forced = _FORCE_PATH.get(force_text.lower())
        if forced is None:
            raise fail(
                f"ForcePathStyle {_show(force_text)} is not one of true, false, 1, 0, yes, no"
            )
    if style_text is not None:
        named = _STYLES.get(style_text.lower())
        if named is None:
            raise fail(f"AddressingStyle {_show(style_text)} is not one of auto, path, virtual")
    if forced is not None and named is not None and forced != named:
        raise fail(
            f"ForcePathStyle={force_text} (addressing style {forced}) conflicts with "
            f"AddressingStyle={style_text}; give only one of them"
        )
    return forced or named or "auto"


# --- value checks (pure; return a problem description or None) ----------------


def _show(value: str, limit: int = 63) -> str:
    """A value quoted for a message, cut short if long."""
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def _quote(value: str) -> str:
    """A value as written in a connection string, quoted only when it must be."""
    if value and value == value.strip() and ";" not in value and value[0] not in _QUOTES:
        return value
    quote = "'" if '"' in value and "'" not in value else '"'
    return quote + value.replace(quote, quote * 2) + quote


def _token_problem(value: str) -> str | None:
    """Access keys and session tokens travel in headers: printable ASCII, no spaces."""
    if not value:
        return "is empty"
    if not all("!" <= char <= "~" for char in value):
        return "must be printable ASCII without spaces"
    return None


def _secret_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        return "must not contain control characters"
    return None


def _bucket_problem(name: str) -> str | None:
    """S3's rules for naming a bucket (the client's validator)."""
    reason = bucket_name_problem(name)
    return None if reason is None else f"{_show(name)} is not a valid bucket name: it {reason}"


def _region_problem(region: str) -> str | None:
    if _REGION.fullmatch(region):
        return None
    return f"{_show(region)} is not a valid region: use lowercase letters, digits and hyphens"


def _normalise_url(url: str) -> str:
    """``scheme://host[:port][/path]``: lower-case, no default port, no trailing slash."""
    try:
        scheme, host, port, path = parse_service_url(url)
    except ConfigurationError as err:
        raise _BadValue(str(err).removeprefix("endpoint URL ")) from None
    shown_host = f"[{host}]" if ":" in host else host
    shown_port = f":{port}" if port is not None and port != DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{shown_host}{shown_port}{path}"


# --- config files ------------------------------------------------------------


_local = local_name


def _find_connection_string(data: bytes, name: str, where: str, wanted: str) -> str:
    def error(message: str) -> ConfigurationError:
        return ConfigurationError(f"{where} {message} (looking for {wanted})")

    try:
        root = parse_untrusted(data)
    except DoctypeRefused:
        raise error("declares a DOCTYPE or ENTITY, which is refused") from None
    except ET.ParseError as err:
        raise error(f"is not well-formed XML: {err}") from None
    if _local(root.tag) == "connectionStrings":
        sections = [root]
    elif _local(root.tag) == "configuration":
        sections = [child for child in root if _local(child.tag) == "connectionStrings"]
        if not sections:
            raise error("has no <connectionStrings> section")
    else:
        raise error(
            f"has root element <{_local(root.tag)}>, not <connectionStrings> or <configuration>"
        )
    entries = [e for section in sections for e in section if _local(e.tag) == "add"]
    for matches in (
        [e for e in entries if e.get("name") == name],
        [e for e in entries if (e.get("name") or "").lower() == name.lower()],
    ):
        if len(matches) > 1:
            raise error(f"has {len(matches)} entries named {name!r}")
        if matches:
            text = matches[0].get("connectionString")
            if text is None:
                raise error(f"has no connectionString attribute on entry {name!r}")
            return text
    names = sorted({e.get("name") or "" for e in entries} - {""})
    listed = ", ".join(repr(n) for n in names) if names else "none"
    raise error(f"has no entry named {name!r} (entries: {listed})")
