"""Rate limits on signing in, signing up and filing reports, shared by every process.

Counters live in PostgreSQL (`storage/rate_limits.py`), in fixed windows. A hit is counted
*before* the work it limits, in one atomic statement, so parallel requests cannot slip past a
limit and a limited sign-in never reaches the password hash (the costly part an attacker would
drain the CPU with).

Sign-in attempts count against the client's address and against the login name as typed
(lower-cased, whether or not an account has it, so a limit says nothing about which logins
exist). A successful sign-in takes its hits back: only failures use up a limit, and a person who
signs in does not reset what an attacker has spent on their name. A sign-in refused for a
disabled or unapproved account had the right password, so it is taken back too.

The numbers follow Mastodon's defaults (config/initializers/rack_attack.rb and RateLimiter).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from aiohttp import web

from federation.errors import KithError
from server.state import CONFIG, POOL
from storage import rate_limits as store

TOO_MANY_REQUESTS = "Too many requests"


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits per key in each window of `period`."""

    bucket: str
    limit: int
    period: timedelta


# Mastodon: throttle_login_attempts/ip (25 per 5 minutes).
LOGIN_PER_IP = Limit("login/ip", 25, timedelta(minutes=5))
# Mastodon: throttle_login_attempts/email (25 per hour).
LOGIN_PER_NAME = Limit("login/name", 25, timedelta(hours=1))
# Mastodon's API sign-up allows 5 per 30 minutes; twice that here, because every attempt counts
# (validation errors too: each one tells whether a username or e-mail address is taken).
SIGN_UP_PER_IP = Limit("sign_up/ip", 10, timedelta(minutes=30))
# Mastodon: RateLimiter's reports family (400 per day), counted per reporting account.
REPORTS_PER_ACCOUNT = Limit("reports/account", 400, timedelta(days=1))


class RateLimited(KithError):
    """A limit is used up; try again in `retry_after` seconds. The client API renders it as is
    (429, Mastodon's message, `Retry-After`); the sign-in page catches it to answer in HTML."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            TOO_MANY_REQUESTS,
            description=f"Try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Hit:
    """A counted hit, remembered so that it can be taken back."""

    bucket: str
    key: str
    resets_at: datetime


async def spend(pool: asyncpg.Pool, limit: Limit, key: str) -> Hit:
    """Count a hit on `key`; raise RateLimited when it goes over the limit."""
    row = await store.count_hit(pool, limit.bucket, key, limit.period)
    if row["hits"] > limit.limit:
        raise RateLimited(row["retry_after"])
    return Hit(limit.bucket, key, row["resets_at"])


async def take_back(pool: asyncpg.Pool, hits: Iterable[Hit]) -> None:
    for hit in hits:
        await store.take_back_hit(pool, hit.bucket, hit.key, hit.resets_at)


def client_address(request: web.Request) -> str:
    """The address limits count the request against.

    The peer's address, or with `trust_proxy` the right-most X-Forwarded-For entry (the one our
    own proxy appended; entries to its left are whatever the client sent). IPv6 clients usually
    hold a whole /64, so they are counted by that network, as Mastodon does.
    """
    value = request.remote or ""
    if request.app[CONFIG].trust_proxy:
        forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
        value = forwarded.rpartition(",")[2].strip() or value
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return value or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _login_key(login: str) -> str:
    """The login name's counter key: hashed, as people sometimes type a password there."""
    return hashlib.sha256(login.lower().encode()).hexdigest()


async def spend_sign_in(request: web.Request, login: str) -> list[Hit]:
    """Count a sign-in attempt against the client's address, then against the login name.

    An attempt the address limit refuses does not count against the name.
    """
    pool = request.app[POOL]
    by_address = await spend(pool, LOGIN_PER_IP, client_address(request))
    by_name = await spend(pool, LOGIN_PER_NAME, _login_key(login))
    return [by_address, by_name]
