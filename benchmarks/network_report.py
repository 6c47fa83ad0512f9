"""The network profile's rows, table, targets, markdown report and chart.

Rules of this module:
- Medians come from ``stats.aggregate`` (the main benchmark's), keyed
  ``("network", direction, row key)``; nothing here measures or runs anything.
- One table builder, used for stdout and for the report, so both show the same
  numbers.  Ratios are throughput ratios against s3lite's single stream in the
  same direction and the same run (above 1 is better), paired by repeat
  (``stats.paired_ratio``); CPU is per GiB moved.
- The targets are issue 13's, as data, checked at 8 connections: on a shaped link
  ``TARGETS`` (parallel parts against one stream and against the peers), without a
  cap ``UNCAPPED_TARGETS`` (``download_file`` not slower than one stream) and the
  memory bound (``stats.RSS_LIMIT_MIB`` above idle, as for streamed uploads).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import human_size
from .stats import RSS_LIMIT_MIB, Cell, aggregate, paired_ratio

__all__ = [
    "AWSCRT_CRC32",
    "TARGETS",
    "UNCAPPED_TARGETS",
    "UNSIGNED",
    "Row",
    "Setup",
    "ceiling_table",
    "console_table",
    "write_chart",
    "write_report",
]

UNSIGNED = "s3lite+payload_signing=unsigned"
"""s3lite with the payload unsigned, as awscrt sends it and as s3lite does over https."""
AWSCRT_CRC32 = "awscrt+checksum=crc32"
"""awscrt with a CRC32 trailer on uploads: the same work as s3lite's unsigned row."""

METHODS = {
    "s3lite single": "`get_object` iterated / `put_object` as one PUT (one stream)",
    "s3lite": "`download_file` / `upload_file`",
    UNSIGNED: '`download_file` / `upload_file`, `payload_signing="unsigned"`',
    "boto3": "s3transfer `download_file` / `upload_file` (classic, threads)",
    "awscrt": "`S3Client` GET_OBJECT / PUT_OBJECT meta requests",
    AWSCRT_CRC32: "the same, uploads with a CRC32 trailer (`S3ChecksumConfig`)",
}
HOW = {
    "s3lite single": "`async with s3.get_object(bucket, key) as stream: async for chunk in "
    "stream` (bytes counted and discarded: the main benchmark's download-stream); upload: "
    "`put_object(bucket, key, path)` with `multipart_threshold=5GiB`, so one PUT on one "
    "connection",
    "s3lite": "`await s3.download_file(bucket, key, path, part_size=P, max_concurrency=N)` and "
    "`upload_file(...)` with the same keywords; other options at their defaults (over http "
    "that signs every upload chunk: SHA-256, and a CRC32 trailer)",
    UNSIGNED: 'the same with `payload_signing="unsigned"`: `UNSIGNED-PAYLOAD` with a CRC32 '
    "trailer, which is s3lite's default over https; awscrt's requests here carry "
    "`x-amz-content-sha256: UNSIGNED-PAYLOAD` and no checksum (seen in its request head)",
    "boto3": "`client.download_file` / `upload_file` with `TransferConfig(multipart_chunksize=P, "
    "multipart_threshold=P, max_concurrency=N, use_threads=True, "
    "preferred_transfer_client='classic')`; `max_pool_connections=32`",
    "awscrt": "`make_request(GET_OBJECT, recv_filepath=...)` / `(PUT_OBJECT, send_filepath=...)` "
    "with `part_size=P` (PUT: `multipart_upload_threshold=P`) and "
    "`max_active_connections_override=N` on the meta request (client: throughput target 10 Gbps)",
    AWSCRT_CRC32: "the same with `checksum_config=S3ChecksumConfig(algorithm=CRC32, "
    "location=TRAILER)` on PUT_OBJECT: unsigned aws-chunked parts with a CRC32 trailer, the "
    "work s3lite's unsigned row does (downloads are the same requests as awscrt's)",
}


