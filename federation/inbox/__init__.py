"""Placeholder: filled in by the package's owner."""

from federation.jobs import Registry


def register(registry: Registry) -> None:
    """Register this package's job handlers."""
