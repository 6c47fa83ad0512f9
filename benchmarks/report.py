"""The tables (console and markdown) and the markdown report.

Rules of this module:
- One table builder; two renderers (fixed-width text for the console, markdown
  for the report), so both always show the same numbers.
- Ratios are throughput ratios (the client's MB/s over the reference's), so a
  ratio above 1 is always better; CPU and RSS are shown as measured.
- Every ratio is paired by repeat (``stats.paired_ratio``): the median of the
  per-repeat ratios, with their range where there are two or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .ceiling import Ceiling
from .config import Sizes
from .profile import Profile
from .stats import PEERS, Cell, Verdict, paired_ratio

__all__ = ["RunInfo", "console_report", "markdown_report", "table"]

HEADER = (
    "workload",
    "client",
    "MB/s",
    "obj/s",
    "CPU s/GiB",
    "peak RSS MiB",
    "above idle MiB",
    "vs obstore",
    "vs awscrt",
    "runs",
)
REFERENCES = ("obstore", "awscrt")
WORKLOAD_NOTES = (
    (
        "upload-generator",
        "the large object from an async generator of 1 MiB chunks (one "
        "pre-generated buffer yielded again and again); the client is not told the length",
    ),
    ("upload-file", "the large object from a file written before the run (page cache warm)"),
    ("download-stream", "the large object streamed and discarded, bytes counted"),
    ("small-upload / small-download", "many 16 KiB objects, a fixed number in flight"),
    (
        "copy",
        "server-side copy of the large object (no body through the client; on the "
        "null server it measures request latency only)",
    ),
    (
        "memory-SIZE",
        "a streamed generator upload then a streamed download of SIZE bytes; "
        "here every chunk is a fresh object, as from a real producer, so a client that keeps "
        "references instead of copying holds real memory",
    ),
)


@dataclass
class RunInfo:
    mode: str
    sizes: Sizes
    command: str
    repeats: int
    clients: list[str]
    skipped: dict[str, str]
    servers: dict[str, str]  # kind -> description
    settings: dict[str, str]  # client -> how it is configured
    started: str = ""
    seconds: float = 0.0
    ceilings: dict[str, Ceiling] = field(default_factory=dict)
    profiles: list[Profile | str] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def table(
    cells: dict[tuple[str, str, str], Cell],
    server: str,
    workloads: Sequence[str],
    clients: Sequence[str],
) -> list[list[str]]:
    rows = []
    for workload in workloads:
        references = {r: cells.get((server, workload, r)) for r in REFERENCES}
        for client in clients:
            cell = cells.get((server, workload, client))
            if cell is None:
                continue
            if cell.na:
                rows.append([workload, client, "n/a", "", "", "", "", "", "", cell.na])
                continue
            if not cell.runs:
                error = cell.errors[0] if cell.errors else "no result"
                rows.append([workload, client, "error", "", "", "", "", "", "", error[:80]])
                continue
            ratios = []
            for reference in REFERENCES:
                ratio = paired_ratio(cell, references[reference], "mbps")
                ratios.append(f"{ratio.median:.2f}x" if ratio is not None else "-")
            runs = f"{cell.runs}" + (f" ({len(cell.errors)} failed)" if cell.errors else "")
            rows.append(
                [
                    workload,
                    client,
                    _num(cell.mbps),
                    _num(cell.objps, 0),
                    _num(cell.cpu_per_gib, 2),
                    _num(cell.rss_peak_mib),
                    _num(cell.rss_above_mib),
                    *ratios,
                    runs,
                ]
            )
    return rows


def subjects(clients: Sequence[str]) -> list[str]:
    """s3lite and its variants, in run order."""
    return [c for c in clients if c == "s3lite" or c.startswith("s3lite+")]


def ratio_table(
    cells: dict[tuple[str, str, str], Cell],
    server: str,
    workloads: Sequence[str],
    clients: Sequence[str],
) -> tuple[list[str], list[list[str]]]:
    """s3lite (and its variants) against every peer that ran: throughput (objects/s for
    small objects) paired by repeat, median (min-max)."""
    peers = [p for p in PEERS if p in clients]
    header = ["workload", "client", *(f"vs {p}" for p in peers)]
    rows = []
    for workload in workloads:
        metric = "objps" if workload.startswith("small-") else "mbps"
        for client in subjects(clients):
            cell = cells.get((server, workload, client))
            if cell is None or not cell.runs:
                continue
            texts = []
            for peer in peers:
                ratio = paired_ratio(cell, cells.get((server, workload, peer)), metric)
                texts.append(ratio.text if ratio is not None else "-")
            rows.append([workload, client, *texts])
    return header, rows


LATENCY_HEADER = ("workload", "client", "obj/s", "p50 ms", "p99 ms", "CPU ms/object", "runs")


def latency_table(
    cells: dict[tuple[str, str, str], Cell], server: str, clients: Sequence[str]
) -> list[list[str]]:
    """Small requests: objects/s, per-request latency (medians over runs of each run's
    p50 and p99) and the client's CPU per object."""
    rows = []
    for workload in ("small-upload", "small-download"):
        for client in clients:
            cell = cells.get((server, workload, client))
            if cell is None or not cell.runs:
                continue
            rows.append(
                [
                    workload,
                    client,
                    _num(cell.objps, 0),
                    _num(cell.p50_ms, 2),
                    _num(cell.p99_ms, 2),
                    _num(cell.cpu_ms_per_object, 3),
                    str(cell.runs),
                ]
            )
    return rows


