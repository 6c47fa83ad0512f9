"""The README's examples run as written against the test server, with the output it shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TestServer, unique_bucket_name

README = Path(__file__).resolve().parents[1] / "README.md"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RECORD_ID = "0b6c4c5e-39ba-4f5e-9df3-0d4b5b0c1a2e"

pytestmark = pytest.mark.integration


def blocks(language: str) -> list[str]:
    pattern = rf"```{language}\n(.*?)```"
    return re.findall(pattern, README.read_text(encoding="utf-8"), flags=re.S)


def environment(s3_server: TestServer) -> dict[str, str]:
    env = dict(os.environ)
    env["S3LITE_CONNECTION_STRING"] = s3_server.connection_string(
        unique_bucket_name("readme"), unique_bucket_name("readme-bin")
    )
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    script = cwd / "example.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def test_readme_starts_with_the_two_setup_commands() -> None:
    first = blocks("sh")[0]
    commands = [line for line in first.splitlines() if line and not line.startswith("#")]
    assert commands[0].endswith("python -m benchmarks")
    assert commands[1] == "bash scripts/test"
    assert "bash scripts/test" in (README.parents[0] / ".ci" / "run").read_text()


def test_readme_quickstart_runs_as_written(s3_server: TestServer, tmp_path: Path) -> None:
    quickstart = blocks("python")[0]
    assert "S3Client" in quickstart
    env = environment(s3_server)
    result = run_python(quickstart, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "b'Hello, S3!' 10" in result.stdout
    assert "b'Hello'" in result.stdout
    assert "gone: NoSuchKey" in result.stdout
    assert s3_server.settings.secret_key not in result.stdout + result.stderr


def test_readme_transfer_example_runs_as_written(s3_server: TestServer, tmp_path: Path) -> None:
    example = next(block for block in blocks("python") if "download_file" in block)
    result = run_python(example, environment(s3_server), tmp_path)
    assert result.returncode == 0, result.stderr
    size = 20 * 1024 * 1024
    assert f"uploaded {size} of {size} bytes" in result.stdout
    assert (tmp_path / "copy.bin").read_bytes() == (tmp_path / "big.bin").read_bytes()
    assert f"{size} 3 " in result.stdout  # three parts of 8 MiB
    assert f"\n{size} " in result.stdout  # the parallel stream read it whole


def test_readme_storage_example_prints_what_the_readme_shows(
    s3_server: TestServer, tmp_path: Path
) -> None:
    example = next(block for block in blocks("python") if "FileStorage(" in block)
    assert "FileStorage" in example
    shown = blocks("text")[0]
    result = run_python(example, environment(s3_server), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown


def test_readme_cli_session_runs_as_written(s3_server: TestServer, tmp_path: Path) -> None:
    session = blocks("console")[0].splitlines()
    commands = [line[2:] for line in session if line.startswith("$ ")]
    shown = [line for line in session if not line.startswith("$ ")]
    assert len(commands) >= 10
    script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
    result = subprocess.run(  # stdout and stderr merged, as a terminal shows them
        ["bash", "-c", script],
        env=environment(s3_server),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout

    def normalise(lines: list[str]) -> list[str]:
        # The new file's id differs on every run; the record id is the one in the README.
        return [UUID.sub(lambda m: m[0] if m[0] == RECORD_ID else "<id>", x) for x in lines]

    assert normalise(result.stdout.splitlines()) == normalise(shown)
    assert s3_server.settings.secret_key not in result.stdout
