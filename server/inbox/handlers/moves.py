"""Move: an actor says it now lives at another address.

The new actor must name the old one in its `alsoKnownAs` (as served by its own origin), else
anyone could claim anyone's followers. Kith records the move on the old account; moving local
followers over is not done yet, and is logged.
"""

from __future__ import annotations

import logging

from federation import remote_accounts
from federation.context import Federation
from federation.fetch import fetch_object
from federation.parse.notes import audience
from server.inbox.dispatch import OK, Activity, Dispatcher, ignored, refused
from server.inbox.handlers.common import known_account, reference
from storage import remote_relations as relation_store

log = logging.getLogger(__name__)


async def on_move(fed: Federation, activity: Activity) -> str:
    if reference(activity.object) != activity.actor_uri:
        return refused("an actor can only move itself")
    old = await known_account(fed, activity.actor_uri)
    if old is None:
        return ignored("unknown actor")
    target_uri = reference(activity.payload.get("target"))
    if target_uri is None:
        return refused("no target")
    doc = await fetch_object(fed, target_uri)
    if activity.actor_uri not in audience(doc.get("alsoKnownAs")):
        return refused("the target does not list the actor in alsoKnownAs")
    new = await remote_accounts.store_actor(fed, doc)
    await relation_store.set_moved_to(fed.pool, old["id"], new["id"])
    log.info("inbox: %s moved to %s; local followers are not migrated yet", old["uri"], new["uri"])
    return OK


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Move", on_move)
