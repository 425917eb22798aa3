"""The federation gate: may this instance take anything from, or send anything to, a host?

Every way in calls `check_incoming` before it stores or even fetches anything (the inbox, with
the actor's host and the signing key's host; `fetch.py`, for every hop), and the one way out,
`delivery.deliver`, drops the inboxes `refused_hosts` names. So the rules live here once:

- a host under a suspended domain (the domain itself or any subdomain) is refused;
- in allowlist mode (`instance_settings.federation_mode` = "allowlist") a host no allow covers
  is refused too;
- anything else passes, with the most specific block (silence, noop with reject_media...) for
  callers that want to limit what they take.

`check_incoming` asks the database every time. The inbox, which calls it on every POST, goes
through a process's `GateCache` instead: decisions per host, dropped the moment any process
changes a block, an allow or the federation mode (migration 0011's triggers NOTIFY `kith_gate`;
the cache LISTENs). While it is not listening (not started, or its connection was lost) it
caches nothing. A decision can only be stale for the instant between a change's commit and its
notification's arrival; the worker screens every activity again, uncached, before anything of
it is stored (`federation/policies/domain_block.py`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from federation.parse.actors import authority
from storage import domain_blocks as store
from storage.db import Executor

log = logging.getLogger(__name__)


class Refused(Exception):
    """The host may not federate with this instance; `reason` says why (safe to log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class GateDecision:
    """A host that passed, and the block that limits it (None: no block applies)."""

    host: str
    severity: str | None = None
    reject_media: bool = False
    reject_reports: bool = False


def decide(host: str, *, allowlist: bool, allowed: bool, block: dict | None) -> GateDecision:
    """The pure rule, given what the database says about `host`; raises `Refused`."""
    if block is not None and block["severity"] == "suspend":
        raise Refused(f"{host} is suspended (domain block on {block['domain']})")
    if allowlist and not allowed:
        raise Refused(f"{host} is not on this instance's allowlist")
    if block is None:
        return GateDecision(host)
    return GateDecision(
        host,
        severity=block["severity"],
        reject_media=block["reject_media"],
        reject_reports=block["reject_reports"],
    )


async def check_incoming(db: Executor, host: str) -> GateDecision:
    """Whether `host` (a host name, with or without a port) may send or serve us anything."""
    row = await store.policy(db, host)
    return decide(host, allowlist=row["allowlist"], allowed=row["allowed"], block=row["block"])


async def check_origins(
    cache: GateCache, db: Executor, urls: Iterable[str | None], *, local_host: str
) -> None:
    """Raise `Refused` when the host of any of `urls` (an actor, the key ids a request names)
    may not federate with us. The URLs may be unverified: this can only refuse, and a forger
    naming a blocked host is refused rather than let in. Unparseable URLs and our own host are
    skipped (the signature and schema checks refuse the former); each host is checked once."""
    hosts: set[str] = set()
    for url in urls:
        try:
            hosts.add(authority(url) if url else "")
        except ValueError:  # a malformed port or address
            continue
    hosts -= {"", local_host.lower()}
    for host in sorted(hosts):
        await cache.check(db, host)


async def refused_hosts(db: Executor, hosts: Iterable[str]) -> set[str]:
    """Those of `hosts` that must receive nothing (the audience gate of `deliver`): the rule of
    `check_incoming`, for all of them in one query."""
    refused: set[str] = set()
    for host, row in (await store.policies(db, sorted(set(hosts)))).items():
        try:
            decide(host, allowlist=row["allowlist"], allowed=row["allowed"], block=row["block"])
        except Refused:
            refused.add(host)
    return refused


class GateCache:
    """`check_incoming` with the decisions remembered per host while `listening` (see above)."""

    # More hosts than this and the cache starts over (a flood of made-up host names).
    MAX_HOSTS = 10_000

    def __init__(self) -> None:
        self._decisions: dict[str, GateDecision | str] = {}  # a str is a refusal's reason
        self._generation = 0
        self._listening = False

    def __contains__(self, host: str) -> bool:
        return host in self._decisions

    async def check(self, db: Executor, host: str) -> GateDecision:
        """`check_incoming(db, host)`, answered from memory when it can be."""
        decision = self._decisions.get(host)
        if decision is None:
            generation = self._generation
            try:
                decision = await check_incoming(db, host)
            except Refused as exc:
                decision = exc.reason
            # Keep it only if nothing changed while the database was asked.
            if self._listening and generation == self._generation:
                if len(self._decisions) >= self.MAX_HOSTS:
                    self._decisions.clear()
                self._decisions[host] = decision
        if isinstance(decision, str):
            raise Refused(decision)
        return decision

    def forget(self) -> None:
        """Drop every decision (something they depend on changed)."""
        self._generation += 1
        self._decisions.clear()

    def _lost(self) -> None:
        log.warning("gate: the connection listening for block changes was lost; not caching")
        self._listening = False
        self.forget()

    @asynccontextmanager
    async def listening(self, pool: asyncpg.Pool) -> AsyncIterator[None]:
        """Cache while the block lasts, listening for changes on a connection of `pool`."""
        async with store.changes(pool, self.forget, self._lost):
            self._listening = True
            try:
                yield
            finally:
                self._listening = False
                self.forget()
