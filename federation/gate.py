"""The federation gate: may this instance take anything from, or send anything to, a host?

Every way in calls `check_incoming` before it stores or even fetches anything (the inbox, with
the actor's host and the signing key's host; `fetch.py`, for every hop), and the one way out,
`delivery.deliver`, drops the inboxes `refused_hosts` names. So the rules live here once:

- a host under a suspended domain (the domain itself or any subdomain) is refused;
- in allowlist mode (`instance_settings.federation_mode` = "allowlist") a host no allow covers
  is refused too;
- anything else passes, with the most specific block (silence, noop with reject_media...) for
  callers that want to limit what they take.

There is no cache: the check is one indexed query, and a cache would have to be invalidated
across the web and worker processes the moment an admin suspends a domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from storage import domain_blocks as store

Executor = asyncpg.Pool | asyncpg.Connection


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
