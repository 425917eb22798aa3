"""Queueing an activity for delivery, inside the transaction of the write that caused it.

The body is serialised and digested once, however many inboxes receive it: every recipient gets
the same bytes, and the job for each inbox only signs and sends. Because the rows and jobs are
written on the caller's connection, a write that rolls back sends nothing.

This is also the one gate every outgoing activity passes, so the local-only rule lives here:
an activity about a local-only status is refused whoever built it. It is the audience gate too:
inboxes on hosts the federation gate refuses (suspended domains; in allowlist mode, every domain
not allowed) are dropped here, so no service can send to them, whatever audience it computed.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from federation import gate
from federation.delivery import hosts
from storage import deliveries as store
from storage import jobs
from storage.db import Conn

log = logging.getLogger(__name__)

QUEUE = "deliver"


async def deliver(
    conn: Conn, *, actor_id: int, activity: dict[str, Any], inboxes: Iterable[str]
) -> int:
    """Queue `activity`, by the local account `actor_id`, for each distinct remote inbox;
    return how many deliveries were queued.

    Inboxes on the actor's own server are dropped (local recipients already have what they
    need), so are inboxes the federation gate refuses, and so is everything when the activity
    concerns a local-only status.
    """
    targets = _remote_targets(activity, inboxes)
    refused = await gate.refused_hosts(conn, {host for _, host in targets})
    targets = [(inbox, host) for inbox, host in targets if host not in refused]
    if not targets:
        return 0
    if await store.any_local_only(conn, _object_uris(activity)):
        log.warning("refused to deliver %s: it concerns a local-only status", activity.get("id"))
        return 0
    body = orjson.dumps(activity)
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    activity_id = await store.insert_activity(
        conn, uri=activity["id"], actor_id=actor_id, body=body, digest=digest
    )
    queued = await store.insert_deliveries(conn, activity_id, targets)
    resting = await hosts.unavailable(conn, list({host for _, host in queued}))
    now = [{"delivery_id": d} for d, host in queued if host not in resting]
    later = [{"delivery_id": d} for d, host in queued if host in resting]
    if now:
        await jobs.enqueue_many(conn, QUEUE, now)
    if later:
        await jobs.enqueue_many(
            conn, QUEUE, later, run_at=datetime.now(UTC) + hosts.UNAVAILABLE_RETRY
        )
    return len(queued)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), hosts.host_of(url)


def _remote_targets(activity: dict[str, Any], inboxes: Iterable[str]) -> list[tuple[str, str]]:
    """Distinct http(s) inboxes not on the actor's server, each with its host."""
    local = _origin(activity["actor"])
    targets: dict[str, str] = {}
    for inbox in inboxes:
        scheme, host = _origin(inbox)
        if scheme in ("http", "https") and host and (scheme, host) != local:
            targets.setdefault(inbox, host)
    return list(targets.items())


def _object_uris(activity: dict[str, Any]) -> list[str]:
    """The ids of the activity and of every object it wraps (an Undo of an Announce of a Note)."""
    uris: list[str] = []
    node: Any = activity
    while node is not None:
        if isinstance(node, str):
            uris.append(node)
            break
        if not isinstance(node, dict):
            break
        if isinstance(node.get("id"), str):
            uris.append(node["id"])
        node = node.get("object")
    return uris
