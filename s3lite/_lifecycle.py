"""The open/close life of the package's resources, written once.

Rules of this module:
- A resource goes UNOPENED -> OPENED -> CLOSED and never back; opening twice or
  after closing is a ``RuntimeError`` with httpx's wording.
- ``aclose()`` is idempotent and ``async with`` always ends in ``aclose()``.
"""

from __future__ import annotations

import enum
from types import TracebackType
from typing import Self

__all__ = ["AsyncResource", "Lifecycle", "State"]


class State(enum.Enum):
    """Where a resource is in its life."""

    UNOPENED = "unopened"
    """Built, not yet entered: requests may still be sent (``await`` use)."""
    OPENED = "opened"
    """Entered with ``async with`` (or opened explicitly)."""
    CLOSED = "closed"
    """Closed: nothing more may be sent; ``aclose()`` again does nothing."""


class Lifecycle:
    """The state of one resource and the checks its methods make."""

    __slots__ = ("_name", "state")

    def __init__(self, name: str) -> None:
        self._name = name
        self.state = State.UNOPENED

    def open(self) -> None:
        """UNOPENED -> OPENED, or a ``RuntimeError`` naming why not."""
        if self.state is State.OPENED:
            raise RuntimeError(f"Cannot open a {self._name} instance more than once.")
        if self.state is State.CLOSED:
            raise RuntimeError(
                f"Cannot reopen a {self._name} instance, once it has been closed."
            )
        self.state = State.OPENED

    def close(self) -> bool:
        """Mark the resource closed; ``True`` the first time only (so it releases once)."""
        if self.state is State.CLOSED:
            return False
        self.state = State.CLOSED
        return True

    @property
    def closed(self) -> bool:
        """Whether the resource was closed."""
        return self.state is State.CLOSED


class AsyncResource:
    """``async with`` for anything with an ``aclose()``: enter returns it, exit closes it."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release what the resource holds; safe to call more than once."""
        raise NotImplementedError
