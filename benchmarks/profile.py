"""Where s3lite's time goes: py-spy samples of one s3lite worker, reduced to top frames.

Rules of this module:
- The profiled runs are extra runs (never the measured ones): sampling slows a
  process down, so their timings are not reported.
- py-spy writes collapsed stacks (``--format raw``); this module reduces them to
  the frames with the most samples, by self time and by total (inclusive) time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .config import Spec

__all__ = ["Profile", "profile_worker", "py_spy"]

_RATE = 250
# Stacks with these frames are start-up (imports, client construction), not the workload.
_STARTUP = ("<frozen importlib", "S3Client.__init__", "AsyncClient.__init__")
# Leaf frames of threads that are waiting, not working (py-spy cannot always tell).
_IDLE = ("Condition.wait", "select (selectors.py", "_wait_for_tstate_lock", "Queue.get")
# Frames every stack has; hidden from the "total" table.
_PLUMBING = ("<frozen runpy>", "asyncio/", "benchmarks/", "threading.py")


@dataclass(frozen=True)
class Profile:
    workload: str
    samples: int
    self_top: list[tuple[str, float]]  # frame, share of samples
    total_top: list[tuple[str, float]]


def py_spy() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.is_file() else shutil.which("py-spy")


def _reduce(raw: str, workload: str, top: int) -> Profile:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(marker in stack for marker in _STARTUP) or frames[-1].startswith(_IDLE):
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    share = max(samples, 1)
    return Profile(
        workload,
        samples,
        [(frame, n / share) for frame, n in own.most_common(top)],
        [
            (frame, n / share)
            for frame, n in total.most_common()
            if not any(marker in frame for marker in _PLUMBING)
        ][:top],
    )


def profile_worker(spec: Spec, cwd: Path, top: int = 12) -> Profile | str:
    """Run one worker under py-spy; return its top frames, or why it could not be done."""
    binary = py_spy()
    if binary is None:
        return "py-spy is not installed"
    with tempfile.TemporaryDirectory(prefix="s3lite-bench-profile-") as tmp:
        out = Path(tmp) / "stacks.txt"
        command = [
            binary,
            "record",
            "--format",
            "raw",
            "--rate",
            str(_RATE),
            "--nonblocking",
            "--output",
            str(out),
            "--",
            sys.executable,
            "-m",
            "benchmarks.worker",
            "--client",
            spec.client,
            "--workload",
            spec.workload,
        ]
        done = subprocess.run(
            command,
            input=spec.to_json(),
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=600,
            check=False,
        )
        if done.returncode != 0 or not out.is_file():
            return f"py-spy failed ({done.returncode}): {done.stderr.strip()[-300:]}"
        return _reduce(out.read_text(), spec.workload, top)
