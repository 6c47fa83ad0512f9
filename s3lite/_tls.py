"""TLS settings shared by the HTTP engines: the context for ``verify``, and certificate errors.

Rules of this module:
- ``verify`` is ``True`` (a trust store), ``False`` (no checks, asked for explicitly),
  a CA bundle path, or the caller's own ``ssl.SSLContext`` (used as it is).
- A context is built once per process and setting: loading a trust store costs
  0.1-0.3 s.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable

from ._exceptions import ConfigurationError

__all__ = ["certificate_failure", "ssl_context"]


@functools.lru_cache(maxsize=4)
def _system_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def ssl_context(
    verify: bool | str | ssl.SSLContext,
    trust_store: Callable[[bool], ssl.SSLContext] = _system_context,
) -> ssl.SSLContext:
    """The context for ``verify``; ``trust_store(verify)`` builds the default one
    (the system's, unless an engine brings its own, as httpx does with certifi)."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, str):
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"cannot load the CA bundle {verify!r}: {exc}") from exc
    return trust_store(bool(verify))


def certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error behind ``exc`` (its causes), if there is one."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
