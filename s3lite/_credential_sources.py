"""The default credential chain: where credentials are looked for, in botocore's order.

Rules of this module:
- Sources, in order: the environment; the shared files' profile (static keys,
  ``credential_process``, ``role_arn`` with ``source_profile`` /
  ``credential_source`` / ``web_identity_token_file``); web identity from the
  environment; the container endpoint; EC2 instance metadata (IMDSv2 only).
  ``profile=`` given to the client skips the environment, as in botocore.
- A source either does not apply (it says why, in one phrase: the
  ``NoCredentialsError`` lists them all), gives complete credentials (key,
  secret and token from that one source), or applies and fails
  (``CredentialRetrievalError``: the chain stops there, as botocore's does).
- The source that gave credentials is the one asked again when they need a
  refresh (``_credential_cache``).
- Network sources use s3lite's own engine with short timeouts (1 s for the
  instance metadata, 2 s for the container endpoint); nothing here logs or
  raises a secret.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shlex
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

import anyio
import anyio.to_thread

from . import _sts
from ._aws_config import SharedConfig, load_shared_config, profile_name
from ._credentials import Credentials
from ._engine import EngineTransport
from ._exceptions import ConfigurationError, CredentialRetrievalError, NoCredentialsError, S3Error
from ._http import Headers, HttpRequest
from ._signing import sha256_hex, sign_headers
from ._urls import Target

__all__ = ["DefaultCredentialChain", "fetch"]

logger = logging.getLogger("s3lite")

Outcome = Credentials | str
"""Credentials, or why a source does not apply."""
Source = Callable[[], Awaitable[Outcome]]

IMDS_ENDPOINT = "http://169.254.169.254"
IMDS_TOKEN_TTL = 21600
CONTAINER_HOST = "http://169.254.170.2"
_CONTAINER_HOSTS = {"169.254.170.2", "169.254.170.23", "fd00:ec2::23"}


# --- HTTP for credential endpoints --------------------------------------------------


def _target(url: str) -> tuple[Target, str]:
    """Where a credential endpoint's URL points, and its query string."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
    return Target(parts.scheme, parts.hostname, parts.port, parts.path or "/"), parts.query


async def fetch(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    *,
    seconds: float,
) -> tuple[int, Headers, bytes]:
    """One request to a credential endpoint, on a connection of its own (its ``Host``
    header is the one ``_target`` gives, which is what a signature must cover)."""
    target, query = _target(url)
    transport = EngineTransport(
        timeout=seconds, connect_timeout=seconds, max_connections=1, verify=True
    )
    request_headers = [("host", target.host_header), *headers]
    if body or method in ("PUT", "POST"):
        request_headers.append(("content-length", str(len(body))))
    try:
        with anyio.fail_after(seconds * 3):
            response = await transport.send(
                HttpRequest(method, target, query, request_headers, body or None),
                stream=False,
            )
    except TimeoutError:
        raise CredentialRetrievalError(f"{target.host_header} did not answer in time") from None
    finally:
        await transport.aclose()
    return response.status, response.headers, response.content


# --- the shapes credentials arrive in -----------------------------------------------


