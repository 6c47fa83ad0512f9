"""Modes, sizes, names and the spec a worker receives.

Rules of this module:
- Quick and full modes run the same workload shapes; only the sizes differ, and
  both sets of sizes are printed at the start of a run and in the report.
- Object keys are derived here, in one place, so the runner (which prepares and
  cleans up) and the workers (which measure) always agree on them.
- A ``Spec`` is plain data: it travels to a worker as one JSON document on stdin
  (so secrets never appear on a command line).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = [
    "CLIENTS",
    "MODES",
    "WORKLOADS",
    "GiB",
    "KiB",
    "MiB",
    "Server",
    "Sizes",
    "Spec",
    "human_size",
    "parse_size",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# The order tables are printed in; s3lite first, then the peers.
CLIENTS = (
    "s3lite",
    "s3lite+backend=trio",
    "aiobotocore",
    "miniopy-async",
    "obstore",
    "s5cmd",
    "awscrt",
    "boto3",
)

# Workload families; "memory" expands into one concrete workload per memory size.
WORKLOADS = (
    "upload-generator",
    "upload-file",
    "download-stream",
    "small-upload",
    "small-download",
    "copy",
    "memory",
)


@dataclass(frozen=True)
class Sizes:
    """How big each workload is in one mode."""

    large: int  # the large object: uploads, download, copy
    small_count: int  # how many small objects
    small_size: int  # bytes per small object
    concurrency: int  # small objects in flight
    memory: tuple[int, int]  # the two sizes of the streamed memory workload
    chunk: int = MiB  # what the upload generator yields at a time

    def describe(self) -> str:
        low, high = self.memory
        return (
            f"large object {human_size(self.large)}; {self.small_count} small objects of "
            f"{human_size(self.small_size)} at concurrency {self.concurrency}; memory at "
            f"{human_size(low)} and {human_size(high)}; generator chunks of "
            f"{human_size(self.chunk)}"
        )


MODES = {
    "quick": Sizes(
        large=256 * MiB,
        small_count=1000,
        small_size=16 * KiB,
        concurrency=32,
        memory=(128 * MiB, 512 * MiB),
    ),
    "smoke": Sizes(
        large=16 * MiB,
        small_count=20,
        small_size=16 * KiB,
        concurrency=32,
        memory=(16 * MiB, 64 * MiB),
    ),
    "full": Sizes(
        large=GiB,
        small_count=5000,
        small_size=16 * KiB,
        concurrency=32,
        memory=(GiB, 4 * GiB),
    ),
}


def human_size(size: int) -> str:
    """``268435456`` -> ``"256MiB"`` (exact binary units only, else bytes)."""
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def parse_size(text: str) -> int:
    """``"16MiB"`` / ``"512KiB"`` / ``"1GiB"`` / ``"1234"`` -> bytes."""
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB), ("B", 1)):
        if text.endswith(unit):
            return int(text[: -len(unit)]) * factor
    return int(text)


@dataclass(frozen=True, repr=False)
class Server:
    """How a worker reaches one S3 server, and where the benchmark's keys live."""

    kind: str  # "seaweedfs", "remote" or "null"
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    bucket: str
    prefix: str = "s3lite-bench/"

    def __repr__(self) -> str:
        return f"Server(kind={self.kind!r}, endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    # --- keys shared by the runner and the workers ----------------------------------

    def large_key(self, size: int) -> str:
        return f"{self.prefix}fixtures/large-{size}"

    def small_keys(self, count: int) -> list[str]:
        return [f"{self.prefix}fixtures/small/{index:05d}" for index in range(count)]

    def run_key(self, client: str, name: str) -> str:
        return f"{self.prefix}runs/{client}/{name}"

    def run_small_keys(self, client: str, count: int) -> list[str]:
        return [self.run_key(client, f"small/{index:05d}") for index in range(count)]


@dataclass(frozen=True)
class Spec:
    """Everything one worker needs: which client, which workload, how big, where."""

    client: str  # a client name, optionally with s3lite options: "s3lite+part_size=16MiB"
    workload: str  # a concrete workload: "upload-file", "memory-512MiB", ...
    server: Server
    sizes: Sizes
    file_path: str  # the pre-written large file (upload-file)
    size: int = 0  # bytes of the large or memory object this workload moves
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return "memory" if self.workload.startswith("memory-") else self.workload

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Spec:
        data: dict[str, Any] = json.loads(text)
        sizes = data.pop("sizes")
        sizes["memory"] = tuple(sizes["memory"])
        return cls(server=Server(**data.pop("server")), sizes=Sizes(**sizes), **data)

    def with_workload(self, workload: str, size: int) -> Spec:
        return replace(self, workload=workload, size=size)


def concrete_workloads(families: tuple[str, ...], sizes: Sizes) -> list[tuple[str, int]]:
    """Expand workload families into ``(workload, size)`` pairs, in table order."""
    out: list[tuple[str, int]] = []
    for family in families:
        if family == "memory":
            out.extend((f"memory-{human_size(size)}", size) for size in sizes.memory)
        elif family in ("small-upload", "small-download"):
            out.append((family, sizes.small_count * sizes.small_size))
        else:
            out.append((family, sizes.large))
    return out