@dataclass(frozen=True)
class Row:
    """One line of the table: a client's transfer method at a connection count."""

    client: str  # the adapter (s3lite, boto3, awscrt), or an s3lite variant
    connections: int
    single: bool = False  # s3lite's single stream (the reference)

    @property
    def kind(self) -> str:
        return "s3lite single" if self.single else self.client

    @property
    def key(self) -> str:
        return "s3lite one-stream" if self.single else f"{self.client} x{self.connections}"


@dataclass
class Setup:
    """What one run was asked to do, and what it learnt on the way (for the report)."""

    size: int
    part_size: int
    bandwidth_mbps: float  # 0: no cap
    delay_ms: float
    repeats: int
    directions: tuple[str, ...]
    command: str
    machine: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    # connections -> raw-socket (GET, PUT) MB/s on the shaped server, one request per connection
    ceilings: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def capped(self) -> bool:
        """The link is shaped (a cap or a delay): the parallel-parts targets apply."""
        return bool(self.bandwidth_mbps or self.delay_ms)

    @property
    def profile(self) -> str:
        cap = f"{self.bandwidth_mbps:g} MB/s" if self.bandwidth_mbps else "no cap"
        return f"{cap} per connection and direction, {self.delay_ms:g} ms per request"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    name: str
    subject: str  # row keys
    reference: str
    factor: float
    direction: str | None = None  # None: both


TARGETS = (
    Target("download_file/upload_file x8 >= 6x single stream", "s3lite x8", "s3lite one-stream", 6),
    Target("x8 >= awscrt x8", "s3lite x8", "awscrt x8", 1.0),
    Target("x8 >= s3transfer x8", "s3lite x8", "boto3 x8", 1.0),
    Target("unsigned x8 >= 6x single stream", f"{UNSIGNED} x8", "s3lite one-stream", 6),
    Target("unsigned x8 >= awscrt x8", f"{UNSIGNED} x8", "awscrt x8", 1.0),
    # Not one of the issue's: the same work on both sides (a CRC32 trailer, unsigned).
    Target(
        "like for like: unsigned x8 >= awscrt with a CRC32 trailer x8",
        f"{UNSIGNED} x8",
        f"{AWSCRT_CRC32} x8",
        1.0,
    ),
)
UNCAPPED_TARGETS = (
    Target(
        "no cap: download_file x8 not slower than one stream",
        "s3lite x8",
        "s3lite one-stream",
        1.0,
        "download",
    ),
)


def _cells(results: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], Cell]:
    return aggregate(r for r in results if r.get("server") == "network")


def _peak(results: Sequence[dict[str, Any]], direction: str, key: str) -> int | None:
    peaks = [
        r["peak_connections"]
        for r in results
        if r.get("workload") == direction and r.get("client") == key and not r.get("error")
        if not r.get("na") and r.get("bytes")
    ]
    return round(statistics.median(peaks)) if peaks else None


def _mbps(cell: Cell | None) -> str:
    if cell is None:
        return ""
    if cell.mbps is not None:
        failed = f" ({len(cell.errors)} failed)" if cell.errors else ""
        return f"{cell.mbps:,.1f}{failed}"
    if cell.na:
        return f"n/a: {cell.na}"
    return f"failed: {cell.errors[0][:90]}" if cell.errors else ""


def table(setup: Setup, rows: Sequence[Row], results: Sequence[dict[str, Any]]) -> str:
    """The markdown table: one line per row, download and upload side by side."""
    cells = _cells(results)
    header = ["client", "method", "connections"]
    for direction in setup.directions:
        header += [f"{direction} MB/s", "x single stream", f"{direction} CPU s/GiB"]
    header += ["peak RSS above idle MiB", "peak connections open", "runs"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        line = [row.client, METHODS[row.kind], str(row.connections)]
        peaks, runs, rss = [], [], []
        for direction in setup.directions:
            cell = cells.get(("network", direction, row.key))
            single = cells.get(("network", direction, "s3lite one-stream"))
            paired = paired_ratio(cell, single, "mbps")
            ratio = f"{paired.median:.2f}x" if paired is not None else ""
            cpu = f"{cell.cpu_per_gib:.2f}" if cell and cell.cpu_per_gib is not None else ""
            line += [_mbps(cell), ratio, cpu]
            peak = _peak(results, direction, row.key)
            peaks.append("-" if peak is None else str(peak))
            runs.append(str(cell.runs) if cell else "0")
            above = cell.rss_above_mib if cell else None
            rss.append("-" if above is None else f"{above:.0f}")
        line += [" / ".join(rss), " / ".join(peaks), " / ".join(runs)]
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines)


