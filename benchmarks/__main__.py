"""``python -m benchmarks``: run every workload for s3lite and its peers, print the tables.

With no argument: quick mode, a local SeaweedFS started on 127.0.0.1 and the null
server, every installed client, 3 repeats, then the storage layer's workload
(``benchmarks.storage``: 1,000 small files on SQLite and PostgreSQL); reports and
the chart go to
``bench-results/`` (not committed: a run never rewrites the committed reports in
``benchmarks/results/`` unless ``--out benchmarks/results`` asks it to).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import CLIENTS, MODES, WORKLOADS
from .runner import Options, command_line, environment_connection_string, run


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _mask_connection_string(argv: list[str]) -> list[str]:
    """The command line as the report shows it: the connection string (secrets) masked."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--connection-string":
            arg = "***"
        elif arg.startswith("--connection-string="):
            arg = "--connection-string=***"
        out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--mode",
        choices=sorted(MODES),
        default="quick",
        help="quick (default; scaled-down sizes), full (the issue's sizes) "
        "or smoke (tiny: checks the harness in seconds)",
    )
    parser.add_argument(
        "--connection-string",
        default=environment_connection_string(),
        help="use this server instead of a local SeaweedFS "
        "(default: $S3LITE_BENCH_CONNECTION_STRING)",
    )
    parser.add_argument(
        "--clients",
        type=_list,
        default=list(CLIENTS),
        help=f"comma-separated, from {','.join(CLIENTS)} "
        "(s3lite variants: s3lite+part_size=16MiB+payload_signing=unsigned)",
    )
    parser.add_argument(
        "--workloads",
        type=_list,
        default=list(WORKLOADS),
        help=f"comma-separated, from {','.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--servers",
        type=_list,
        default=["real", "null"],
        help="real (SeaweedFS or --connection-string) and/or null",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results"),
        help="where reports go (default: ./bench-results; the committed ones are in "
        "benchmarks/results)",
    )
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the py-spy profile of s3lite on the null server",
    )
    parser.add_argument(
        "--no-storage",
        dest="storage",
        action="store_false",
        help="skip the storage layer workload (python -m benchmarks.storage) at the end",
    )
    args = parser.parse_args(argv)
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    unknown += [s for s in args.servers if s not in ("real", "null")]
    if unknown or args.repeats < 1:
        parser.error(f"unknown workloads/servers {unknown}" if unknown else "--repeats >= 1")
    secret_free = _mask_connection_string(argv)
    code = run(
        Options(
            mode=args.mode,
            connection_string=args.connection_string,
            clients=args.clients,
            workloads=args.workloads,
            servers=args.servers,
            repeats=args.repeats,
            out=args.out,
            profile=args.profile,
            command=command_line(secret_free),
        )
    )
    if code != 0 or not args.storage:
        return code
    from . import storage

    files = "50" if args.mode == "smoke" else "1000"
    more = ["--connection-string", args.connection_string] if args.connection_string else []
    return storage.main(
        ["--files", files, "--repeats", str(args.repeats), "--out", str(args.out), *more]
    )


if __name__ == "__main__":
    raise SystemExit(main())
