"""Delete: a post (by reference or as a Tombstone), or the actor itself.

Only accounts Kith already knows are considered: a deleted actor cannot be fetched, and nothing
of an unknown one is stored.
"""

from __future__ import annotations

from federation.context import Federation
from server.inbox.dispatch import OK, Activity, Dispatcher, ignored
from server.inbox.handlers.common import known_account, reference
from server.usecases import remote_statuses


async def on_delete(fed: Federation, activity: Activity) -> str:
    author = await known_account(fed, activity.actor_uri)
    if author is None or author["domain"] is None:
        return ignored("unknown actor")
    target = reference(activity.object)
    if target == activity.actor_uri:
        await remote_statuses.delete_account_content(fed, author)
        return OK
    why = await remote_statuses.delete_note(fed, target or "", author)
    return OK if why is None else ignored(why)


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Delete", on_delete)
