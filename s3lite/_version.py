"""The package version, defined once (the User-Agent and the CLI read it here)."""

__version__ = "0.1.0"
