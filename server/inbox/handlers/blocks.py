"""Block by a remote actor of a member: the block is kept (so the member's posts are not sent
to it) and follows between the two end, through `services.blocks`."""

from __future__ import annotations

from typing import Any

from federation import remote_accounts
from federation.context import Federation
from server.inbox.dispatch import OK, Activity, Dispatcher, ignored
from server.inbox.handlers.common import known_account, local_account, reference
from server.usecases import blocks
from storage import follows as follow_store


async def on_block(fed: Federation, activity: Activity) -> str:
    if activity.payload.get("target") is not None:
        return ignored("a ban from a community (Lemmy), not a block")
    target = await local_account(fed, reference(activity.object))
    if target is None:
        return ignored("the blocked actor is not a local account")
    blocker = await remote_accounts.resolve_actor(fed, activity.actor_uri)
    await blocks.block(fed.pool, blocker["id"], target["id"], uri=activity.uri)
    return OK


async def undo_block(fed: Federation, activity: Activity, block: dict[str, Any]) -> str:
    blocker = await known_account(fed, activity.actor_uri)
    target = await local_account(fed, reference(block.get("object")))
    if (
        blocker is None
        or target is None
        or not await follow_store.is_blocking(fed.pool, blocker["id"], target["id"])
    ):
        return ignored("no such block")
    await blocks.unblock(fed.pool, blocker["id"], target["id"])
    return OK


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Block", on_block)
