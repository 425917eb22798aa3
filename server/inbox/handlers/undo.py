"""Undo of a Follow, Like, Announce or Block, handed to the family that made it.

The undone activity may be embedded or named by id only; then Kith's own copy (stored when it
arrived) says what it was. Either way it must be the same actor's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from federation.context import Federation
from server.inbox.dispatch import Activity, Dispatcher, ignored, refused
from server.inbox.handlers import blocks, follows, interactions
from server.inbox.handlers.common import reference
from storage import inbox as inbox_store

Undoer = Callable[[Federation, Activity, dict[str, Any]], Awaitable[str]]

UNDOERS: dict[str, Undoer] = {
    "Follow": follows.undo_follow,
    "Like": interactions.undo_like,
    "Announce": interactions.undo_announce,
    "Block": blocks.undo_block,
}


async def on_undo(fed: Federation, activity: Activity) -> str:
    undone = activity.object
    if not isinstance(undone, dict) or "type" not in undone:
        uri = reference(undone)
        stored = await inbox_store.get_activity_by_uri(fed.pool, uri) if uri else None
        if stored is None:
            return ignored("undoes an activity Kith never received")
        undone = stored["payload"]
    if reference(undone.get("actor")) not in (None, activity.actor_uri):
        return refused("undoes another actor's activity")
    undoer = UNDOERS.get(undone.get("type"))
    if undoer is None:
        return ignored(f"undo of unsupported type {undone.get('type')}")
    return await undoer(fed, activity, undone)


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Undo", on_undo)
