"""Medians over repeats, ratios paired by repeat, verdicts against the issue's targets.

Rules of this module:
- Pure functions over the workers' JSON results; no I/O.
- Every metric is computed per run (``run_metrics``), then the median is taken over
  the runs that succeeded (a failed run is counted and shown, never averaged in).
- A ratio against a peer is paired: within one repeat every client runs the same
  workload back to back, so each repeat gives one ratio (the client's run over the
  peer's), and the ratio shown is the median of those, with their range.  On a
  shared machine whose speed drifts by 2x from one minute to the next, a ratio of
  medians taken minutes apart measures the drift; a paired one cancels most of it.
- The targets are data (``TARGETS``: issue 10's), each checked the same way on
  every server it names; relative ones are judged on the paired ratio.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .config import GiB

__all__ = [
    "TARGETS",
    "Cell",
    "Ratio",
    "Target",
    "Verdict",
    "aggregate",
    "paired_ratio",
    "run_metrics",
    "verdicts",
]

LARGE = ("upload-generator", "upload-file", "download-stream")
UPLOADS = ("upload-generator", "upload-file")
SMALL = ("small-upload", "small-download")
PEERS = ("obstore", "awscrt", "miniopy-async", "aiobotocore", "boto3", "s5cmd")
RSS_LIMIT_MIB = 64.0
RSS_FLAT_MIB = 8.0  # "the same for both sizes": within this many MiB
METRICS = (
    "mbps",
    "objps",
    "cpu_per_gib",
    "seconds",
    "rss_peak_mib",
    "rss_above_mib",
    "p50_ms",
    "p99_ms",
    "cpu_ms_per_object",
)


@dataclass(frozen=True)
class Cell:
    """One (server, workload, client): medians over its successful runs."""

    server: str
    workload: str
    client: str
    runs: int = 0
    errors: tuple[str, ...] = ()
    na: str | None = None
    mbps: float | None = None
    objps: float | None = None
    cpu_per_gib: float | None = None
    seconds: float | None = None
    rss_peak_mib: float | None = None
    rss_above_mib: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_ms_per_object: float | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)
    by_repeat: dict[int, dict[str, float]] = field(default_factory=dict)
    """Each successful run's metrics, by its repeat (for paired ratios)."""


@dataclass(frozen=True)
class Ratio:
    """A client's metric over a peer's, one ratio per repeat both completed."""

    median: float
    low: float
    high: float
    pairs: int

    @property
    def text(self) -> str:
        if self.pairs < 2:
            return f"{self.median:.2f}x"
        return f"{self.median:.2f}x ({self.low:.2f}-{self.high:.2f})"


def run_metrics(run: dict[str, Any]) -> dict[str, float]:
    """The metrics of one successful run (those it has)."""
    cpu = run["cpu_user"] + run["cpu_sys"]
    out = {
        "mbps": run["bytes"] / run["seconds"] / 1e6,
        "objps": run["objects"] / run["seconds"],
        "seconds": run["seconds"],
        "rss_peak_mib": run["rss_peak_kib"] / 1024,
        "rss_above_mib": (run["rss_peak_kib"] - run["rss_idle_kib"]) / 1024,
    }
    if run["bytes"]:
        out["cpu_per_gib"] = cpu / (run["bytes"] / GiB)
    if run["objects"]:
        out["cpu_ms_per_object"] = cpu * 1e3 / run["objects"]
    for name in ("p50_ms", "p99_ms"):
        if f"latency_{name}" in run:
            out[name] = run[f"latency_{name}"]
    return out


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def aggregate(results: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], Cell]:
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for result in results:
        key = (result["server"], result["workload"], result["client"])
        grouped.setdefault(key, []).append(result)
    cells = {}
    for key, runs in grouped.items():
        ok = [r for r in runs if not r.get("error") and not r.get("na") and r.get("seconds")]
        errors = tuple(r["error"] for r in runs if r.get("error"))
        na = next((r["na"] for r in runs if r.get("na")), None)
        measured = [run_metrics(r) for r in ok]
        samples = {m: [values[m] for values in measured if m in values] for m in METRICS}
        by_repeat: dict[int, dict[str, float]] = {}
        for run, values in zip(ok, measured, strict=True):
            if "repeat" in run:
                if int(run["repeat"]) in by_repeat:
                    raise ValueError(f"two runs of {key} in repeat {run['repeat']}")
                by_repeat[int(run["repeat"])] = values
        cells[key] = Cell(
            *key,
            runs=len(ok),
            errors=errors,
            na=na,
            mbps=_median(samples["mbps"]),
            objps=_median(samples["objps"]),
            cpu_per_gib=_median(samples["cpu_per_gib"]),
            seconds=_median(samples["seconds"]),
            rss_peak_mib=_median(samples["rss_peak_mib"]),
            rss_above_mib=_median(samples["rss_above_mib"]),
            p50_ms=_median(samples["p50_ms"]),
            p99_ms=_median(samples["p99_ms"]),
            cpu_ms_per_object=_median(samples["cpu_ms_per_object"]),
            samples=samples,
            by_repeat=by_repeat,
        )
    return cells


def paired_ratio(cell: Cell | None, reference: Cell | None, metric: str) -> Ratio | None:
    """``cell``'s metric over ``reference``'s, repeat by repeat (None without a pair)."""
    if cell is None or reference is None:
        return None
    ratios = []
    for repeat in sorted(cell.by_repeat.keys() & reference.by_repeat.keys()):
        mine = cell.by_repeat[repeat].get(metric)
        theirs = reference.by_repeat[repeat].get(metric)
        if mine is not None and theirs:
            ratios.append(mine / theirs)
    if not ratios:
        return None
    return Ratio(statistics.median(ratios), min(ratios), max(ratios), len(ratios))


