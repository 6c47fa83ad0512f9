"""The benchmark's statistics: ratios paired by repeat, and verdicts against the targets.

These are the figures the README and the analysis quote, so their arithmetic is tested
like the library's: pure functions over workers' results, no server.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.network_report import Setup
from benchmarks.network_report import verdicts as verdicts_network
from benchmarks.stats import Ratio, aggregate, paired_ratio, verdicts


def run(client: str, repeat: int, objects_per_second: float, **extra: Any) -> dict[str, Any]:
    """A worker's result for 1,000 small uploads at the given rate."""
    seconds = 1000 / objects_per_second
    return {
        "server": extra.pop("server", "null"),
        "workload": extra.pop("workload", "small-upload"),
        "client": client,
        "repeat": repeat,
        "bytes": 1000 * 16384,
        "objects": 1000,
        "seconds": seconds,
        "cpu_user": extra.pop("cpu", 0.2),
        "cpu_sys": 0.0,
        "rss_idle_kib": 30_000,
        "rss_peak_kib": 31_000,
        "error": extra.pop("error", None),
        "na": None,
    }


def s3lite_over_obstore(results: list[dict[str, Any]]) -> Ratio | None:
    """s3lite's small uploads/s over obstore's, paired by repeat."""
    cells = aggregate(results)
    return paired_ratio(
        cells["null", "small-upload", "s3lite"], cells["null", "small-upload", "obstore"], "objps"
    )


def test_ratio_is_paired_by_repeat_not_a_ratio_of_medians() -> None:
    # The machine slowed down by 2x in repeat 1 for everyone; s3lite is 0.9x obstore in
    # every repeat.  A ratio of medians would mix repeats (median 2,000 / 4,000 = 0.5x).
    results = [
        run("s3lite", 0, 3600),
        run("obstore", 0, 4000),
        run("s3lite", 1, 1800),
        run("obstore", 1, 2000),
        run("s3lite", 2, 1980),
        run("obstore", 2, 2200),
    ]
    ratio = s3lite_over_obstore(results)
    assert ratio is not None
    assert ratio.pairs == 3
    assert ratio.median == pytest.approx(0.9)
    assert ratio.low == pytest.approx(0.9)
    assert ratio.high == pytest.approx(0.9)


def test_a_failed_run_leaves_its_repeat_out_of_the_pairs() -> None:
    results = [
        run("s3lite", 0, 1000),
        run("obstore", 0, 2000),
        run("s3lite", 1, 3000),
        run("obstore", 1, 1000, error="timed out"),
        run("s3lite", 2, 1500),
        run("obstore", 2, 1000),
    ]
    ratio = s3lite_over_obstore(results)
    assert ratio is not None
    assert ratio.pairs == 2
    assert ratio.low == pytest.approx(0.5)
    assert ratio.high == pytest.approx(1.5)
    assert ratio.text == "1.00x (0.50-1.50)"


def test_no_common_repeat_gives_no_ratio() -> None:
    cells = aggregate([run("s3lite", 0, 1000), run("obstore", 1, 1000)])
    assert (
        paired_ratio(
            cells["null", "small-upload", "s3lite"],
            cells["null", "small-upload", "obstore"],
            "objps",
        )
        is None
    )


def test_verdicts_judge_the_paired_ratio_and_the_servers_each_target_names() -> None:
    results = []
    for server in ("null", "seaweedfs"):
        for repeat, slowdown in enumerate((1.0, 0.5, 0.8)):
            results.append(run("s3lite", repeat, 5000 * slowdown, server=server, cpu=0.3))
            results.append(run("obstore", repeat, 4000 * slowdown, server=server))
            results.append(run("awscrt", repeat, 6000 * slowdown, server=server))
    cells = aggregate(results)
    on_null = {(v.target, v.workload): v for v in verdicts(cells, "null", ["small-upload"])}
    real = {(v.target, v.workload): v for v in verdicts(cells, "seaweedfs", ["small-upload"])}
    # null server: obstore only; 1.25x in every repeat.
    assert on_null["small objects/s >= obstore", "small-upload"].met is True
    assert ("small objects/s >= awscrt", "small-upload") not in on_null
    # a real server: every peer that ran (awscrt is faster: missed by a sixth).
    assert real["small objects/s >= obstore", "small-upload"].met is True
    missed = real["small objects/s >= awscrt", "small-upload"]
    assert missed.met is False
    assert missed.text.startswith("missed by 17% (0.83x")
    # no verdict for a peer that did not run
    assert not any("miniopy" in target for target, _ in real)
    # absolute limit: 0.3 s of CPU for 1,000 objects is 0.30 ms each
    cpu = on_null["client CPU <= 0.25 ms per small object", "small-upload"]
    assert cpu.met is False
    assert cpu.text == "missed by 20% (0.30 ms vs 0.25 ms)"


def network_run(
    key: str, repeat: int, mbps: float, direction: str, rss_mib: float
) -> dict[str, Any]:
    """A network-profile worker's result: 1 GiB moved at ``mbps``."""
    size = 1 << 30
    return {
        "server": "network",
        "workload": direction,
        "client": key,
        "repeat": repeat,
        "bytes": size,
        "objects": 1,
        "seconds": size / (mbps * 1e6),
        "cpu_user": 1.0,
        "cpu_sys": 0.0,
        "rss_idle_kib": 30_000,
        "rss_peak_kib": 30_000 + int(rss_mib * 1024),
        "error": None,
        "na": None,
        "peak_connections": 8,
    }


def network_setup(bandwidth_mbps: float, delay_ms: float) -> Setup:
    return Setup(1 << 30, 8 << 20, bandwidth_mbps, delay_ms, 3, ("download", "upload"), "cmd")


def test_network_verdicts_without_a_cap_judge_download_file_against_one_stream() -> None:
    results = []
    for repeat, (single, parallel) in enumerate(((2000, 1100), (1000, 1200), (1800, 1700))):
        results += [
            network_run("s3lite one-stream", repeat, single, "download", 1),
            network_run("s3lite x8", repeat, parallel, "download", 70 if repeat else 20),
            network_run("s3lite x8", repeat, parallel, "upload", 20),
            network_run("s3lite one-stream", repeat, single / 10, "upload", 1),
        ]
    lines = verdicts_network(network_setup(0, 0), results)
    # paired ratios 0.55, 1.2, 0.94: median 0.94, so missed; no 6x target without a cap
    assert lines[0].startswith("- download: no cap: download_file x8 not slower than one stream")
    assert "missed" in lines[0] and "0.94x (0.55-1.20)" in lines[0]
    assert not any("6x" in line for line in lines)
    assert not any(line.startswith("- upload") for line in lines)  # a download target only
    # the median peak RSS above idle of the three runs (20, 70, 70 MiB)
    assert lines[-1] == (
        "- download: no cap: download_file x8 peak RSS above idle <= 64 MiB: "
        "missed (70.0 MiB, median)"
    )
    # on a shaped link the parallel-parts targets apply instead, in both directions
    shaped = verdicts_network(network_setup(100, 20), results)
    assert any(line.startswith("- upload: download_file/upload_file x8 >= 6x") for line in shaped)
    assert not any("no cap" in line for line in shaped)
