"""The ``s3lite`` command line: the file storage layer from a shell.

Rules of this module:
- argparse parses; each subcommand is one async function run by ``anyio.run``.
- Results go to stdout, progress and diagnostics to stderr.  Exit status: 0 done,
  1 failed (an s3lite or OS error, or a migration with failed files), 2 usage.
- Errors are printed from their messages, which never contain secrets; the
  connection string itself is never printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO

import anyio
import anyio.to_thread

from s3lite._body import Body
from s3lite._connstring import (
    CHECKSUM_CHOICES,
    ConnectionSettings,
    parse_connection_string,
    read_connection_config,
)
from s3lite._exceptions import ConfigurationError, S3Error
from s3lite._options import ClientOptions
from s3lite.storage import (
    DATABASE,
    FEATURES,
    S3,
    FileInfo,
    FileStorage,
    InvalidStorageRequest,
    MigrationReport,
)

__all__ = ["ENV_CONNECTION_STRING", "build_parser", "main", "progress_line"]

ENV_CONNECTION_STRING = "S3LITE_CONNECTION_STRING"
ENV_DATABASE = "S3LITE_DATABASE"
_DEFAULT_DATABASE = "files.db"
_PROGRESS_EVERY = 0.5  # seconds between progress updates
_MiB = 1024 * 1024

_DESCRIPTION = """\
Files attached to CRM records, stored in an embedded SQLite database or in S3.

With no configuration everything lives in the SQLite database (--database).
Several hosts share one catalogue through PostgreSQL instead: --database (or
$S3LITE_DATABASE) postgresql://user@host/db, with the s3lite[postgres] extra.
Given an S3 connection string (--connection-string or $S3LITE_CONNECTION_STRING)
or a ConnectionStrings.config (--config), S3 can hold files too; the setting
"active-storage" chooses where new files go, and every file stays readable in
the store that holds it.  Deleting a file moves it into the recycle bin
(S3: the RecycleBucketName bucket); "restore" brings it back.
"""

_EPILOG = f"""\
connection string:
  ServiceUrl=http://127.0.0.1:8333; AccessKey=...; SecretKey=...;
  ObjectBucketName=files; RecycleBucketName=files-recycle;
  (also read from ${ENV_CONNECTION_STRING}; a ConnectionStrings.config holds it as
  <add name="s3Connection" connectionString="..."/>)

examples:
  s3lite put ActivityFile 0b6c4c5e-39ba-4f5e-9df3-0d4b5b0c1a2e report.pdf
  s3lite ls --schema ActivityFile
  s3lite active-storage S3
  s3lite migrate Database S3 --exclude-schemas ContactFile --limit 1000
  s3lite lifecycle --days 90