ServerKind = Literal["null", "real", "any"]


@dataclass(frozen=True)
class Target:
    """``s3lite``'s ``metric`` on ``workloads`` against ``reference`` (or an absolute limit)."""

    name: str
    workloads: tuple[str, ...]
    metric: str
    reference: str | None  # a client, or None for an absolute limit
    factor: float  # required ratio (at least), or limit (at most)
    at_most: bool = False
    servers: ServerKind = "any"  # the null server, a real one (SeaweedFS, remote), or both
    unit: str = "x"

    def applies_to(self, server: str) -> bool:
        if self.servers == "any":
            return True
        return (server == "null") == (self.servers == "null")


TARGETS = (
    # Issue 10: small objects (16 KiB at 32 in flight).
    Target("small objects/s >= obstore", SMALL, "objps", "obstore", 1.0, servers="null"),
    *(
        Target(f"small objects/s >= {peer}", SMALL, "objps", peer, 1.0, servers="real")
        for peer in PEERS
    ),
    Target(
        "client CPU <= 0.25 ms per small object",
        SMALL,
        "cpu_ms_per_object",
        None,
        0.25,
        at_most=True,
        unit=" ms",
    ),
    # Issue 10: a streamed download of the large object.
    Target(
        "streamed download >= miniopy-async",
        ("download-stream",),
        "mbps",
        "miniopy-async",
        1.0,
        servers="null",
    ),
    Target(
        "streamed download >= 1.5x obstore",
        ("download-stream",),
        "mbps",
        "obstore",
        1.5,
        servers="null",
    ),
    Target(
        "download CPU <= 0.5 s/GiB",
        ("download-stream",),
        "cpu_per_gib",
        None,
        0.5,
        at_most=True,
        unit=" s/GiB",
    ),
    # Issue 10: large uploads (s3lite's defaults: signed aws-chunked over http).
    Target("large uploads >= obstore", UPLOADS, "mbps", "obstore", 1.0, servers="real"),
    Target("large uploads >= 0.8x obstore", UPLOADS, "mbps", "obstore", 0.8, servers="null"),
    Target(
        "upload CPU <= 1.2 s/GiB", UPLOADS, "cpu_per_gib", None, 1.2, at_most=True, unit=" s/GiB"
    ),
    Target(
        f"peak RSS above idle <= {RSS_LIMIT_MIB:.0f} MiB",
        ("memory",),
        "rss_above_mib",
        None,
        RSS_LIMIT_MIB,
        at_most=True,
        unit=" MiB",
    ),
)


@dataclass(frozen=True)
class Verdict:
    server: str
    target: str
    workload: str
    value: float | None
    ratio: Ratio | None  # against the reference, paired by repeat (None: absolute limit)
    required: float
    at_most: bool
    unit: str
    met: bool | None  # None: not measurable (every run of a client failed)

    @property
    def judged(self) -> float | None:
        """What is held against ``required``: the paired ratio's median, or the value."""
        return self.ratio.median if self.ratio is not None else self.value

    @property
    def text(self) -> str:
        judged = self.judged
        if self.met is None or judged is None:
            return "not measured"
        shown = self.ratio.text if self.ratio is not None else f"{judged:.2f}{self.unit}"
        bound = f"{self.required:g}{self.unit}"
        if self.met:
            return f"met ({shown} {'<=' if self.at_most else '>='} {bound})"
        if self.at_most:
            missed = (judged / self.required - 1) * 100
        else:
            missed = (1 - judged / self.required) * 100
        return f"missed by {missed:.0f}% ({shown} vs {bound})"


def verdicts(
    cells: dict[tuple[str, str, str], Cell],
    server: str,
    workloads: Sequence[str],
    subject: str = "s3lite",
) -> list[Verdict]:
    """Every target that applies to ``server`` and whose reference client ran."""
    ran = {client for (srv, _, client) in cells if srv == server}
    out: list[Verdict] = []
    for target in TARGETS:
        if not target.applies_to(server):
            continue
        if target.reference is not None and target.reference not in ran:
            continue
        for workload in workloads:
            family = "memory" if workload.startswith("memory-") else workload
            if family not in target.workloads:
                continue
            cell = cells.get((server, workload, subject))
            value = getattr(cell, target.metric) if cell is not None else None
            ratio = None
            if target.reference is not None:
                reference = cells.get((server, workload, target.reference))
                ratio = paired_ratio(cell, reference, target.metric)
                judged = ratio.median if ratio is not None else None
            else:
                judged = value
            met = None
            if judged is not None:
                met = judged <= target.factor if target.at_most else judged >= target.factor
            out.append(
                Verdict(
                    server,
                    target.name,
                    workload,
                    value,
                    ratio,
                    target.factor,
                    target.at_most,
                    target.unit,
                    met,
                )
            )
    memory = [v for v in out if v.workload.startswith("memory-") and v.value is not None]
    if len(memory) >= 2:
        values = [v.value for v in memory if v.value is not None]
        spread = max(values) - min(values)
        out.append(
            Verdict(
                server,
                f"peak RSS flat across sizes (spread <= {RSS_FLAT_MIB:g} MiB)",
                " vs ".join(v.workload for v in memory),
                spread,
                None,
                RSS_FLAT_MIB,
                True,
                " MiB",
                spread <= RSS_FLAT_MIB,
            )
        )
    return out
