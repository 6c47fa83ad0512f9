"""The ``s3lite`` command line, run in-process (and once as ``python -m s3lite``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest

from s3lite._cli import ENV_CONNECTION_STRING, ENV_DATABASE, main, progress_line
from tests.conftest import TestServer, empty_and_delete_bucket, unique_bucket_name
from tests.pgserver import PostgresServer

RECORD = "0b6c4c5e-39ba-4f5e-9df3-0d4b5b0c1a2e"
COMMANDS = (
    "put",
    "get",
    "rm",
    "restore",
    "ls",
    "info",
    "active-storage",
    "feature",
    "delete-record",
    "migrate",
    "lifecycle",
    "repair",
    "purge",
)


@pytest.fixture(autouse=True)
def in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own folder, with no connection string in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_CONNECTION_STRING, raising=False)
    return tmp_path


@pytest.fixture
def connection_string(s3_server: TestServer) -> Iterator[str]:
    """A connection string naming fresh buckets, removed afterwards."""
    objects, recycle = unique_bucket_name("cli"), unique_bucket_name("clirec")
    yield s3_server.connection_string(objects, recycle)

    async def cleanup() -> None:
        async with s3_server.client() as client:
            for bucket in (objects, recycle):
                await empty_and_delete_bucket(client, bucket)

    anyio.run(cleanup)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_every_command_when_run_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "s3lite", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert command in result.stdout
    for option in ("--database", "--connection-string", ENV_CONNECTION_STRING, "--config"):
        assert option in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"usage: s3lite {command}" in out


def test_a_session_on_the_default_sqlite_database(
    capsys: pytest.CaptureFixture[str], in_tmp_folder: Path
) -> None:
    Path("report.txt").write_bytes(b"quarterly numbers\n")
    code, out, _ = run(capsys, "put", "ActivityFile", RECORD, "report.txt")
    assert code == 0
    file_id = out.strip()
    assert uuid.UUID(file_id)
    assert (in_tmp_folder / "files.db").exists()

    code, out, err = run(capsys, "ls")
    assert code == 0
    assert file_id in out and "Database" in out and "report.txt" in out
    assert "1 file(s)" in err

    code, out, _ = run(capsys, "info", file_id, "--json")
    info = json.loads(out)
    assert (info["storage"], info["size"], info["state"]) == ("Database", 18, "active")

    Path("out").mkdir()
    code, out, _ = run(capsys, "get", file_id, "out")
    assert (code, out.strip()) == (0, str(Path("out") / "report.txt"))
    assert Path("out/report.txt").read_bytes() == b"quarterly numbers\n"
    code, _, err = run(capsys, "get", file_id, "out")
    assert code == 1 and "exists" in err
    assert run(capsys, "get", file_id, "out", "--force")[0] == 0

    assert run(capsys, "rm", file_id)[0] == 0
    code, out, _ = run(capsys, "ls")
    assert file_id not in out
    code, out, _ = run(capsys, "ls", "--deleted")
    assert file_id in out and "deleted" in out
    code, _, err = run(capsys, "get", file_id, "again.txt")
    assert code == 1 and "restore it first" in err
    assert run(capsys, "restore", file_id)[0] == 0
    assert run(capsys, "get", file_id, "again.txt")[0] == 0
    assert Path("again.txt").read_bytes() == b"quarterly numbers\n"


def test_get_to_stdout_writes_the_raw_bytes(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    Path("blob.bin").write_bytes(bytes(range(256)))
    assert main(["put", "ActivityFile", RECORD, "blob.bin"]) == 0
    file_id = capsysbinary.readouterr().out.decode().strip()
    assert main(["get", file_id, "-"]) == 0
    assert capsysbinary.readouterr().out == bytes(range(256))


def test_feature_toggle_decides_what_record_deletion_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path("a.txt").write_bytes(b"a")
    run(capsys, "put", "ActivityFile", RECORD, "a.txt")
    code, out, err = run(capsys, "delete-record", "ActivityFile", RECORD)
    assert code == 0 and out == "" and "is off" in err
    assert run(capsys, "feature")[1] == "UseBaseEntityFileDeleteListener: off\n"
    code, out, _ = run(capsys, "feature", "UseBaseEntityFileDeleteListener", "on")
    assert out == "UseBaseEntityFileDeleteListener: on\n"
    code, out, err = run(capsys, "delete-record", "ActivityFile", RECORD)
    assert code == 0 and out.startswith("deleted ") and "1 file(s)" in err
    assert run(capsys, "ls", "--deleted", "--json")[1].count('"deleted"') == 1


def test_a_session_on_s3_through_the_environment_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, connection_string: str
) -> None:
    Path("old.txt").write_bytes(b"old")
    Path("new.txt").write_bytes(b"new")
    old_id = run(capsys, "put", "ActivityFile", RECORD, "old.txt")[1].strip()
    monkeypatch.setenv(ENV_CONNECTION_STRING, connection_string)
    assert run(capsys, "active-storage")[1] == "Database\n"
    assert run(capsys, "active-storage", "S3")[1] == "S3\n"
    new_id = run(capsys, "put", "ActivityFile", RECORD, "new.txt")[1].strip()
    assert json.loads(run(capsys, "info", new_id, "--json")[1])["storage"] == "S3"

    code, out, _ = run(capsys, "migrate", "Database", "S3")
    assert code == 0
    assert out.startswith("migrated 1 file(s)")
    assert json.loads(run(capsys, "info", old_id, "--json")[1])["storage"] == "S3"
    code, out, _ = run(capsys, "migrate", "S3", "Database", "--limit", "1")
    assert code == 0 and "remaining 1" in out

    code, out, _ = run(capsys, "lifecycle")
    assert code == 1 and "no expiry rule" in out
    code, out, _ = run(capsys, "lifecycle", "--days")
    assert code == 0 and "90 day(s)" in out
    assert run(capsys, "lifecycle", "--days", "30")[0] == 0
    code, out, _ = run(capsys, "lifecycle")
    assert code == 0 and "30 day(s)" in out

    assert run(capsys, "rm", new_id)[0] == 0
    assert run(capsys, "restore", new_id)[0] == 0
    assert run(capsys, "get", new_id, "back.txt")[0] == 0
    assert Path("back.txt").read_bytes() == b"new"


def test_connection_string_option_and_config_file(
    capsys: pytest.CaptureFixture[str], connection_string: str
) -> None:
    Path("a.txt").write_bytes(b"a")
    code, _, _ = run(capsys, "active-storage", "S3", "--connection-string", connection_string)
    assert code == 0
    config = Path("ConnectionStrings.config")
    config.write_text(
        '<connectionStrings><add name="s3Connection" connectionString="'
        + connection_string.replace("&", "&amp;").replace('"', "&quot;")
        + '"/></connectionStrings>'
    )
    code, out, _ = run(capsys, "--config", str(config), "put", "ActivityFile", RECORD, "a.txt")
    assert code == 0
    code, out, _ = run(capsys, "ls", "--config", str(config))
    assert "S3" in out


def test_progress_is_shown_on_stderr_for_long_transfers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path("big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    code, out, err = run(capsys, "--progress", "put", "ActivityFile", RECORD, "big.bin")
    assert code == 0
    assert "put big.bin" in err and "3.0 MiB" in err and "done in" in err
    code, out, err = run(capsys, "get", out.strip(), "copy.bin", "--progress")
    assert code == 0 and "get big.bin" in err
    code, _, err = run(capsys, "-q", "put", "ActivityFile", RECORD, "big.bin")
    assert code == 0 and err == ""


def test_errors_are_reported_with_a_status_and_without_secrets(
    capsys: pytest.CaptureFixture[str], s3_server: TestServer
) -> None:
    code, _, err = run(capsys, "info", str(uuid.uuid4()))
    assert code == 1 and "not found" in err
    code, _, err = run(capsys, "active-storage", "Tape")
    assert code == 1 and "unknown store code" in err
    code, _, err = run(capsys, "put", "ActivityFile", RECORD, "missing.txt")
    assert code == 1 and "missing.txt" in err
    code, _, err = run(capsys, "bogus")
    assert code == 2

    secret = s3_server.settings.secret_key
    bad = s3_server.connection_string("ok-bucket", "ok-recycle") + " Bogus=1;"
    code, out, err = run(capsys, "ls", "--connection-string", bad)
    assert code == 1 and "Bogus" in err
    assert secret not in out + err
    code, _, err = run(capsys, "ls", "--connection-string", bad, "--config", "x.config")
    assert code == 2 and "not both" in err
    assert secret not in err


def test_client_options_flags_are_documented_and_parsed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from s3lite._cli import _client_options, build_parser
    from s3lite._options import ClientOptions

    code, out, _ = run(capsys, "--help")
    assert code == 0
    for flag in (
        "--checksum",
        "--payload-signing",
        "--timeout SECONDS",
        "auto,crc32,sha256,md5,none",
    ):
        assert flag in out
    parser = build_parser()
    assert _client_options(parser.parse_args(["ls"])) is None
    options = _client_options(
        parser.parse_args(
            ["ls", "--checksum", "none", "--payload-signing", "unsigned", "--timeout", "2.5"]
        )
    )
    assert options == ClientOptions(checksum=None, payload_signing="unsigned", timeout=2.5)
    before = _client_options(parser.parse_args(["--checksum", "sha256", "ls"]))
    assert before is not None and before.checksum == "sha256"
    for bad in (["--timeout", "0"], ["--timeout", "x"], ["--checksum", "crc64"]):
        code, _, err = run(capsys, "ls", *bad)
        assert code == 2 and "error" in err


def test_the_timeout_flag_reaches_the_s3_client(
    capsys: pytest.CaptureFixture[str], connection_string: str
) -> None:
    Path("a.txt").write_bytes(b"x" * 1000)
    common = ("--connection-string", connection_string)
    assert run(capsys, *common, "active-storage", "S3")[0] == 0
    code, _, err = run(
        capsys, *common, "--timeout", "0.000001", "put", "ActivityFile", RECORD, "a.txt"
    )
    assert code == 1 and "s3lite: error:" in err and "time" in err.lower()
    code, out, _ = run(
        capsys,
        *common,
        "--timeout",
        "30",
        "--checksum",
        "none",
        "put",
        "ActivityFile",
        RECORD,
        "a.txt",
    )
    assert code == 0 and out.strip()


def test_progress_line_draws_a_bar_on_a_terminal_and_plain_text_otherwise() -> None:
    bar = progress_line("get a.bin", 3 * 1024 * 1024, 12 * 1024 * 1024, 2.0, bar=True)
    assert bar == (
        "[######------------------] get a.bin: 3.0 MiB of 12.0 MiB (25%), 1.5 MiB/s"
    )
    plain = progress_line("put b", 1024, None, 0.0, bar=True)
    assert plain == "put b: 1.0 KiB"  # no total: no bar, no share
    assert progress_line("put c", 10, 10, 1.0, bar=False) == "put c: 10 B of 10 B (100%), 10 B/s"


def test_a_session_on_postgresql_from_the_environment(
    capsys: pytest.CaptureFixture[str],
    in_tmp_folder: Path,
    pg_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pg_server.fresh_database() as url:
        monkeypatch.setenv(ENV_DATABASE, url)
        password = str(urlsplit(url).password)
        Path("report.txt").write_bytes(b"shared catalogue\n")
        code, out, err = run(capsys, "put", "ActivityFile", RECORD, "report.txt")
        assert code == 0, err
        file_id = out.strip()
        assert not (in_tmp_folder / "files.db").exists()
        code, out, _ = run(capsys, "ls")
        assert file_id in out and "Database" in out
        code, out, _ = run(capsys, "--database", str(in_tmp_folder / "other.db"), "ls")
        assert file_id not in out  # --database wins over the environment
        wrong = url.replace(f":{password}@", ":not-the-password@")
        code, out, err = run(capsys, "--database", wrong, "ls")
        assert code != 0 and "password authentication failed" in err
        assert password not in out + err and "not-the-password" not in out + err