def render_text(rows: list[list[str]], header: Sequence[str] = HEADER) -> str:
    widths = [max(len(str(r[i])) for r in [list(header), *rows]) for i in range(len(header))]
    numeric = set(range(2, len(header) - 1))

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in numeric else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def render_markdown(rows: list[list[str]], header: Sequence[str] = HEADER) -> str:
    align = ["---" if i < 2 or i == len(header) - 1 else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict_rows(verdicts: Sequence[Verdict]) -> list[list[str]]:
    return [[v.target, v.workload, v.text] for v in verdicts]


def console_report(
    info: RunInfo,
    cells: dict[tuple[str, str, str], Cell],
    verdicts: dict[str, list[Verdict]],
    workloads: Sequence[str],
) -> str:
    parts = [
        f"s3lite benchmark, {info.mode} mode: {info.sizes.describe()}; "
        f"medians of {info.repeats} runs"
    ]
    for server, description in info.servers.items():
        parts.append(f"\n== {server}: {description}")
        parts.append(render_text(table(cells, server, workloads, info.clients)))
        header, ratios = ratio_table(cells, server, workloads, info.clients)
        if ratios and len(header) > 2:
            parts.append("\ns3lite against each peer (paired by repeat: median (min-max)):")
            parts.append(render_text(ratios, header))
        latency = latency_table(cells, server, info.clients)
        if latency:
            parts.append("\nsmall requests:")
            parts.append(render_text(latency, LATENCY_HEADER))
        parts.append("\ntargets (s3lite):")
        parts.append(
            render_text(_verdict_rows(verdicts.get(server, [])), ("target", "workload", "verdict"))
        )
    return "\n".join(parts)


def _profile_section(profiles: Sequence[Profile | str]) -> list[str]:
    lines = ["## Where s3lite's time goes (py-spy, null server)", ""]
    if not profiles:
        return [*lines, "Not profiled in this run (`--no-profile`, or py-spy missing).", ""]
    for profile in profiles:
        if isinstance(profile, str):
            lines += [f"- {profile}", ""]
            continue
        lines += [
            f"### {profile.workload} ({profile.samples} samples)",
            "",
            "| self | frame |",
            "| ---: | --- |",
        ]
        lines += [f"| {share:.0%} | `{frame}` |" for frame, share in profile.self_top]
        lines += ["", "| total | frame |", "| ---: | --- |"]
        lines += [f"| {share:.0%} | `{frame}` |" for frame, share in profile.total_top]
        lines.append("")
    return lines


def _closing_note(verdicts: dict[str, list[Verdict]]) -> list[str]:
    lines = ["## Closing note", ""]
    for server, items in verdicts.items():
        met = sum(1 for v in items if v.met)
        lines.append(f"**{server}**: {met} of {len(items)} target checks met.")
        lines.append("")
        lines += [f"- {v.target}, {v.workload}: {v.text}" for v in items]
        lines.append("")
    return lines


def markdown_report(
    info: RunInfo,
    cells: dict[tuple[str, str, str], Cell],
    verdicts: dict[str, list[Verdict]],
    workloads: Sequence[str],
) -> str:
    out = [
        f"# s3lite benchmark: {info.mode} mode",
        "",
        f"Command: `{info.command}`  ",
        f"Started {info.started}, took {info.seconds / 60:.1f} min; medians of "
        f"{info.repeats} runs, clients interleaved (order rotated every repeat), every run "
        "in a fresh process.",
        "",
        f"Sizes: {info.sizes.describe()}.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {name} | {value} |" for name, value in info.machine.items()],
        "",
        "## Clients",
        "",
        *[f"- **{client}**: {info.settings.get(client, '')}" for client in info.clients],
        *[f"- **{client}**: skipped, {reason}" for client, reason in info.skipped.items()],
        "",
        "## Workloads",
        "",
        *[f"- **{name}**: {text}" for name, text in WORKLOAD_NOTES],
        "",
        "Columns: MB/s = 10^6 bytes per second; CPU s/GiB = user + system CPU seconds of the "
        "client process (and its children, for s5cmd) per GiB moved; peak RSS = the client "
        "process's high-water mark during the workload (reset just before it); above idle = "
        "peak minus the RSS measured after start-up, before the workload. Ratios are "
        "throughput ratios against the reference client, paired by repeat: the median of "
        "the ratios of runs made back to back in the same repeat.",
        "",
    ]
    for server, description in info.servers.items():
        out += [f"## {server}", "", description, ""]
        ceiling = info.ceilings.get(server)
        if ceiling is not None:
            out += [
                f"Null server ceiling (raw socket client, one connection, "
                f"{ceiling.size >> 20} MiB): PUT {ceiling.put_mbps:,.0f} MB/s, "
                f"GET {ceiling.get_mbps:,.0f} MB/s.",
                "",
            ]
        out += [render_markdown(table(cells, server, workloads, info.clients)), ""]
        header, ratios = ratio_table(cells, server, workloads, info.clients)
        if ratios and len(header) > 2:
            out += [
                "### s3lite against each peer, paired by repeat",
                "",
                "Throughput ratio (objects/s for small objects) of each repeat's run over the "
                "peer's run in the same repeat (the clients run back to back), then the median "
                "of those ratios and, in brackets, the lowest and highest.",
                "",
                render_markdown(ratios, header),
                "",
            ]
        latency = latency_table(cells, server, info.clients)
        if latency:
            out += [
                "### Small requests: latency and CPU per object",
                "",
                "p50 / p99 = medians over the runs of each run's per-request percentiles "
                "(wall time of one request, from when it got its slot); n/a for clients that "
                "batch (s5cmd).",
                "",
                render_markdown(latency, LATENCY_HEADER),
                "",
            ]
        out += [
            "### Targets (s3lite)",
            "",
            render_markdown(
                _verdict_rows(verdicts.get(server, [])), ("target", "workload", "verdict")
            ),
            "",
        ]
    out += _profile_section(info.profiles)
    out += _closing_note(verdicts)
    return "\n".join(out)
