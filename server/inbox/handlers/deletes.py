"""Delete: a post (by reference or as a Tombstone), or the actor itself.

A post is deleted by `statuses.delete_status`, as a member's post is. Only accounts Kith already
knows are considered: a deleted actor cannot be fetched, and nothing of an unknown one is
stored.
"""

from __future__ import annotations

from federation.context import Federation
from server.inbox.dispatch import OK, Activity, Dispatcher, carried_out, ignored
from server.inbox.handlers.common import known_account, live_status, reference
from server.usecases.actors import Actor
from server.usecases.remote_statuses import delete_account_content
from server.usecases.statuses import delete_status


async def on_delete(fed: Federation, activity: Activity) -> str:
    author = await known_account(fed, activity.actor_uri)
    if author is None or author["domain"] is None:
        return ignored("unknown actor")
    target = reference(activity.object)
    if target == activity.actor_uri:
        await delete_account_content(fed, author)
        return OK
    status = await live_status(fed, target)
    if status is None:
        return ignored("unknown status")
    actor = Actor.remote(author["id"], activity.uri)
    return await carried_out(delete_status(fed.pool, actor, status["id"]))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Delete", on_delete)
