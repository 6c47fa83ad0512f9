"""The AWS shared files (``~/.aws/credentials`` and ``~/.aws/config``) and profile names.

Rules of this module:
- Paths come from ``AWS_SHARED_CREDENTIALS_FILE`` / ``AWS_CONFIG_FILE``, else
  ``~/.aws/credentials`` / ``~/.aws/config`` under ``HOME`` (the environment is
  an argument, never read behind the caller's back).
- A profile is the ``[name]`` section of the credentials file over the
  ``[profile name]`` section (``[default]`` for the default) of the config file:
  a key set in both comes from the credentials file, as in the AWS CLI.
- A missing or unreadable file is an empty file; a file that is not INI raises
  ``ConfigurationError`` naming the file, never its contents.
- Reads files and nothing else: no network, no secrets in messages.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._exceptions import ConfigurationError

__all__ = ["SharedConfig", "load_shared_config", "profile_name"]


@dataclass(frozen=True, slots=True)
class SharedConfig:
    """The profiles of both shared files, and where they were read from."""

    credentials_path: str
    config_path: str
    profiles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def profile(self, name: str) -> Mapping[str, str] | None:
        """The merged settings of profile ``name``, or None when neither file has it."""
        return self.profiles.get(name)

    @property
    def where(self) -> str:
        """Both paths, for messages."""
        return f"{self.credentials_path} and {self.config_path}"


def profile_name(profile: str | None, environ: Mapping[str, str]) -> tuple[str, bool]:
    """The profile to use and whether it was chosen (``profile=``, ``AWS_PROFILE``) rather
    than the default."""
    if profile:
        return profile, True
    chosen = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE")
    if chosen:
        return chosen, True
    return "default", False


def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or environ.get("USERPROFILE") or os.path.expanduser("~")


def _read(path: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(default_section="__no_defaults__", strict=False)
    try:
        with open(path, encoding="utf-8") as file:
            parser.read_file(file)
    except OSError:
        return configparser.RawConfigParser()
    except (configparser.Error, UnicodeDecodeError) as error:
        kind = type(error).__name__
        raise ConfigurationError(f"{path} is not a valid AWS shared file ({kind})") from None
    return parser


def load_shared_config(environ: Mapping[str, str]) -> SharedConfig:
    """Read both shared files (see the module's rules)."""
    home = _home(environ)
    credentials_path = environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(
        home, ".aws", "credentials"
    )
    config_path = environ.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config")
    credentials_path = os.path.expanduser(credentials_path)
    config_path = os.path.expanduser(config_path)
    profiles: dict[str, dict[str, str]] = {}
    config = _read(config_path)
    for section in config.sections():
        if section == "default":
            name = "default"
        elif section.startswith("profile "):
            name = section[len("profile ") :].strip()
        else:
            continue  # sso-session, services ...: not profiles
        profiles.setdefault(name, {}).update(_values(config, section))
    credentials = _read(credentials_path)
    for section in credentials.sections():
        profiles.setdefault(section.strip(), {}).update(_values(credentials, section))
    return SharedConfig(credentials_path, config_path, profiles)


def _values(parser: configparser.RawConfigParser, section: str) -> dict[str, str]:
    return {key.lower(): value.strip() for key, value in parser.items(section) if value}
