"""``python -m benchmarks.network``: one stream against parallel parts on a shaped link.

The null server is started with a network profile (by default 100 MB/s per
connection and direction, 20 ms per request), and in one run every client moves
the same object both ways: s3lite's single stream (``get_object`` iterated,
``put_object`` as one PUT), s3lite's ``download_file`` / ``upload_file``, boto3's
s3transfer and awscrt's meta requests, at 1, 4, 8 and 16 connections, all with
the same part size.  The table, the chart and the raw figures go to ``--out``
(``bench-results/`` by default; the committed ``benchmarks/results`` only when
asked for by name).

Rules of this module:
- One shaped null server per run, started here on 127.0.0.1 and stopped at the
  end; the object downloaded is served by its name (``size-N``), uploads are
  discarded.
- Every (row, direction, repeat) runs in a fresh ``benchmarks.worker`` process,
  so its wall time, CPU and RSS are that client's alone; rows are interleaved
  (for each repeat, for each direction, every row once, in an order rotated
  every repeat).
- The connections a run opened are counted by this process (``/proc/net/tcp``,
  sampled), never by the measured one.
- Before the clients, the shaped server's own ceiling at each connection count
  is measured with raw sockets (``ceiling.measure_parallel``): what the link and
  this machine allow, with one request per connection.
- Downloaded files are deleted after every run, the upload's source file and
  the temporary directory at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .ceiling import measure_parallel
from .clients import available
from .config import MODES, MiB, Server, Spec, human_size, parse_size
from .fixtures import write_large_file
from .machine import describe
from .network_report import (
    AWSCRT_CRC32,
    UNSIGNED,
    Row,
    Setup,
    console_table,
    write_chart,
    write_report,
)
from .runner import Progress, run_worker
from .servers import null_server

__all__ = ["main"]

CLIENTS = ("s3lite", UNSIGNED, "boto3", "awscrt", AWSCRT_CRC32)
DIRECTIONS = ("download", "upload")
SIZES = {"quick": 256 * MiB, "full": 1024 * MiB, "smoke": 32 * MiB}
# s3lite's single PUT: a threshold no object here reaches (S3's single-PUT limit).
SINGLE_PUT = "s3lite+multipart_threshold=5GiB"
_SAMPLE_SECONDS = 0.02


def rows(clients: list[str], connections: list[int]) -> list[Row]:
    """s3lite's single stream first, then every parallel client at every connection count."""
    out = [Row("s3lite", 1, single=True)] if "s3lite" in clients else []
    out += [Row(client, n) for client in CLIENTS if client in clients for n in connections]
    return out


def _worker(row: Row, direction: str) -> tuple[str, str]:
    """The worker's client label and workload for one row and direction."""
    if row.single and direction == "download":
        return "s3lite", "download-stream"
    if row.single:
        return SINGLE_PUT, "upload-file"
    return row.client, f"transfer-{direction}"


