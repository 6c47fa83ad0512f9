"""Credentials, and the one rule that finds them and the region.

Rules of this module:
- A credential source is taken whole or not at all: the access key, the secret
  and the session token always come from the same place (the caller's
  arguments, or the environment), never one from each.
- Empty environment variables count as unset.
- Secrets never appear in a ``repr`` or in an error message.
- Pure: the environment is an argument (a mapping), never read behind the caller's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ._exceptions import ConfigurationError

__all__ = [
    "DEFAULT_REGION",
    "Credentials",
    "ResolvedCredentials",
    "resolve_credentials",
    "resolve_region",
]

DEFAULT_REGION = "us-east-1"
_REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """An access key, its secret, an optional session token, and when they expire
    (``expiration``: an aware datetime; None for keys that do not expire).

    The secret and the token never appear in ``repr``.
    """

    access_key: str
    secret_key: str
    session_token: str | None = None
    expiration: datetime | None = None

    def __repr__(self) -> str:
        token = ", session_token='***'" if self.session_token else ""
        expires = f", expiration={self.expiration.isoformat()!r}" if self.expiration else ""
        return f"Credentials(access_key={self.access_key!r}, secret_key='***'{token}{expires})"

    __str__ = __repr__


CredentialOrigin = Literal["explicit", "environment"]


@dataclass(frozen=True, slots=True)
class ResolvedCredentials:
    """Credentials and where they came from (for messages that name the source)."""

    credentials: Credentials
    origin: CredentialOrigin


def _env(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name) or None


def resolve_credentials(
    access_key: str | None,
    secret_key: str | None,
    session_token: str | None,
    environ: Mapping[str, str],
    *,
    names: tuple[str, str, str] = ("access_key", "secret_key", "session_token"),
) -> ResolvedCredentials:
    """The caller's credentials when any is given (then key and secret are both
    required), else ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
    ``AWS_SESSION_TOKEN`` together.  ``names`` label the arguments in messages
    (a connection string calls them ``AccessKey`` ...)."""
    key_name, secret_name, token_name = names
    if access_key is not None or secret_key is not None or session_token is not None:
        if access_key is None or secret_key is None:
            given = key_name if access_key is not None else secret_name
            if access_key is None and secret_key is None:
                given = token_name
            missing = " and ".join(
                n for n, v in ((key_name, access_key), (secret_name, secret_key)) if v is None
            )
            raise ConfigurationError(
                f"{given} is given but {missing} is not: the access key, its secret and "
                "session token must come from the same place (not partly from the environment)"
            )
        return ResolvedCredentials(Credentials(access_key, secret_key, session_token), "explicit")
    env_key = _env(environ, "AWS_ACCESS_KEY_ID")
    env_secret = _env(environ, "AWS_SECRET_ACCESS_KEY")
    if env_key is None or env_secret is None:
        missing = " and ".join(
            variable
            for variable, value in (
                ("AWS_ACCESS_KEY_ID", env_key),
                ("AWS_SECRET_ACCESS_KEY", env_secret),
            )
            if value is None
        )
        raise ConfigurationError(
            f"no credentials: pass {key_name} and {secret_name}, or set AWS_ACCESS_KEY_ID "
            f"and AWS_SECRET_ACCESS_KEY ({missing} not set)"
        )
    token = _env(environ, "AWS_SESSION_TOKEN")
    return ResolvedCredentials(Credentials(env_key, env_secret, token), "environment")


def resolve_region(
    region: str | None, environ: Mapping[str, str], profile_region: str | None = None
) -> tuple[str, str | None]:
    """The region and the environment variable it came from (``None``: given, from the
    profile, or default): the argument, then ``AWS_REGION``, then ``AWS_DEFAULT_REGION``,
    then the profile's ``region``, then us-east-1."""
    if region:
        return region, None
    for variable in _REGION_VARIABLES:
        value = _env(environ, variable)
        if value is not None:
            return value, variable
    return profile_region or DEFAULT_REGION, None
