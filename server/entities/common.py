"""Formatting shared by every Mastodon entity."""

from __future__ import annotations

from datetime import datetime


def iso(moment: datetime | None) -> str | None:
    """Mastodon's timestamp format: `2019-11-26T23:27:31.000Z`."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def date_only(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d") if moment is not None else None


def midnight(moment: datetime) -> str:
    """Account creation is shown to the day, as Mastodon does."""
    return moment.strftime("%Y-%m-%dT00:00:00.000Z")