def verdicts(setup: Setup, results: Sequence[dict[str, Any]]) -> list[str]:
    """Issue 13's targets for this run's profile, one line per (target, direction)."""
    cells = _cells(results)
    out = []
    targets = TARGETS if setup.capped else UNCAPPED_TARGETS
    for direction in setup.directions:
        for target in targets:
            if target.direction not in (None, direction):
                continue
            subject = cells.get(("network", direction, target.subject))
            reference = cells.get(("network", direction, target.reference))
            ratio = paired_ratio(subject, reference, "mbps")
            if ratio is None or subject is None or reference is None:
                out.append(f"- {direction}: {target.name}: not measured")
                continue
            verdict = "met" if ratio.median >= target.factor else "missed"
            out.append(
                f"- {direction}: {target.name}: {verdict} ({subject.mbps or 0:,.0f} vs "
                f"{reference.mbps or 0:,.0f} MB/s (medians); paired by repeat "
                f"{ratio.text}, required {target.factor:g}x)"
            )
    if not setup.capped and "download" in setup.directions:
        cell = cells.get(("network", "download", "s3lite x8"))
        above = cell.rss_above_mib if cell else None
        name = f"no cap: download_file x8 peak RSS above idle <= {RSS_LIMIT_MIB:g} MiB"
        if above is None:
            out.append(f"- download: {name}: not measured")
        else:
            verdict = "met" if above <= RSS_LIMIT_MIB else "missed"
            out.append(f"- download: {name}: {verdict} ({above:.1f} MiB, median)")
    return out


def ceiling_table(setup: Setup) -> str:
    """The shaped server's raw-socket ceiling at each connection count."""
    lines = ["| raw sockets at once | GET MB/s | PUT MB/s |", "| --- | --- | --- |"]
    for connections, (get, put) in sorted(setup.ceilings.items()):
        lines.append(f"| {connections} | {get:,.1f} | {put:,.1f} |")
    return "\n".join(lines)


def console_table(setup: Setup, rows: Sequence[Row], results: Sequence[dict[str, Any]]) -> str:
    title = (
        f"network profile: {setup.profile}; {human_size(setup.size)} object, "
        f"{human_size(setup.part_size)} parts; medians of {setup.repeats}"
    )
    return "\n".join(
        [
            title,
            "",
            table(setup, rows, results),
            "",
            *verdicts(setup, results),
            "",
            "shaped server's own ceiling (one request per raw connection):",
            "",
            ceiling_table(setup),
        ]
    )


