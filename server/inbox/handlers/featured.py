"""Add and Remove: changes to an actor's featured (pinned) collection, or Lemmy's moderator and
featured-post lists. Kith keeps no pins of remote accounts yet, so these are acknowledged."""

from __future__ import annotations

from federation.context import Federation
from server.inbox.dispatch import Activity, Dispatcher, ignored


async def on_collection_change(fed: Federation, activity: Activity) -> str:
    return ignored("featured collections are not kept yet")


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Add", on_collection_change)
    dispatcher.add("Remove", on_collection_change)
