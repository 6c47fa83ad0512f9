"""The README's quickstart runs as written against the test server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TestServer

README = Path(__file__).resolve().parents[1] / "README.md"

pytestmark = pytest.mark.integration


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_quickstart_runs_as_written(s3_server: TestServer, tmp_path: Path) -> None:
    quickstart = python_blocks()[0]
    assert "S3Client" in quickstart
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart, encoding="utf-8")
    env = dict(os.environ)
    env["S3LITE_CONNECTION_STRING"] = s3_server.connection_string("quickstart", "quickstart-bin")
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "b'Hello, S3!' 10" in result.stdout
    assert "b'Hello'" in result.stdout
    assert "gone: NoSuchKey" in result.stdout
    assert s3_server.settings.secret_key not in result.stdout + result.stderr
