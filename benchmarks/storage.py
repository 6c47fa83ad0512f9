"""``python -m benchmarks.storage``: the file storage layer on SQLite and on PostgreSQL.

One workload, the one a CRM gives its file storage: upload, read and soft-delete
many small files through ``FileStorage``, ``--concurrency`` at a time.  It runs on
every combination of metadata backend (SQLite, PostgreSQL) and content store
(Database, S3), and reports files per second and this process's CPU per file for
each phase, medians of ``--repeats`` runs, into ``--out`` (``bench-results/`` by
default) as ``storage-report.md`` and ``storage-raw.json``.

Rules of this module:
- Servers are started here on 127.0.0.1 and stopped at the end: SeaweedFS for the
  S3 store (or ``--connection-string``), PostgreSQL from tests/pgserver.py (or
  ``$S3LITE_TEST_DATABASE_URL``).  Without PostgreSQL installed its rows are
  skipped with a note, not failed.
- Every run gets a fresh database and fresh buckets; combinations are
  interleaved, in an order rotated every repeat.
- CPU is this process's (user + system): the client side of the storage layer.
  The database server's and S3 server's CPU are not in it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import anyio

from .config import human_size, parse_size
from .servers import ROOT, seaweedfs_server

__all__ = ["main"]

BACKENDS = ("sqlite", "postgresql")
STORES = ("Database", "S3")
PHASES = ("upload", "read", "delete")


@dataclass
class Result:
    backend: str
    store: str
    files: int
    size: int
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)


async def _phase(
    work: Callable[[int], Awaitable[None]], count: int, concurrency: int
) -> tuple[float, float]:
    """Run ``work(i)`` for every i, ``concurrency`` at a time: (wall s, CPU s)."""
    limiter = anyio.CapacityLimiter(concurrency)

    async def one(i: int) -> None:
        async with limiter:
            await work(i)

    cpu, wall = time.process_time(), time.perf_counter()
    async with anyio.create_task_group() as group:
        for i in range(count):
            group.start_soon(one, i)
    return time.perf_counter() - wall, time.process_time() - cpu


async def _run_once(
    database: str, connection_string: str | None, store: str, files: int, size: int, conc: int
) -> dict[str, tuple[float, float]]:
    from s3lite.storage import FileStorage

    payload = os.urandom(size)
    ids: list[uuid.UUID] = [uuid.uuid4()] * files
    async with FileStorage(database, connection_string) as fs:
        await fs.set_active_storage(store)

        async def upload(i: int) -> None:
            info = await fs.upload("ActivityFile", uuid.uuid4(), f"{i}.bin", payload)
            ids[i] = info.id

        async def read(i: int) -> None:
            if len(await fs.read(ids[i])) != size:
                raise AssertionError("a file read back with the wrong size")

        async def delete(i: int) -> None:
            await fs.delete(ids[i])

        out = {}
        for name, work in (("upload", upload), ("read", read), ("delete", delete)):
            out[name] = await _phase(work, files, conc)
        if store == "S3":
            await _remove_buckets(fs)
    return out


async def _remove_buckets(fs: object) -> None:
    """Empty and remove the run's two buckets (best effort)."""
    from s3lite import S3Error

    store = fs._s3_store()  # type: ignore[attr-defined]
    for bucket in (store.object_bucket, store.recycle_bucket):
        try:
            keys = [entry.key async for entry in store.client.list_objects(bucket)]
            if keys:
                await store.client.delete_objects(bucket, keys)
            await store.client.delete_bucket(bucket)
        except S3Error as error:
            print(f"note: bucket {bucket} left behind: {error}", file=sys.stderr)


@contextlib.contextmanager
def _postgres() -> Iterator[object | None]:
    from tests.pgserver import postgres_server

    try:
        with postgres_server() as server:
            yield server
    except RuntimeError as error:
        print(f"note: skipping PostgreSQL: {str(error).splitlines()[0]}", file=sys.stderr)
        yield None