def _expiration(value: object, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise CredentialRetrievalError(f"{where} gave an Expiration that is not a string")
    try:
        return _sts.parse_iso_time(value)
    except ValueError:
        raise CredentialRetrievalError(f"{where} gave an unreadable Expiration") from None


def _from_json(data: bytes, where: str, *, token_field: str) -> Credentials:
    """Credentials from the JSON of a process, the container endpoint or IMDS."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise CredentialRetrievalError(f"{where} did not answer JSON") from None
    if not isinstance(document, dict):
        raise CredentialRetrievalError(f"{where} did not answer a JSON object")
    key, secret = document.get("AccessKeyId"), document.get("SecretAccessKey")
    if not isinstance(key, str) or not key or not isinstance(secret, str) or not secret:
        raise CredentialRetrievalError(f"{where} gave no AccessKeyId and SecretAccessKey")
    token = document.get(token_field)
    if token is not None and not isinstance(token, str):
        raise CredentialRetrievalError(f"{where} gave a {token_field} that is not a string")
    return Credentials(key, secret, token or None, _expiration(document.get("Expiration"), where))


def _env(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name) or None


def _session_name(given: str | None) -> str:
    return given or f"s3lite-{int(time.time())}"


# --- the chain --------------------------------------------------------------------


class DefaultCredentialChain:
    """Finds credentials as botocore does (see the module's rules)."""

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        profile: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        self._environ = dict(environ)
        self._profile, self._profile_chosen = profile_name(profile, environ)
        self._skip_environment = bool(profile)
        self._region = region
        self._winner: Source | None = None
        self._imds_cached: tuple[str, float] | None = None

    def __repr__(self) -> str:
        return f"DefaultCredentialChain(profile={self._profile!r})"

    async def get_credentials(self) -> Credentials:
        """Credentials from the first source that has them (the same source as last
        time, once one has)."""
        if self._winner is not None:
            outcome = await self._winner()
            if isinstance(outcome, Credentials):
                return outcome
            raise CredentialRetrievalError(f"credentials are no longer available: {outcome}")
        tried: list[str] = []
        for name, source in self._sources():
            outcome = await source()
            if isinstance(outcome, Credentials):
                logger.info("credentials found in %s", name)
                self._winner = source
                return outcome
            tried.append(f"{name}: {outcome}")
        raise NoCredentialsError(
            "no credentials found; pass access_key and secret_key (or credentials=), or "
            "configure one of these sources, tried in order: " + "; ".join(tried)
        )

    def static_now(self, shared: SharedConfig | None) -> Credentials | None:
        """Credentials the environment or the profile hold as plain keys, found without
        I/O (so a presigned URL can be made at once); ``shared``: the shared files as the
        client read them (None: unreadable)."""
        if not self._skip_environment:
            found = self._environment_keys()
            if isinstance(found, Credentials):
                return found
        if shared is None:
            return None
        settings = shared.profile(self._profile)
        if settings and "role_arn" not in settings and "credential_process" not in settings:
            keys = self._static_keys(settings, self._profile)
            return keys if isinstance(keys, Credentials) else None
        return None

    def _sources(self) -> list[tuple[str, Source]]:
        sources: list[tuple[str, Source]] = []
        if not self._skip_environment:
            sources.append(("the environment", self._environment))
        sources += [
            (f"the shared files (profile {self._profile!r})", self._shared_files),
            ("web identity (AWS_WEB_IDENTITY_TOKEN_FILE)", self._web_identity_env),
            ("the container endpoint", self._container),
            ("EC2 instance metadata (IMDSv2)", self._instance_metadata),
        ]
        return sources

    # --- environment ---------------------------------------------------------------

    def _environment_keys(self) -> Outcome:
        key = _env(self._environ, "AWS_ACCESS_KEY_ID")
        secret = _env(self._environ, "AWS_SECRET_ACCESS_KEY")
        if key and secret:
            token = _env(self._environ, "AWS_SESSION_TOKEN")
            expires = _expiration(
                _env(self._environ, "AWS_CREDENTIAL_EXPIRATION"), "AWS_CREDENTIAL_EXPIRATION"
            )
            return Credentials(key, secret, token, expires)
        if key or secret:
            missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
            return f"{missing} is not set (both are needed)"
        return "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"

    async def _environment(self) -> Outcome:
        return self._environment_keys()

    # --- shared files ----------------------------------------------------------------

    async def _shared_files(self) -> Outcome:
        config = await anyio.to_thread.run_sync(load_shared_config, self._environ)
        if config.profile(self._profile) is None:
            if self._profile_chosen:
                raise ConfigurationError(
                    f"the profile {self._profile!r} is not in {config.where}"
                )
            return f"no [default] profile in {config.where}"
        return await self._profile_credentials(config, self._profile, ())

    @staticmethod
    def _static_keys(settings: Mapping[str, str], name: str) -> Outcome:
        key = settings.get("aws_access_key_id")
        secret = settings.get("aws_secret_access_key")
        if key and secret:
            return Credentials(key, secret, settings.get("aws_session_token"))
        if key or secret:
            raise CredentialRetrievalError(
                f"profile {name!r} has only one of aws_access_key_id and aws_secret_access_key"
            )
        return f"profile {name!r} has no credentials"

    async def _profile_credentials(
        self, config: SharedConfig, name: str, chain: tuple[str, ...]
    ) -> Outcome:
        settings = config.profile(name)
        if settings is None:
            raise CredentialRetrievalError(
                f"source_profile {name!r} (from {' -> '.join(chain)}) is not in {config.where}"
            )
        role_arn = settings.get("role_arn")
        if role_arn is None:
            keys = self._static_keys(settings, name)
            if isinstance(keys, Credentials) or "credential_process" not in settings:
                return keys
            return await self._process(settings["credential_process"], name)
        session = _session_name(settings.get("role_session_name"))
        if "web_identity_token_file" in settings:
            return await self._assume_with_web_identity(
                role_arn, session, settings["web_identity_token_file"], f"profile {name!r}"
            )
        source_profile = settings.get("source_profile")
        if source_profile is not None:
            looping = source_profile == name and "aws_access_key_id" not in settings
            if source_profile in chain or looping:
                raise CredentialRetrievalError(
                    f"source_profile loops: {' -> '.join((*chain, name, source_profile))}"
                )
            if source_profile == name:
                source = self._static_keys(settings, name)
            else:
                source = await self._profile_credentials(config, source_profile, (*chain, name))
        elif "credential_source" in settings:
            source = await self._credential_source(settings["credential_source"], name)
        else:
            raise CredentialRetrievalError(
                f"profile {name!r} has role_arn but no source_profile, credential_source "
                "or web_identity_token_file"
            )
        if not isinstance(source, Credentials):
            raise CredentialRetrievalError(
                f"profile {name!r} assumes a role, but its source has no credentials: {source}"
            )
        return await self._assume_role(source, role_arn, session, settings.get("external_id"))

    async def _credential_source(self, kind: str, name: str) -> Outcome:
        sources: dict[str, Source] = {
            "Environment": self._environment,
            "Ec2InstanceMetadata": self._instance_metadata,
            "EcsContainer": self._container,
        }
        source = sources.get(kind)
        if source is None:
            raise CredentialRetrievalError(
                f"profile {name!r} has credential_source {kind!r}; accepted: "
                f"{', '.join(sources)}"
            )
        return await source()

    async def _process(self, command: str, name: str) -> Outcome:
        where = f"credential_process of profile {name!r}"
        argv = shlex.split(command) if sys.platform != "win32" else [command]
        try:
            done = await anyio.run_process(argv, check=False)
        except OSError as error:
            raise CredentialRetrievalError(f"{where} could not start: {error.strerror}") from None
        if done.returncode != 0:
            raise CredentialRetrievalError(f"{where} exited with status {done.returncode}")
        try:
            version = json.loads(done.stdout).get("Version")
        except (ValueError, AttributeError, UnicodeDecodeError):
            version = None
        if version != 1:
            raise CredentialRetrievalError(f"{where} must print JSON with \"Version\": 1")
        return _from_json(done.stdout, where, token_field="SessionToken")

    # --- STS -----------------------------------------------------------------------

    async def _assume_role(
        self, source: Credentials, role_arn: str, session: str, external_id: str | None
    ) -> Credentials:
        body = _sts.assume_role_form(role_arn, session, external_id=external_id)
        url = _sts.sts_endpoint(self._environ, self._region)
        target, _ = _target(url)
        headers = [
            ("host", target.host_header),  # as fetch sends it
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
        ]
        signed = sign_headers(
            "POST",
            target.path,
            [],
            headers,
            sha256_hex(body),
            source,
            self._region,
            datetime.now(UTC),
            service="sts",
        )
        return await self._sts_call("AssumeRole", url, [*headers[1:], *signed.headers], body)

    async def _assume_with_web_identity(
        self, role_arn: str, session: str, token_file: str, where: str
    ) -> Credentials:
        try:
            token = (await (await anyio.Path(token_file).expanduser()).read_text()).strip()
        except OSError as error:
            raise CredentialRetrievalError(
                f"{where}: cannot read the web identity token file: {error.strerror}"
            ) from None
        body = _sts.web_identity_form(role_arn, session, token)
        url = _sts.sts_endpoint(self._environ, self._region)
        headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")]
        return await self._sts_call("AssumeRoleWithWebIdentity", url, headers, body)

    async def _sts_call(
        self, action: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> Credentials:
        try:
            status, _, answer = await fetch("POST", url, headers, body, seconds=10.0)
        except S3Error as error:
            if isinstance(error, CredentialRetrievalError):
                raise
            raise CredentialRetrievalError(f"STS {action} failed: {error}") from None
        return _sts.parse_credentials(action, status, answer)

    async def _web_identity_env(self) -> Outcome:
        token_file = _env(self._environ, "AWS_WEB_IDENTITY_TOKEN_FILE")
        role_arn = _env(self._environ, "AWS_ROLE_ARN")
        if not token_file or not role_arn:
            return "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not both set"
        session = _session_name(_env(self._environ, "AWS_ROLE_SESSION_NAME"))
        return await self._assume_with_web_identity(
            role_arn, session, token_file, "AWS_WEB_IDENTITY_TOKEN_FILE"
        )

    # --- container endpoint --------------------------------------------------------

    def _container_url(self) -> str | None:
        relative = _env(self._environ, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        if relative:
            return f"{CONTAINER_HOST}{relative}"
        full = _env(self._environ, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
        if not full:
            return None
        parts = urllib.parse.urlsplit(full)
        if parts.scheme == "https":
            return full
        if parts.scheme == "http" and _allowed_container_host(parts.hostname or ""):
            return full
        raise CredentialRetrievalError(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback or "
            "the ECS/EKS container address"
        )

    def _container_token(self) -> str | None:
        token_file = _env(self._environ, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        if token_file:
            try:
                with open(token_file, encoding="utf-8") as file:
                    token: str | None = file.read().strip()
            except OSError as error:
                raise CredentialRetrievalError(
                    f"cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: {error.strerror}"
                ) from None
        else:
            token = _env(self._environ, "AWS_CONTAINER_AUTHORIZATION_TOKEN")
        if token and ("\r" in token or "\n" in token):
            raise CredentialRetrievalError("the container authorization token has a line break")
        return token

    async def _container(self) -> Outcome:
        url = self._container_url()
        if url is None:
            return (
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set"
            )
        token = self._container_token()
        headers = [("accept", "application/json")]
        if token:
            headers.append(("authorization", token))
        last = ""
        for _ in range(3):
            try:
                status, _, body = await fetch("GET", url, headers, seconds=2.0)
            except S3Error as error:
                last = str(error)
                continue
            if status == 200:
                return _from_json(body, "the container endpoint", token_field="Token")
            last = f"status {status}"
            if status < 500:
                break
        raise CredentialRetrievalError(f"the container endpoint gave no credentials ({last})")

    # --- EC2 instance metadata -------------------------------------------------------

    async def _instance_metadata(self) -> Outcome:
        if (_env(self._environ, "AWS_EC2_METADATA_DISABLED") or "").lower() == "true":
            return "AWS_EC2_METADATA_DISABLED is true"
        base = (_env(self._environ, "AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_ENDPOINT).rstrip(
            "/"
        )
        try:
            timeout = float(_env(self._environ, "AWS_METADATA_SERVICE_TIMEOUT") or 1.0)
        except ValueError:
            raise ConfigurationError(
                "AWS_METADATA_SERVICE_TIMEOUT must be a number of seconds"
            ) from None
        path = "/latest/meta-data/iam/security-credentials/"
        try:
            status, body = await self._imds_get(base, path, timeout)
            if status == 404:
                return "the instance has no IAM role"
            if status != 200:
                return f"the instance metadata answered {status} for its role"
            role = body.decode("utf-8", "replace").strip().splitlines()[0:1]
            if not role:
                return "the instance has no IAM role"
            status, body = await self._imds_get(base, path + role[0], timeout)
        except _NotApplicable as reason:
            return str(reason)
        except S3Error as error:
            return f"the instance metadata did not answer ({type(error).__name__})"
        if status == 404:
            return "the instance role has no credentials"
        if status != 200:
            return f"the instance metadata answered {status} for the role's credentials"
        return _from_json(body, "the instance metadata", token_field="Token")

    async def _imds_token(self, base: str, seconds: float, *, renew: bool) -> str:
        now = time.monotonic()
        if self._imds_cached is not None and not renew and self._imds_cached[1] > now:
            return self._imds_cached[0]
        headers = [("x-aws-ec2-metadata-token-ttl-seconds", str(IMDS_TOKEN_TTL))]
        status, _, body = await fetch("PUT", f"{base}/latest/api/token", headers, seconds=seconds)
        if status != 200 or not body.strip():
            self._imds_cached = None
            raise _NotApplicable(
                f"the instance metadata refused an IMDSv2 token ({status}); IMDSv1 is not used"
            )
        token = body.decode("ascii", "replace").strip()
        self._imds_cached = (token, now + IMDS_TOKEN_TTL - 60)
        return token

    async def _imds_get(self, base: str, path: str, seconds: float) -> tuple[int, bytes]:
        for renew in (False, True):
            token = await self._imds_token(base, seconds, renew=renew)
            headers = [("x-aws-ec2-metadata-token", token)]
            status, _, body = await fetch("GET", f"{base}{path}", headers, seconds=seconds)
            if status != 401:  # 401: the token expired; one new token, once
                return status, body
        return status, body


class _NotApplicable(Exception):
    """A source found out mid-way that it does not apply (its message says why)."""


def _allowed_container_host(host: str) -> bool:
    if host == "localhost" or host in _CONTAINER_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

