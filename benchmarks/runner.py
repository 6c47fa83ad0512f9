"""The run: servers up, fixtures in, every (repeat, workload, client) in a fresh worker.

Rules of this module:
- Clients are interleaved: for each repeat, for each workload, every client
  runs once, in an order rotated every repeat, so drift on a shared machine
  falls on all of them alike.
- Progress goes to stderr, one line per run; the final tables go to stdout.
- Every worker is a subprocess with a timeout; a failed or hung run is recorded
  as an error and the run goes on.
- Temporary files (the large file, SeaweedFS's data) are removed at the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .ceiling import Ceiling, measure
from .chart import write_chart
from .clients import available, load, parse_name
from .config import MODES, Server, Sizes, Spec, concrete_workloads, human_size
from .fixtures import cleanup, prepare, write_large_file
from .machine import describe
from .profile import Profile, profile_worker
from .report import RunInfo, console_report, markdown_report
from .servers import ROOT, null_server, remote_server, seaweedfs_server, vacuum
from .stats import aggregate, verdicts

__all__ = ["Options", "run"]

_WRITES = ("upload-generator", "upload-file", "small-upload", "copy", "memory")


@dataclass(frozen=True)
class Options:
    mode: str
    connection_string: str | None
    clients: list[str]
    workloads: list[str]
    servers: list[str]  # "real" and/or "null"
    repeats: int
    out: Path
    profile: bool
    command: str


class Progress:
    """One line per event on stderr, with the elapsed time."""

    def __init__(self, total: int) -> None:
        self.started = time.monotonic()
        self.total = total
        self.done = 0

    def say(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed // 60:3.0f}m{elapsed % 60:04.1f}s] {text}", file=sys.stderr, flush=True)

    def result(self, label: str, result: dict[str, Any]) -> None:
        self.done += 1
        if result.get("na"):
            outcome = f"n/a: {result['na']}"
        elif result.get("error"):
            outcome = f"ERROR: {result['error'][:160]}"
        else:
            mbps = result["bytes"] / result["seconds"] / 1e6
            cpu = result["cpu_user"] + result["cpu_sys"]
            above = (result["rss_peak_kib"] - result["rss_idle_kib"]) / 1024
            outcome = (
                f"{mbps:8.1f} MB/s {result['objects'] / result['seconds']:8.0f} obj/s  "
                f"cpu {cpu:5.2f} s  rss +{above:.0f} MiB"
            )
        self.say(f"{self.done:3d}/{self.total} {label:58s} {outcome}")


def run_worker(spec: Spec, timeout: float) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.worker",
        "--client",
        spec.client,
        "--workload",
        spec.workload,
    ]
    failed: dict[str, Any] = {
        "client": spec.client,
        "workload": spec.workload,
        "server": spec.server.kind,
        "na": None,
    }
    try:
        done = subprocess.run(
            command,
            input=spec.to_json(),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {**failed, "error": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return {**failed, "error": f"no result: {tail[0][:300]}"}
    result["client"] = spec.client
    return result


@contextlib.contextmanager
def _real_server(options: Options, workdir: Path) -> Iterator[tuple[Server, Path | None]]:
    if options.connection_string:
        with remote_server(options.connection_string) as server:
            yield server, None
    else:
        with seaweedfs_server(workdir / "seaweedfs") as (server, log_path):
            yield server, log_path


def _describe_server(server: Server) -> str:
    if server.kind == "seaweedfs":
        return f"local SeaweedFS (`weed mini`) at {server.endpoint}, started by the run"
    if server.kind == "null":
        return (
            f"null server (benchmarks/nullserver.py) at {server.endpoint}: uploads "
            "discarded, downloads served from memory, no auth"
        )
    return f"the server given by connection string: {server.endpoint}, bucket {server.bucket}"


class Run:
    def __init__(
        self, options: Options, sizes: Sizes, clients: list[str], workdir: Path, large_file: Path
    ) -> None:
        self.options = options
        self.sizes = sizes
        self.clients = clients
        self.workdir = workdir
        self.large_file = large_file
        self.workloads = concrete_workloads(tuple(options.workloads), sizes)
        total = len(self.workloads) * len(clients) * options.repeats * len(options.servers)
        self.progress = Progress(total)
        self.results: list[dict[str, Any]] = []
        self.ceilings: dict[str, Ceiling] = {}
        self.profiles: list[Profile | str] = []
        self.descriptions: dict[str, str] = {}

    def spec(self, server: Server, client: str, workload: str, size: int) -> Spec:
        return Spec(
            client=client,
            workload=workload,
            server=server,
            sizes=self.sizes,
            file_path=str(self.large_file),
            size=size,
        )

    def server_phase(self, server: Server, log_path: Path | None) -> None:
        self.descriptions[server.kind] = _describe_server(server)
        say = self.progress.say
        say(f"{server.kind}: preparing fixtures at {server.endpoint}")
        try:
            cleanup(server, server.prefix)
            prepare(server, self.sizes, self.large_file)
        except Exception as exc:  # reported in the tables; the other server still runs
            error = f"preparing the fixtures failed: {type(exc).__name__}: {exc}"[:300]
            say(f"{server.kind}: {error}")
            for repeat in range(self.options.repeats):
                for workload, _ in self.workloads:
                    for client in self.clients:
                        failed = {"client": client, "workload": workload, "na": None}
                        failed.update(server=server.kind, error=error, repeat=repeat)
                        self.results.append(failed)
            return
        if server.kind == "null":
            self.ceilings["null"] = ceiling = measure(server.endpoint, self.sizes.large)
            say(
                f"null server ceiling: PUT {ceiling.put_mbps:,.0f} MB/s, "
                f"GET {ceiling.get_mbps:,.0f} MB/s (raw socket, one connection)"
            )
        try:
            for repeat in range(self.options.repeats):
                order = (
                    self.clients[repeat % len(self.clients) :]
                    + self.clients[: repeat % len(self.clients)]
                )
                for workload, size in self.workloads:
                    for client in order:
                        spec = self.spec(server, client, workload, size)
                        timeout = 180 + 4 * size / 5e6
                        result = run_worker(spec, timeout)
                        result["repeat"] = repeat
                        self.results.append(result)
                        label = (
                            f"{server.kind} r{repeat + 1}/{self.options.repeats} "
                            f"{workload} {client}"
                        )
                        self.progress.result(label, result)
                    if log_path is not None and workload.startswith(_WRITES):
                        cleanup(server, f"{server.prefix}runs/")
                        vacuum(log_path)
            if server.kind == "null" and self.options.profile and "s3lite" in self.clients:
                for workload in ("upload-generator", "download-stream"):
                    say(f"profiling s3lite {workload} on the null server (py-spy)")
                    self.profiles.append(
                        profile_worker(
                            self.spec(server, "s3lite", workload, self.sizes.large), ROOT
                        )
                    )
        finally:
            removed = cleanup(server, server.prefix)
            say(f"{server.kind}: removed {removed} objects under {server.prefix}")

    def execute(self) -> None:
        for kind in self.options.servers:
            if kind == "null":
                with null_server() as server:
                    self.server_phase(server, None)
            else:
                with _real_server(self.options, self.workdir) as (server, log_path):
                    self.server_phase(server, log_path)


def _choose_clients(requested: list[str]) -> tuple[list[str], dict[str, str]]:
    clients, skipped = [], {}
    for label in requested:
        name = parse_name(label)
        reason = available(name.base)
        if reason is None:
            clients.append(label)
        else:
            skipped[label] = reason
    return clients, skipped


def run(options: Options) -> int:
    sizes = MODES[options.mode]
    clients, skipped = _choose_clients(options.clients)
    for label, reason in skipped.items():
        print(f"note: skipping {label}: {reason}", file=sys.stderr)
    if not clients:
        print("no client can run here", file=sys.stderr)
        return 2
    print(
        f"{options.mode} mode: {sizes.describe()}; {options.repeats} repeats; clients: "
        f"{', '.join(clients)}; servers: {', '.join(options.servers)}",
        file=sys.stderr,
    )
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="s3lite-bench-") as tmp:
        workdir = Path(tmp)
        large_file = workdir / f"large-{human_size(sizes.large)}.bin"
        write_large_file(large_file, sizes.large)
        bench = Run(options, sizes, clients, workdir, large_file)
        bench.execute()
    from .clients.s5cmd_client import binary

    info = RunInfo(
        mode=options.mode,
        sizes=sizes,
        command=options.command,
        repeats=options.repeats,
        clients=clients,
        skipped=skipped,
        servers=bench.descriptions,
        settings={c: load(parse_name(c).base).settings + _variant(c) for c in clients},
        started=started.strftime("%Y-%m-%d %H:%M UTC"),
        seconds=time.monotonic() - clock,
        ceilings=bench.ceilings,
        profiles=bench.profiles,
        machine=describe(
            {
                "s5cmd binary": [str(binary()), "version"],
                "weed binary": [str(Path(sys.prefix) / "bin" / "weed"), "version"],
            }
        ),
    )
    cells = aggregate(bench.results)
    names = [w for w, _ in bench.workloads]
    judged = {server: verdicts(cells, server, names) for server in bench.descriptions}
    print(console_report(info, cells, judged, names))
    for server in bench.descriptions:
        path = options.out / f"report-{options.mode}-{server}.md"
        only = {server: judged[server]}
        single = RunInfo(**{**info.__dict__, "servers": {server: bench.descriptions[server]}})
        path.write_text(markdown_report(single, cells, only, names))
        print(f"wrote {path}", file=sys.stderr)
        raw = options.out / f"raw-{options.mode}-{server}.json"
        raw.write_text(
            json.dumps([r for r in bench.results if r.get("server") == server], indent=1)
        )
    chart = write_chart(
        options.out / f"chart-{options.mode}.png",
        cells,
        list(bench.descriptions),
        names,
        clients,
        f"s3lite benchmark ({options.mode} mode, medians of {options.repeats})",
    )
    print(f"wrote {chart}" if chart else "matplotlib missing: no chart", file=sys.stderr)
    print(f"total {(time.monotonic() - clock) / 60:.1f} min", file=sys.stderr)
    return 0


def _variant(label: str) -> str:
    options = parse_name(label).options
    return f"; variant options {options}" if options else ""


def command_line(argv: list[str]) -> str:
    return shlex.join(["python", "-m", "benchmarks", *argv])


def environment_connection_string() -> str | None:
    return os.environ.get("S3LITE_BENCH_CONNECTION_STRING") or None