@contextlib.contextmanager
def _s3(connection_string: str | None, workdir: Path) -> Iterator[Callable[[], str]]:
    """A function giving a connection string with fresh bucket names."""

    def fresh(base: str) -> Callable[[], str]:
        def make() -> str:
            tag = uuid.uuid4().hex[:10]
            return f"{base} ObjectBucketName=bench-obj-{tag}; RecycleBucketName=bench-rec-{tag};"

        return make

    if connection_string:
        kept = "; ".join(
            part.strip()
            for part in connection_string.split(";")
            if part.strip()
            and not part.strip().lower().startswith(("objectbucketname", "recyclebucketname"))
        )
        yield fresh(kept + ";")
        return
    with seaweedfs_server(workdir) as (server, _log):
        yield fresh(
            f"ServiceUrl={server.endpoint}; AccessKey={server.access_key}; "
            f"SecretKey={server.secret_key}; Region={server.region}; AddressingStyle=path;"
        )


def _report(results: list[Result], args: argparse.Namespace, seconds: float) -> str:
    lines = [
        "# Storage layer: SQLite and PostgreSQL",
        "",
        f"`python -m benchmarks.storage --files {args.files} --size {human_size(args.size)} "
        f"--concurrency {args.concurrency} --repeats {args.repeats}`; {seconds:.0f} s in all. "
        "Medians of the repeats; CPU is the client process's (user + system) per file, "
        "not the database's or the S3 server's.",
        "",
        "| metadata | content store | "
        + " | ".join(f"{p} files/s | {p} CPU ms/file" for p in PHASES)
        + " |",
        "|---|---|" + "---:|---:|" * len(PHASES),
    ]
    for r in results:
        cells = []
        for phase in PHASES:
            wall = statistics.median(r.wall[phase])
            cpu = statistics.median(r.cpu[phase])
            cells += [f"{r.files / wall:,.0f}", f"{cpu / r.files * 1000:.2f}"]
        lines.append(f"| {r.backend} | {r.store} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="s3lite-storage-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        pg = stack.enter_context(_postgres()) if "postgresql" in args.backends else None
        needs_s3 = "S3" in args.stores
        fresh_s3 = stack.enter_context(_s3(args.connection_string, workdir)) if needs_s3 else None
        combos = [
            (backend, store)
            for backend in args.backends
            for store in args.stores
            if backend != "postgresql" or pg is not None
        ]
        results = {c: Result(c[0], c[1], args.files, args.size) for c in combos}
        for repeat in range(args.repeats):
            shift = repeat % len(combos)
            for backend, store in combos[shift:] + combos[:shift]:
                with contextlib.ExitStack() as each:
                    if backend == "sqlite":
                        database = str(workdir / f"files-{uuid.uuid4().hex[:8]}.db")
                    else:
                        database = each.enter_context(pg.fresh_database())  # type: ignore[union-attr]
                    text = fresh_s3() if fresh_s3 is not None else None
                    phases = anyio.run(
                        _run_once, database, text, store, args.files, args.size, args.concurrency
                    )
                result = results[(backend, store)]
                for name, (wall, cpu) in phases.items():
                    result.wall.setdefault(name, []).append(wall)
                    result.cpu.setdefault(name, []).append(cpu)
                summary = ", ".join(
                    f"{name} {args.files / wall:,.0f}/s" for name, (wall, _) in phases.items()
                )
                print(
                    f"[{repeat + 1}/{args.repeats}] {backend}/{store}: {summary}", file=sys.stderr
                )
    ordered = [results[c] for c in combos]
    report = _report(ordered, args, time.monotonic() - started)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "storage-report.md").write_text(report)
    (args.out / "storage-raw.json").write_text(json.dumps([asdict(r) for r in ordered], indent=1))
    print(report)
    return 0


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storage", description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=parse_size, default=parse_size("16KiB"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", type=_list, default=list(BACKENDS))
    parser.add_argument("--stores", type=_list, default=list(STORES))
    parser.add_argument(
        "--connection-string",
        default=os.environ.get("S3LITE_BENCH_CONNECTION_STRING"),
        help="an S3 server instead of a local SeaweedFS (bucket names are made here)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    bad = [b for b in args.backends if b not in BACKENDS] + [
        s for s in args.stores if s not in STORES
    ]
    if bad or args.files < 1 or args.repeats < 1 or args.concurrency < 1:
        build_parser().error(f"unknown backends/stores {bad}" if bad else "counts must be >= 1")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
