"""Shared contract of the hub: settings, tables, domain types, money and time helpers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("payment-hub")
except PackageNotFoundError:  # pragma: no cover - only when run from a bare checkout
    __version__ = "0.0.0"
