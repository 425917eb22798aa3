"""The inbox: activities are verified and stored by `receive`, then processed here, in the worker.

The "inbox" job carries the stored activity's id; processing dispatches it by type and records
what came of it (`outcome`, `processed_at`), so an admin can see why an activity did nothing.
A service refusing (`KithError`) or a peer that cannot be fetched (`FetchError`) is a
recorded refusal, not a failed job; anything else unexpected fails the job, which the worker
logs and retries.
"""

from __future__ import annotations

import logging
from typing import Any

from federation.context import Federation
from federation.errors import KithError
from federation.fetch import FetchError
from federation.inbox.receive import QUEUE
from server.inbox.dispatch import Activity, Dispatcher, refused
from server.inbox.handlers import (
    blocks,
    deletes,
    featured,
    flags,
    follows,
    interactions,
    moves,
    notes,
    undo,
    updates,
)
from storage import inbox as inbox_store
from storage.job_handlers import Registry

log = logging.getLogger(__name__)


def build_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher()
    families = (
        follows,
        notes,
        interactions,
        deletes,
        updates,
        blocks,
        flags,
        moves,
        featured,
        undo,
    )
    for family in families:
        family.register(dispatcher)
    return dispatcher


def register(registry: Registry) -> None:
    """Register the "inbox" queue's handler."""
    dispatcher = build_dispatcher()

    async def process(fed: Federation, payload: dict[str, Any]) -> None:
        row = await inbox_store.get_activity(fed.pool, payload["inbox_activity_id"])
        if row is None or row["processed_at"] is not None:
            return
        activity = Activity(
            uri=row["activity_uri"],
            type=row["type"],
            actor_uri=row["actor_uri"],
            payload=row["payload"],
        )
        try:
            outcome = await dispatcher.dispatch(fed, activity)
        except KithError as exc:
            outcome = refused(exc.message)
        except FetchError as exc:
            outcome = refused(f"could not fetch: {exc}")
        log.info(
            "inbox: %s %s from %s: %s", activity.type, activity.uri, activity.actor_uri, outcome
        )
        await inbox_store.record_outcome(fed.pool, row["id"], outcome)

    registry.register(QUEUE, process)