exit status: 0 done, 1 failed (or a migration left failed files), 2 bad usage.
"""


# --- output -----------------------------------------------------------------------


@dataclass
class _Console:
    """Where output goes (looked up at run time, so redirection and capture work)."""

    progress: bool
    quiet: bool
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def out(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stderr, flush=True)


def _size(count: int) -> str:
    """A byte count for people: ``512 B``, ``1.5 MiB``."""
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


_BAR_WIDTH = 24


def progress_line(label: str, done: int, total: int | None, elapsed: float, *, bar: bool) -> str:
    """One progress report: ``label: 1.5 MiB of 3.0 MiB (50%), 12.0 MiB/s``, led by a
    ``[#####-----]`` bar when ``bar`` (on a terminal) and the total is known."""
    text = f"{label}: {_size(done)}"
    if total:
        share = min(done / total, 1.0)
        text += f" of {_size(total)} ({int(100 * share)}%)"
        if bar:
            filled = int(_BAR_WIDTH * share)
            text = f"[{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {text}"
    if elapsed > 0 and done:
        text += f", {_size(int(done / elapsed))}/s"
    return text


class _Progress:
    """Throttled progress of a transfer of ``total`` bytes on stderr: a bar redrawn in
    place on a terminal, plain lines otherwise.  Called as s3lite's progress callbacks
    are, ``(bytes_done, total_bytes)`` (the storage layer passes ``bytes_done`` only)."""

    def __init__(self, console: _Console, label: str, total: int | None) -> None:
        self._console = console
        self._label = label
        self._total = total
        self._start = time.monotonic()
        self._last = self._start
        self._done = 0
        self._shown = False
        self._tty = console.stderr.isatty()

    def _show(self, final: bool) -> None:
        end = "\n" if final or not self._tty else ""
        start = "\r" if self._tty else ""
        elapsed = time.monotonic() - self._start
        line = progress_line(self._label, self._done, self._total, elapsed, bar=self._tty)
        print(f"{start}{line}", end=end, file=self._console.stderr, flush=True)
        self._shown = True

    def __call__(self, done: int, total: int | None = None) -> None:
        self._done = done
        if total is not None:
            self._total = total
        now = time.monotonic()
        if self._console.progress and now - self._last >= _PROGRESS_EVERY:
            self._last = now
            self._show(final=False)

    def finish(self) -> None:
        if self._console.progress and (self._shown or not self._tty):
            elapsed = time.monotonic() - self._start
            self._label = f"{self._label} done in {elapsed:.1f} s"
            self._show(final=True)


def _info_record(info: FileInfo) -> dict[str, Any]:
    return {
        "id": str(info.id),
        "schema": info.schema,
        "record_id": str(info.record_id),
        "name": info.name,
        "size": info.size,
        "version": info.version,
        "storage": info.storage,
        "state": info.state,
        "sha256": info.sha256,
        "created_at": info.created_at.isoformat(),
        "modified_at": info.modified_at.isoformat(),
        "deleted_at": info.deleted_at.isoformat() if info.deleted_at else None,
    }


# --- commands -----------------------------------------------------------------------

Command = Callable[[FileStorage, argparse.Namespace, _Console], Awaitable[int]]


async def _put(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    if args.path == "-":
        if not args.name:
            raise InvalidStorageRequest("reading from stdin ('-') needs --name")
        content: Body = sys.stdin.buffer
        total = None
    else:
        path = Path(args.path)
        stat = await anyio.Path(path).stat()
        content, total = path, stat.st_size
    name = args.name or Path(args.path).name
    progress = _Progress(console, f"put {name}", total)
    info = await fs.upload(args.schema, args.record_id, name, content, progress=progress)
    progress.finish()
    console.out(str(info.id))
    return 0


async def _get(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    info = await fs.info(args.file_id)
    progress = _Progress(console, f"get {info.name}", info.size)
    if args.dest == "-":
        out = console.stdout.buffer
        async with fs.open(info.id, progress=progress) as reader:
            async for chunk in reader:
                await anyio.to_thread.run_sync(out.write, chunk)
        await anyio.to_thread.run_sync(out.flush)
        progress.finish()
        return 0
    destination = Path(args.dest) if args.dest else Path.cwd()
    written = await fs.download(info.id, destination, overwrite=args.force, progress=progress)
    progress.finish()
    console.out(str(written))
    return 0


async def _rm(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    info = await fs.delete(args.file_id)
    console.out(f"deleted {info.id} {info.name} (in the recycle bin of {info.storage})")
    return 0


async def _restore(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    info = await fs.restore(args.file_id)
    console.out(f"restored {info.id} {info.name} ({info.storage})")
    return 0


async def _ls(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    deleted: bool | None = None if args.all else args.deleted
    files = [info async for info in fs.list(args.schema, args.record_id, deleted)]
    if args.json:
        console.out(json.dumps([_info_record(info) for info in files], indent=2))
        return 0
    show_state = deleted is not False
    for info in files:
        state = f"{info.state:<9} " if show_state else ""
        console.out(
            f"{info.id}  {info.storage:<8} {info.size:>12}  {state}{info.schema}  "
            f"{info.record_id}  {info.name}"
        )
    console.note(f"{len(files)} file(s)")
    return 0


async def _info(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    record = _info_record(await fs.info(args.file_id))
    if args.json:
        console.out(json.dumps(record, indent=2))
    else:
        width = max(len(key) for key in record)
        for key, value in record.items():
            console.out(f"{key + ':':<{width + 1}} {'-' if value is None else value}")
    return 0


async def _active_storage(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    if args.code is not None:
        await fs.set_active_storage(args.code)
    console.out(await fs.active_storage())
    return 0


async def _feature(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    names = [args.name] if args.name else list(FEATURES)
    if args.value is not None:
        await fs.set_feature(args.name, args.value == "on")
    for name in names:
        console.out(f"{name}: {'on' if await fs.feature(name) else 'off'}")
    return 0


async def _delete_record(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    if not await fs.feature("UseBaseEntityFileDeleteListener"):
        console.note(
            "UseBaseEntityFileDeleteListener is off: the record's files are left in place "
            "(turn it on with: s3lite feature UseBaseEntityFileDeleteListener on)"
        )
        return 0
    recycled = await fs.delete_record(args.schema, args.record_id)
    for info in recycled:
        console.out(f"deleted {info.id} {info.name}")
    console.note(f"{len(recycled)} file(s) moved to the recycle bin")
    return 0


def _names(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


async def _migrate(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    last = 0.0

    def progress(report: MigrationReport) -> None:
        nonlocal last
        now = time.monotonic()
        if console.progress and now - last >= _PROGRESS_EVERY:
            last = now
            done = report.migrated + report.skipped + len(report.failed)
            print(
                f"migrate {report.source} -> {report.target}: {done} file(s) done, "
                f"{report.migrated} migrated, {len(report.failed)} failed",
                file=console.stderr,
                flush=True,
            )

    report = await fs.migrate(
        args.source,
        args.target,
        schemas=_names(args.schemas),
        exclude_schemas=_names(args.exclude_schemas),
        limit=args.limit,
        batch_size=args.batch_size,
        progress=progress,
    )
    console.out(
        f"migrated {report.migrated} file(s) ({_size(report.bytes)}) from {report.source} "
        f"to {report.target}; failed {len(report.failed)}, skipped {report.skipped}, "
        f"leftovers removed {report.cleaned}, remaining {report.remaining}"
    )
    for failure in report.failed:
        console.out(f"failed {failure.file_id} {failure.name}: {failure.error}")
    return 0 if report.ok else 1


async def _lifecycle(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    if args.days is not None:
        rule = await fs.put_recycle_lifecycle(args.days)
        console.out(f"recycled files expire after {rule.days} day(s) (rule {rule.id})")
        return 0
    current = await fs.recycle_lifecycle()
    if current is None:
        console.out("no expiry rule on the recycle bucket")
        console.note("set one with: s3lite lifecycle --days 90")
        return 1
    console.out(f"recycled files expire after {current.days} day(s) (rule {current.id})")
    return 0


async def _repair(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    report = await fs.repair()
    console.out(
        f"deletes finished {report.deletes_finished}, restores finished "
        f"{report.restores_finished}, leftovers removed {report.leftovers_removed}, "
        f"abandoned uploads discarded {report.uploads_discarded}, failed {len(report.failed)}"
    )
    for file_id, error in report.failed:
        console.out(f"failed {file_id}: {error}")
    return 0 if not report.failed else 1


async def _purge(fs: FileStorage, args: argparse.Namespace, console: _Console) -> int:
    report = await fs.purge(args.days)
    console.out(f"purged {report.purged} recycled file(s); failed {len(report.failed)}")
    for file_id, error in report.failed:
        console.out(f"failed {file_id}: {error}")
    return 0 if not report.failed else 1


# --- parsing ------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text}")
    return value


_CHECKSUMS = CHECKSUM_CHOICES
_PAYLOAD_SIGNING = ("auto", "signed", "unsigned")


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("storage options")
    group.add_argument(
        "--database",
        metavar="PATH|URL",
        default=default(os.environ.get(ENV_DATABASE) or _DEFAULT_DATABASE),
        help="SQLite file or postgresql:// URL of the file metadata and the Database "
        f"store's content (default: ${ENV_DATABASE} or ./{_DEFAULT_DATABASE}); prefer the "
        "environment variable for a URL with a password",
    )
    group.add_argument(
        "--connection-string",
        metavar="TEXT",
        default=default(None),
        help=f"S3 connection string (default: ${ENV_CONNECTION_STRING}); prefer the "
        "environment variable: command lines are visible to other users",
    )
    group.add_argument(
        "--config",
        metavar="PATH",
        default=default(None),
        help='a ConnectionStrings.config holding <add name="s3Connection" .../>',
    )
    group.add_argument(
        "--connection-name",
        metavar="NAME",
        default=default("s3Connection"),
        help="the entry to read from --config (default: s3Connection)",
    )
    client = parser.add_argument_group("S3 client options")
    client.add_argument(
        "--checksum",
        choices=_CHECKSUMS,
        default=default(None),
        help="checksum protecting every upload to S3 (default: auto, CRC32 where the server "
        "takes it, else Content-MD5 or the payload signature; none: no checksum); "
        "overrides a Checksum= in the connection string",
    )
    client.add_argument(
        "--payload-signing",
        choices=_PAYLOAD_SIGNING,
        default=default(None),
        help="auto (the default): sign bodies over http, UNSIGNED-PAYLOAD over https; "
        "signed or unsigned: always",
    )
    client.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        default=default(None),
        help="S3 read/write timeout per request (default: 60)",
    )
    group.add_argument(
        "--progress",
        action="store_true",
        default=default(None),
        help="show progress of long transfers on stderr even when it is not a terminal",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no progress and no notes on stderr",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log what the storage layer does (to stderr)",
    )


_SECRET_VALUE = re.compile(r"(?i)\b(SecretKey|SessionToken)(\s*=\s*)[^;]*")


def redact(text: str) -> str:
    """``text`` with the values of any ``SecretKey=`` / ``SessionToken=`` pairs masked."""
    return _SECRET_VALUE.sub(lambda m: f"{m[1]}{m[2]}***", text)


class _Parser(argparse.ArgumentParser):
    """argparse echoes arguments it cannot parse; a misspelt option may carry a
    connection string, so its secret is masked first (subcommands inherit this)."""

    def error(self, message: str) -> NoReturn:
        super().error(redact(message))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``s3lite`` (global options work before or after the command)."""
    from s3lite._version import __version__

    parser = _Parser(
        prog="s3lite",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"s3lite {__version__}")
    _add_global_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _add_global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    put = command("put", _put, "store a file for a record and print the new file's id")
    put.add_argument("schema", metavar="SCHEMA", help="entity schema name, e.g. ActivityFile")
    put.add_argument("record_id", metavar="RECORD_ID", help="id of the owning record")
    put.add_argument("path", metavar="PATH", help="the file to store ('-': stdin, needs --name)")
    put.add_argument("--name", help="file name to record (default: the name in PATH)")

    get = command("get", _get, "save a file's content")
    get.add_argument("file_id", metavar="FILE_ID")
    get.add_argument(
        "dest",
        metavar="DEST",
        nargs="?",
        help="where to save it: a path, a folder (default: the current one, under the "
        "file's name), or '-' for stdout",
    )
    get.add_argument("-f", "--force", action="store_true", help="overwrite an existing file")

    rm = command("rm", _rm, "delete a file (it moves into the recycle bin)")
    rm.add_argument("file_id", metavar="FILE_ID")

    restore = command("restore", _restore, "bring a deleted file back from the recycle bin")
    restore.add_argument("file_id", metavar="FILE_ID")

    ls = command("ls", _ls, "list files (id, store, size, schema, record id, name)")
    ls.add_argument("--schema", help="only files of this entity schema")
    ls.add_argument("--record-id", help="only files of this record")
    which = ls.add_mutually_exclusive_group()
    which.add_argument("--deleted", action="store_true", help="list deleted files instead")
    which.add_argument("--all", action="store_true", help="list live and deleted files")
    ls.add_argument("--json", action="store_true", help="print JSON")

    info = command("info", _info, "show a file's metadata")
    info.add_argument("file_id", metavar="FILE_ID")
    info.add_argument("--json", action="store_true", help="print JSON")

    active = command(
        "active-storage",
        _active_storage,
        "show or set ActiveFileContentStorage, the store for new files",
    )
    active.add_argument(
        "code", metavar="Database|S3", nargs="?", type=str, help="the store to use for new files"
    )

    feature = command("feature", _feature, "show or set a feature toggle")
    feature.add_argument(
        "name", metavar="NAME", nargs="?", help=f"one of: {', '.join(FEATURES)} (default: all)"
    )
    feature.add_argument("value", metavar="on|off", nargs="?", choices=["on", "off"])

    delete_record = command(
        "delete-record",
        _delete_record,
        "a record was deleted: recycle its files if UseBaseEntityFileDeleteListener is on",
    )
    delete_record.add_argument("schema", metavar="SCHEMA")
    delete_record.add_argument("record_id", metavar="RECORD_ID")

    migrate = command(
        "migrate",
        _migrate,
        "move files between stores; each source copy is removed only after the target "
        "copy is verified; safe to rerun",
    )
    migrate.add_argument("source", metavar="SOURCE", help=f"{DATABASE} or {S3}")
    migrate.add_argument("target", metavar="TARGET", help=f"{DATABASE} or {S3}")
    migrate.add_argument(
        "--schemas",
        action="append",
        metavar="A,B",
        help="only these entity schemas (comma-separated; repeatable)",
    )
    migrate.add_argument(
        "--exclude-schemas",
        action="append",
        metavar="A,B",
        help="not these entity schemas (comma-separated; repeatable)",
    )
    migrate.add_argument("--limit", type=_positive, metavar="N", help="at most N files")
    migrate.add_argument(
        "--batch-size",
        type=_positive,
        default=100,
        metavar="N",
        help="files per batch (default: 100)",
    )

    lifecycle = command(
        "lifecycle",
        _lifecycle,
        "check the recycle bucket's expiry rule, or set it with --days",
    )
    lifecycle.add_argument(
        "--days",
        type=_positive,
        nargs="?",
        const=90,
        metavar="N",
        help="put a rule expiring recycled files after N days (N defaults to 90)",
    )

    command("repair", _repair, "finish interrupted deletes, restores and migrations")

    purge = command("purge", _purge, "remove recycled files older than the retention period")
    purge.add_argument(
        "--days", type=_positive, metavar="N", help="older than N days (default: the retention)"
    )
    return parser


def _connection(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(connection string, config path) from the options and the environment."""
    if args.connection_string is not None and args.config is not None:
        raise _UsageError("give --connection-string or --config, not both")
    if args.config is not None:
        return None, args.config
    text = args.connection_string
    if text is None:
        text = os.environ.get(ENV_CONNECTION_STRING) or None
    return text, None


def _client_options(args: argparse.Namespace) -> ClientOptions | None:
    """The S3 client options given on the command line (``None``: all defaults)."""
    changes: dict[str, object] = {}
    if args.checksum is not None:
        changes["checksum"] = None if args.checksum == "none" else args.checksum
    if args.payload_signing is not None:
        changes["payload_signing"] = args.payload_signing
    if args.timeout is not None:
        changes["timeout"] = args.timeout
    if not changes:
        return None
    try:
        return ClientOptions().with_changes(**changes)
    except ConfigurationError as error:
        raise _UsageError(str(error)) from None


class _UsageError(Exception):
    """Options that argparse accepted but that do not fit together."""


class _StderrHandler(logging.Handler):
    """Logs to whatever ``sys.stderr`` is at the time of the record."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"s3lite: {self.format(record)}", file=sys.stderr, flush=True)
        except Exception:  # pragma: no cover - logging must never fail the command
            self.handleError(record)


async def _run(args: argparse.Namespace, console: _Console) -> int:
    text, config = _connection(args)
    connection: str | ConnectionSettings | None = text
    if args.checksum is not None and (text is not None or config is not None):
        path = config
        # --checksum overrides a Checksum= of the connection string (which overrides
        # the client's options): it is set on the settings themselves.
        settings = (
            parse_connection_string(text)
            if text is not None
            else await anyio.to_thread.run_sync(
                read_connection_config, Path(str(path)), args.connection_name
            )
        )
        connection, config = dataclasses.replace(settings, checksum=args.checksum), None
    handler: Command = args.handler
    async with FileStorage(
        args.database,
        connection,
        config_file=config,
        connection_name=args.connection_name,
        s3_options=_client_options(args),
    ) as fs:
        return await handler(fs, args, console)


def main(argv: list[str] | None = None) -> int:
    """Run the ``s3lite`` command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    console = _Console(progress=progress and not args.quiet, quiet=args.quiet)
    logger = logging.getLogger("s3lite")
    log_handler = _StderrHandler()
    log_handler.setLevel(logging.INFO if args.verbose else logging.WARNING)
    previous_level = logger.level
    logger.addHandler(log_handler)
    if args.verbose and not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)  # -v never makes a more verbose setting quieter
    try:
        return anyio.run(_run, args, console)
    except _UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"s3lite: error: {error}", file=sys.stderr)
        return 2
    except (S3Error, OSError) as error:
        print(f"s3lite: error: {_describe(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("s3lite: interrupted", file=sys.stderr)
        return 130
    finally:
        logger.removeHandler(log_handler)
        logger.setLevel(previous_level)


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or error}: {error.filename}"
    return str(error)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
