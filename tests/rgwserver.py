"""Start a real Ceph RADOS Gateway (S3, SigV4 on) on 127.0.0.1 for the test suite.

Usage::

    with run_rgw(tmp_path) as server:
        server.endpoint            # "http://127.0.0.1:PORT"
        server.connection_string()

Ceph 16.2 (Debian's ``radosgw ceph-mon ceph-osd``) has no standalone backend, so this
runs a tiny cluster in ``workdir``: one monitor, one OSD keeping its data in memory
(``memstore``) and radosgw's beast frontend, cluster auth ``none``.  The S3 user is made
with ``radosgw-admin``.  Every daemon runs in its own process group and is stopped
(terminate, then kill) when the context exits; a failed start raises with the tail of
the logs.  ``scripts/install-rgw`` installs the packages where they are missing.

Rules of this module:
- Test tooling only: nothing in ``s3lite`` imports it.
- Ports are picked free on 127.0.0.1; nothing outside ``workdir`` is written.
"""

from __future__ import annotations

import contextlib
import ctypes
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.s3server import LocalS3Server, _log_tail, _probe, _stop

__all__ = ["RGW_BINARIES", "find_rgw", "run_rgw"]

RGW_BINARIES = ("radosgw", "radosgw-admin", "ceph", "ceph-mon", "ceph-osd", "monmaptool")
_STEP_TIMEOUT = 120.0
_PR_SET_PDEATHSIG = 1

_CONFIG = """\
[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# radosgw asks the monitor for "secure" mode by default, which auth "none" cannot give
ms mon client mode = crc secure
run dir = {d}/run
admin socket = {d}/run/$name.asok
log file = {d}/log/$name.log
mon data = {d}/$name
osd data = {d}/$name
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon data avail warn = 1
[client.rgw]
rgw data = {d}/rgw
rgw frontends = beast endpoint=127.0.0.1:{s3_port}
rgw gc obj min wait = 30
rgw gc processor period = 30
"""


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies (Linux), so a
    killed test run leaves no daemon behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def find_rgw() -> None:
    """Raise ``RuntimeError`` naming what is missing unless every Ceph binary is on PATH."""
    missing = [name for name in RGW_BINARIES if shutil.which(name) is None]
    if missing:
        raise RuntimeError(
            f"Ceph RGW binaries not found: {', '.join(missing)} "
            "(install them with: bash scripts/install-rgw)"
        )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _logs(log_dir: Path) -> str:
    parts = []
    for path in sorted(log_dir.glob("*")):
        parts.append(f"--- {path.name} ---\n{_log_tail(path, 25)}")
    return "\n".join(parts)


@contextlib.contextmanager
def run_rgw(
    workdir: Path,
    *,
    access_key: str = "s3lite-rgw-access",
    secret_key: str | None = None,
    memstore_bytes: int = 8 * 1024**3,
    startup_timeout: float = 120.0,
) -> Iterator[LocalS3Server]:
    """Run a one-monitor, one-OSD Ceph cluster and radosgw on 127.0.0.1; yield how to
    reach its S3 endpoint.  ``secret_key`` defaults to a fresh random value."""
    find_rgw()
    if secret_key is None:
        secret_key = secrets.token_urlsafe(30)
    d = Path(workdir).resolve()
    for sub in ("run", "log", "rgw"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    log_dir = d / "log"
    setup_log = log_dir / "setup.log"
    mon_port, s3_port = _free_ports(2)
    fsid = str(uuid.uuid4())
    config = d / "ceph.conf"
    config.write_text(
        _CONFIG.format(
            fsid=fsid, mon_port=mon_port, s3_port=s3_port, d=d, memstore_bytes=memstore_bytes
        ),
        encoding="utf-8",
    )
    conf = ["-c", str(config)]
    daemons: list[subprocess.Popen[bytes]] = []

    def step(*command: str) -> str:
        with setup_log.open("ab") as log:
            log.write(f"\n$ {' '.join(command)}\n".encode())
            log.flush()
            done = subprocess.run(
                command,
                cwd=d,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                timeout=_STEP_TIMEOUT,
                check=False,
            )
            log.write(done.stdout)
        if done.returncode != 0:
            raise RuntimeError(
                f"RGW setup step failed ({' '.join(command[:2])}, exit {done.returncode}); "
                f"logs in {log_dir}:\n{_logs(log_dir)}"
            )
        return done.stdout.decode().strip()

    def daemon(name: str, *command: str) -> subprocess.Popen[bytes]:
        with (log_dir / f"{name}.out").open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=d,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, stopped as a whole
                preexec_fn=_die_with_parent,
            )
        daemons.append(process)
        return process

    try:
        step("monmaptool", "--create", "--addv", "a", f"[v2:127.0.0.1:{mon_port}]",
             "--fsid", fsid, str(d / "monmap"))  # fmt: skip
        step("ceph-mon", *conf, "--mkfs", "-i", "a", "--monmap", str(d / "monmap"))
        daemon("mon", "ceph-mon", *conf, "-i", "a", "-f")
        osd_uuid = str(uuid.uuid4())
        osd_id = step("ceph", *conf, "--connect-timeout", "60", "osd", "new", osd_uuid)
        (d / f"osd.{osd_id}").mkdir(exist_ok=True)
        step("ceph-osd", *conf, "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
        daemon("osd", "ceph-osd", *conf, "-i", osd_id, "-f")
        step("radosgw-admin", *conf, "-n", "client.rgw", "user", "create", "--uid=s3lite",
             "--display-name=s3lite", f"--access-key={access_key}",
             f"--secret-key={secret_key}")  # fmt: skip
        rgw = daemon("rgw", "radosgw", *conf, "-n", "client.rgw", "-f")
        endpoint = f"http://127.0.0.1:{s3_port}"
        deadline = time.monotonic() + startup_timeout
        while _probe(endpoint + "/") != 200:
            if rgw.poll() is not None:
                raise RuntimeError(
                    f"radosgw exited early with code {rgw.returncode}; logs in {log_dir}:\n"
                    f"{_logs(log_dir)}"
                )
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"radosgw did not answer at {endpoint} within {startup_timeout:.0f} s; "
                    f"logs in {log_dir}:\n{_logs(log_dir)}"
                )
            time.sleep(0.25)
        yield LocalS3Server(
            endpoint=endpoint,
            access_key=access_key,
            secret_key=secret_key,
            region="us-east-1",
            log_path=log_dir / "client.rgw.log",
        )
    finally:
        for process in reversed(daemons):
            _stop(process)
