"""Medians over repeats, ratios against the peers, verdicts against the issue's targets.

Rules of this module:
- Pure functions over the workers' JSON results; no I/O.
- Every metric is computed per run, then the median is taken over the runs
  that succeeded (a failed run is counted and shown, never averaged in).
- The targets are data (``TARGETS``), each checked the same way for every server.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import GiB

__all__ = ["TARGETS", "Cell", "Target", "Verdict", "aggregate", "verdicts"]

LARGE = ("upload-generator", "upload-file", "download-stream")
SMALL = ("small-upload", "small-download")
RSS_LIMIT_MIB = 64.0
RSS_FLAT_MIB = 8.0  # "the same for both sizes": within this many MiB


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
        samples: dict[str, list[float]] = {
            "mbps": [r["bytes"] / r["seconds"] / 1e6 for r in ok],
            "objps": [r["objects"] / r["seconds"] for r in ok],
            "cpu_per_gib": [
                (r["cpu_user"] + r["cpu_sys"]) / (r["bytes"] / GiB) for r in ok if r["bytes"]
            ],
            "seconds": [r["seconds"] for r in ok],
            "rss_peak_mib": [r["rss_peak_kib"] / 1024 for r in ok],
            "rss_above_mib": [(r["rss_peak_kib"] - r["rss_idle_kib"]) / 1024 for r in ok],
            "p50_ms": [r["latency_p50_ms"] for r in ok if "latency_p50_ms" in r],
            "p99_ms": [r["latency_p99_ms"] for r in ok if "latency_p99_ms" in r],
            "cpu_ms_per_object": [
                (r["cpu_user"] + r["cpu_sys"]) * 1e3 / r["objects"] for r in ok if r["objects"]
            ],
        }
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
        )
    return cells


@dataclass(frozen=True)
class Target:
    """``s3lite``'s ``metric`` on ``workloads`` against ``reference`` (or an absolute limit)."""

    name: str
    workloads: tuple[str, ...]
    metric: str
    reference: str | None  # a client, or None for an absolute limit
    factor: float  # required ratio (at least), or limit (at most)
    at_most: bool = False


TARGETS = (
    Target("large throughput >= 1.5x aiobotocore", LARGE, "mbps", "aiobotocore", 1.5),
    Target("large throughput >= obstore", LARGE, "mbps", "obstore", 1.0),
    Target("small objects/s >= 2x aiobotocore", SMALL, "objps", "aiobotocore", 2.0),
    Target("CPU s/GiB <= 0.5x aiobotocore", LARGE, "cpu_per_gib", "aiobotocore", 0.5, True),
    Target(
        f"peak RSS above idle <= {RSS_LIMIT_MIB:.0f} MiB",
        ("memory",),
        "rss_above_mib",
        None,
        RSS_LIMIT_MIB,
        True,
    ),
)


@dataclass(frozen=True)
class Verdict:
    server: str
    target: str
    workload: str
    value: float | None
    reference: float | None
    ratio: float | None  # value / reference (or value itself for absolute limits)
    required: float
    at_most: bool
    met: bool | None  # None: not measurable (a client missing or failed)

    @property
    def text(self) -> str:
        if self.met is None or self.ratio is None:
            return "not measured"
        unit = "x" if self.reference is not None else " MiB"
        shown = f"{self.ratio:.2f}{unit}"
        bound = f"{self.required:g}{unit}"
        if self.met:
            return f"met ({shown} {'<=' if self.at_most else '>='} {bound})"
        if self.at_most:
            missed = (self.ratio / self.required - 1) * 100
        else:
            missed = (1 - self.ratio / self.required) * 100
        return f"missed by {missed:.0f}% ({shown} vs {bound})"


def _metric(
    cells: dict[tuple[str, str, str], Cell], key: tuple[str, str, str], metric: str
) -> float | None:
    cell = cells.get(key)
    value = getattr(cell, metric) if cell is not None else None
    return float(value) if value is not None else None


def verdicts(
    cells: dict[tuple[str, str, str], Cell],
    server: str,
    workloads: Sequence[str],
    subject: str = "s3lite",
) -> list[Verdict]:
    out: list[Verdict] = []
    for target in TARGETS:
        for workload in workloads:
            family = "memory" if workload.startswith("memory-") else workload
            if family not in target.workloads:
                continue
            value = _metric(cells, (server, workload, subject), target.metric)
            reference = None
            if target.reference is not None:
                reference = _metric(cells, (server, workload, target.reference), target.metric)
                ratio = value / reference if value is not None and reference else None
            else:
                ratio = value
            met = None
            if ratio is not None:
                met = ratio <= target.factor if target.at_most else ratio >= target.factor
            out.append(
                Verdict(
                    server,
                    target.name,
                    workload,
                    value,
                    reference,
                    ratio,
                    target.factor,
                    target.at_most,
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
                spread,
                RSS_FLAT_MIB,
                True,
                spread <= RSS_FLAT_MIB,
            )
        )
    return out
