"""Per-host policy: which signature scheme to knock with first, and when a host that keeps
failing is left alone.

Mastodon stops delivering to a domain that has failed for about a week; Kith keeps recording
deliveries to such a host (nothing is lost if it comes back) but tries them only every few
hours, so a dead server costs a handful of requests a day instead of a backoff schedule's worth
per activity.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from storage import hosts as store
from storage.db import Executor

SCHEMES = ("rfc9421", "cavage")
UNAVAILABLE_AFTER = timedelta(days=2)
# How long a delivery to an unavailable host waits between tries.
UNAVAILABLE_RETRY = timedelta(hours=6)


def host_of(url: str) -> str:
    """The `hosts.domain` key of a URL: lower-case host name, with the port when one is given."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def knock_order(remembered: str | None) -> tuple[str, ...]:
    """Schemes to try, in order: the remembered one first, then the other as the fallback."""
    first = remembered if remembered in SCHEMES else SCHEMES[0]
    return (first, *(scheme for scheme in SCHEMES if scheme != first))


async def failed(db: Executor, host: str) -> bool:
    """Record a failure; return whether the host is now unavailable."""
    return await store.record_failure(db, host, UNAVAILABLE_AFTER)


async def unavailable(db: Executor, hosts: list[str]) -> set[str]:
    return await store.unavailable_domains(db, hosts)
