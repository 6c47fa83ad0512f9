"""Small helpers for structured concurrency shared by the transfer modules.

Rules of this module:
- No I/O and no S3: only what task groups need (which error a failed group reports).
"""

from __future__ import annotations

import anyio

__all__ = ["first_error"]


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to report from a failed task group: the first that is not a cancellation.

    Callers see the exception their body or the server raised, not a group.
    """
    cancelled = anyio.get_cancelled_exc_class()
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(group)
    for leaf in leaves:
        if not isinstance(leaf, cancelled):
            return leaf
    return leaves[0] if leaves else group
