"""The servers a run measures against: local SeaweedFS, a given server, the null server.

Rules of this module:
- Each server is a context manager that yields a ``Server`` and always stops
  what it started (SeaweedFS through ``tests.s3server``, the null server by
  terminating the process it spawned, by its own pid).
- A server given by connection string is used as is: nothing is started, and
  only keys under the benchmark's prefix are ever written or deleted.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .config import Server

__all__ = ["BUCKET", "null_server", "remote_server", "seaweedfs_server", "vacuum"]

BUCKET = "s3lite-bench"
ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def seaweedfs_server(workdir: Path) -> Iterator[tuple[Server, Path]]:
    """Start ``weed mini`` on 127.0.0.1 (as the test suite does); yield it and its log."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.s3server import run_seaweedfs

    with run_seaweedfs(workdir) as local:
        yield (
            Server(
                "seaweedfs",
                local.endpoint,
                local.access_key,
                local.secret_key,
                local.region,
                BUCKET,
            ),
            local.log_path,
        )


@contextlib.contextmanager
def remote_server(connection_string: str) -> Iterator[Server]:
    """A server from ``ServiceUrl=...; AccessKey=...; SecretKey=...; ObjectBucketName=...``."""
    from s3lite import parse_connection_string

    settings = parse_connection_string(connection_string)
    yield Server(
        "remote",
        settings.service_url,
        settings.access_key,
        settings.secret_key,
        settings.region,
        settings.object_bucket,
    )


@contextlib.contextmanager
def null_server(
    *, bandwidth_mbps: float | None = None, delay_ms: float | None = None
) -> Iterator[Server]:
    """Run ``benchmarks.nullserver`` in its own process on a free port.

    ``bandwidth_mbps`` (MB/s per connection and direction) and ``delay_ms`` (per
    request) give it a network profile; by default it has none.
    """
    shaping = []
    if bandwidth_mbps:
        shaping += ["--bandwidth-mbps", str(bandwidth_mbps)]
    if delay_ms:
        shaping += ["--delay-ms", str(delay_ms)]
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.nullserver", "--port", "0", *shaping],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the null server did not start: {line!r}")
        endpoint = f"http://127.0.0.1:{int(line.split()[1])}"
        yield Server("null", endpoint, "null-access-key", "null-secret-key", "us-east-1", BUCKET)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def vacuum(log_path: Path) -> bool:
    """Ask SeaweedFS's master to compact volumes, so deleted objects free their disk space.

    ``tests.s3server`` does not expose the master port; it is read from the command
    line the server logged.  Best effort: returns False if it could not be done.
    """
    try:
        found = re.findall(r"-master\.port=(\d+)", log_path.read_text(errors="replace"))
    except OSError:
        return False
    if not found:
        return False
    url = f"http://127.0.0.1:{found[-1]}/vol/vacuum?garbageThreshold=0.01"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=300) as response:
            return bool(response.status == 200)
    except OSError:
        return False