def _established_to(port: int) -> int:
    """Client sockets connected to ``port`` on this host (IPv4 loopback: /proc/net/tcp)."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return 0
    suffix = f":{port:04X}"
    return sum(1 for line in lines if (f := line.split())[2].endswith(suffix) and f[3] == "01")


@contextmanager
def _peak_connections(port: int) -> Iterator[list[int]]:
    """Sample, while the body runs, how many connections to ``port`` are open; yield [peak]."""
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.wait(_SAMPLE_SECONDS):
            peak[0] = max(peak[0], _established_to(port))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def _file_error(path: Path, size: int) -> str | None:
    """Why the downloaded file is not what was asked for, or None."""
    if not path.is_file():
        return f"no file at {path.name} after the download"
    found = path.stat().st_size
    return None if found == size else f"downloaded file: {found} bytes, expected {size}"


@dataclasses.dataclass
class _Run:
    setup: Setup
    server: Server
    source: Path  # the upload's source file
    downloads: Path  # emptied after every run
    progress: Progress

    def spec(self, row: Row, direction: str, repeat: int) -> Spec:
        client, workload = _worker(row, direction)
        setup = self.setup
        key = f"{self.server.prefix}network/size-{setup.size}"
        if direction == "upload":
            key = self.server.run_key(row.key.replace(" ", "-"), f"r{repeat}")
        extra = {
            "key": key,
            "part_size": str(setup.part_size),
            "connections": str(row.connections),
            "target": str(self.downloads / "object.bin"),
        }
        sizes = dataclasses.replace(MODES["smoke"], large=setup.size)
        return Spec(client, workload, self.server, sizes, str(self.source), setup.size, extra)

    def one(self, row: Row, direction: str, repeat: int) -> dict[str, Any]:
        spec = self.spec(row, direction, repeat)
        rate = self.setup.bandwidth_mbps * 1e6 or 500e6
        port = int(self.server.endpoint.rsplit(":", 1)[1])
        with _peak_connections(port) as peak:
            result = run_worker(spec, timeout=120 + 4 * spec.size / rate)
        checked = direction == "download" and not row.single
        if checked and not result.get("error") and not result.get("na"):
            result["error"] = _file_error(Path(spec.extra["target"]), spec.size)
        shutil.rmtree(self.downloads, ignore_errors=True)
        self.downloads.mkdir()
        result.update(
            worker_client=result.get("client"),
            worker_workload=spec.workload,
            client=row.key,
            workload=direction,
            server="network",
            repeat=repeat,
            connections=row.connections,
            peak_connections=peak[0],
        )
        label = f"r{repeat + 1}/{self.setup.repeats} {direction:8s} {row.key:18s} {peak[0]:2d} conn"
        self.progress.result(label, result)
        return result


def _measure(setup: Setup, table: list[Row], workdir: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    progress = Progress(len(table) * len(setup.directions) * setup.repeats)
    source = workdir / f"source-{human_size(setup.size)}.bin"
    write_large_file(source, setup.size)
    downloads = workdir / "downloads"
    downloads.mkdir()
    with null_server(bandwidth_mbps=setup.bandwidth_mbps, delay_ms=setup.delay_ms) as server:
        progress.say(f"null server at {server.endpoint}: {setup.profile}")
        for connections in sorted({1, *(row.connections for row in table)}):
            ceiling = measure_parallel(server.endpoint, setup.size, connections)
            setup.ceilings[connections] = (ceiling.get_mbps, ceiling.put_mbps)
            progress.say(
                f"shaped null server, {connections} raw socket(s) at once: GET "
                f"{ceiling.get_mbps:,.1f} MB/s, PUT {ceiling.put_mbps:,.1f} MB/s"
            )
        run = _Run(setup, server, source, downloads, progress)
        for repeat in range(setup.repeats):
            shift = repeat % len(table)
            order = table[shift:] + table[:shift]
            for direction in setup.directions:
                for row in order:
                    results.append(run.one(row, direction, repeat))
    return results


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.network",
        description=__doc__.split("\n\nRules of this module:")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--mode",
        choices=sorted(SIZES),
        default="quick",
        help="object size: quick 256 MiB (default), full 1 GiB, smoke 32 MiB",
    )
    parser.add_argument("--size", type=parse_size, help="object size instead (e.g. 512MiB)")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in _list(text)],
        default=[1, 4, 8, 16],
        help="connection counts of the parallel rows (default: 1,4,8,16)",
    )
    parser.add_argument(
        "--bandwidth-mbps",
        type=float,
        default=100.0,
        help="cap per connection and direction, MB/s = 10^6 bytes/s (default 100; 0: no cap)",
    )
    parser.add_argument(
        "--delay-ms", type=float, default=20.0, help="added per request, ms (default 20)"
    )
    parser.add_argument("--part-size", type=parse_size, default=8 * MiB, help="default 8MiB")
    parser.add_argument("--repeats", type=int, default=3, help="medians are reported (default 3)")
    parser.add_argument(
        "--clients",
        type=_list,
        default=list(CLIENTS),
        help=f"comma-separated, from {','.join(CLIENTS)} (default: all installed)",
    )
    parser.add_argument(
        "--directions",
        type=_list,
        default=list(DIRECTIONS),
        help="download and/or upload (default: both)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results"),
        help="where network-report.md, network-chart.png and network-raw.json go "
        "(default: ./bench-results; the committed reports are in benchmarks/results)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [c for c in args.clients if c not in CLIENTS]
    unknown += [d for d in args.directions if d not in DIRECTIONS]
    if unknown:
        parser.error(f"unknown clients/directions: {', '.join(unknown)}")
    if args.repeats < 1 or not args.connections or min(args.connections) < 1:
        parser.error("--repeats and every --connections must be >= 1")
    if args.bandwidth_mbps < 0 or args.delay_ms < 0:
        parser.error("--bandwidth-mbps and --delay-ms must not be negative")
    clients = []
    for client in args.clients:
        reason = available(client.split("+", 1)[0])
        if reason is None:
            clients.append(client)
        else:
            print(f"note: skipping {client}: {reason}", file=sys.stderr)
    setup = Setup(
        size=args.size or SIZES[args.mode],
        part_size=args.part_size,
        bandwidth_mbps=args.bandwidth_mbps,
        delay_ms=args.delay_ms,
        repeats=args.repeats,
        directions=tuple(d for d in DIRECTIONS if d in args.directions),
        command=shlex.join(["python", "-m", "benchmarks.network", *argv]),
    )
    table = rows(clients, args.connections)
    if not table:
        print("no client can run here", file=sys.stderr)
        return 2
    print(
        f"network profile: {setup.profile}; object {human_size(setup.size)}, parts of "
        f"{human_size(setup.part_size)}; connections {args.connections}; "
        f"{setup.repeats} repeats; clients {', '.join(clients)}",
        file=sys.stderr,
    )
    started = time.monotonic()
    setup.machine = describe()
    with tempfile.TemporaryDirectory(prefix="s3lite-bench-network-") as tmp:
        results = _measure(setup, table, Path(tmp))
    setup.seconds = time.monotonic() - started
    print(console_table(setup, table, results))
    args.out.mkdir(parents=True, exist_ok=True)
    raw = args.out / "network-raw.json"
    raw.write_text(json.dumps({"setup": setup.as_dict(), "results": results}, indent=1))
    report = write_report(args.out / "network-report.md", setup, table, results)
    chart = write_chart(args.out / "network-chart.png", setup, table, results)
    for path in (report, chart, raw):
        print(f"wrote {path}" if path else "matplotlib missing: no chart", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