def write_report(
    path: Path, setup: Setup, rows: Sequence[Row], results: Sequence[dict[str, Any]]
) -> Path:
    kinds = list(dict.fromkeys(row.kind for row in rows))
    ceiling = ""
    if setup.bandwidth_mbps:
        part_mb = setup.part_size / 1e6
        bound = part_mb / (part_mb / setup.bandwidth_mbps + setup.delay_ms / 1e3)
        ceiling += (
            f"A connection that sends one request per part (no pipelining) moves at most "
            f"part / (part / cap + delay) = {bound:,.1f} MB/s here, so N connections at most "
            f"N x {bound:,.1f} MB/s (the dash-dotted line of the chart); a single stream pays "
            "the delay once.\n\n"
        )
    lines = [
        "# Network profile: one stream against parallel parts",
        "",
        f"`{setup.command}`, {setup.seconds / 60:.1f} min.",
        "",
        f"The null server (`benchmarks/nullserver.py`) on 127.0.0.1 with {setup.profile}: "
        "each connection is paced to the cap in each direction (64 KiB slices, a token "
        "bucket), and each answer leaves one delay after its request was received (an "
        "interim `100 Continue` one delay after the request head). Connection set-up is "
        "not delayed. "
        f"Object: {human_size(setup.size)}, parts of {human_size(setup.part_size)}; "
        f"every figure is the median of {setup.repeats} runs, each in a fresh process, rows "
        "interleaved. MB/s = 10^6 bytes per second of wall time; CPU = user + system "
        "seconds of the client's process per GiB moved; parallel downloads land in a file "
        "(deleted after each run; the single stream only counts its bytes), uploads read "
        "one (written before the run). Peak RSS is the client process's, above its idle "
        'RSS before the transfer. "peak connections open" counts the client\'s sockets to '
        "the server (sampled every 20 ms from "
        "outside the client), download / upload.",
        "",
        ceiling + table(setup, rows, results),
        "",
        "## The shaped server's own ceiling",
        "",
        "Raw sockets (`benchmarks/ceiling.py`, no HTTP library), N at once, each one GET "
        f"then one PUT of {human_size(setup.size)} / N, measured before the clients: what "
        "the profile and this machine (server and client on the same cores) allow with one "
        "request per connection.",
        "",
        ceiling_table(setup),
        "",
        f"## Issue 13's targets (at 8 connections, {'shaped link' if setup.capped else 'no cap'})",
        "",
        *verdicts(setup, results),
        "",
        "## How each row is run",
        "",
        *(f"- **{kind}**: {HOW[kind]}." for kind in kinds),
        "",
        "Every client keeps its own defaults for signing and checksums over plain http.",
        "",
        "![throughput against connections](network-chart.png)",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in setup.machine.items()),
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def write_chart(
    path: Path, setup: Setup, rows: Sequence[Row], results: Sequence[dict[str, Any]]
) -> Path | None:
    """Throughput against connections, a panel per direction; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    cells = _cells(results)
    counts = sorted({row.connections for row in rows if not row.single})
    figure, axes = plt.subplots(
        1, len(setup.directions), figsize=(6.2 * len(setup.directions), 4.6), squeeze=False
    )
    for ax, direction in zip(axes[0], setup.directions, strict=True):
        for kind in dict.fromkeys(row.kind for row in rows if not row.single):
            points = [
                (row.connections, cell.mbps)
                for row in rows
                if row.kind == kind
                and (cell := cells.get(("network", direction, row.key))) is not None
                and cell.mbps is not None
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=f"{kind}: {METHODS[kind].replace('`', '')}")
        raw = sorted(
            (n, pair[0 if direction == "download" else 1]) for n, pair in setup.ceilings.items()
        )
        if raw:
            xs, ys = zip(*raw, strict=True)
            ax.plot(xs, ys, color="gray", marker=".", linewidth=0.8, label="raw sockets (ceiling)")
        single = cells.get(("network", direction, "s3lite one-stream"))
        if single is not None and single.mbps is not None:
            ax.axhline(single.mbps, color="gray", linestyle="--", label="s3lite single stream")
        if setup.bandwidth_mbps and counts:
            ax.plot(
                counts,
                [n * setup.bandwidth_mbps for n in counts],
                color="black",
                linestyle=":",
                linewidth=0.8,
                label="N x cap",
            )
            per_part = setup.part_size / 1e6 / setup.bandwidth_mbps + setup.delay_ms / 1e3
            if setup.delay_ms:
                ax.plot(
                    counts,
                    [n * setup.part_size / 1e6 / per_part for n in counts],
                    color="black",
                    linestyle="-.",
                    linewidth=0.8,
                    label="N x part / (part / cap + delay)",
                )
        ax.set_ylim(bottom=0)
        ax.set_xticks(counts)
        ax.set_xlabel("connections")
        ax.set_ylabel("MB/s")
        ax.set_title(f"{direction}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    figure.suptitle(
        f"network profile: {setup.profile}; {human_size(setup.size)}, "
        f"{human_size(setup.part_size)} parts (medians of {setup.repeats})",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
