"""Follow, Accept and Reject: a remote actor following a member, and answers to members'
follows of remote actors. Whether a follow needs approval is `services.follows`'s decision."""

from __future__ import annotations

from typing import Any

from federation import remote_accounts
from federation.context import Federation
from server.inbox.dispatch import OK, Activity, Dispatcher, ignored
from server.inbox.handlers.common import known_account, local_account, reference, type_of
from server.usecases import follows
from storage import follows as follow_store
from storage import remote_relations as relation_store


async def on_follow(fed: Federation, activity: Activity) -> str:
    target = await local_account(fed, reference(activity.object))
    if target is None:
        return ignored("the followed actor is not a local account")
    if target["actor_type"] == "Application":
        return ignored("the instance actor cannot be followed")
    follower = await remote_accounts.resolve_actor(fed, activity.actor_uri)
    await follows.follow(fed.pool, follower["id"], target["id"], uri=activity.uri)
    return OK


async def _our_request(fed: Federation, activity: Activity) -> tuple[int, int] | None:
    """(local requester, remote target) of the pending Follow that an Accept or Reject answers:
    by the Follow's id, else by who followed whom."""
    remote = await known_account(fed, activity.actor_uri)
    if remote is None:
        return None
    follow_uri = reference(activity.object)
    request = await relation_store.get_follow_request_by_uri(fed.pool, follow_uri or "")
    if request is not None and request["target_account_id"] == remote["id"]:
        return request["account_id"], remote["id"]
    if type_of(activity.object) == "Follow":
        follower = await local_account(fed, reference(activity.object.get("actor")))
        if follower is not None and reference(activity.object.get("object")) == remote["uri"]:
            return follower["id"], remote["id"]
    return None


async def on_accept(fed: Federation, activity: Activity) -> str:
    pair = await _our_request(fed, activity)
    if pair is None:
        return ignored("no follow of ours to accept")
    requester_id, target_id = pair
    if await follow_store.get_follow_request(fed.pool, requester_id, target_id) is None:
        return ignored("already accepted")
    await follows.authorize_follow_request(fed.pool, target_id, requester_id)
    return OK


async def on_reject(fed: Federation, activity: Activity) -> str:
    pair = await _our_request(fed, activity)
    if pair is None:
        return ignored("no follow of ours to reject")
    requester_id, target_id = pair
    if await follow_store.get_follow_request(fed.pool, requester_id, target_id) is not None:
        await follows.reject_follow_request(fed.pool, target_id, requester_id)
    else:  # an accepted follow the remote side has now ended
        await follows.unfollow(fed.pool, requester_id, target_id)
    return OK


async def undo_follow(fed: Federation, activity: Activity, follow: dict[str, Any]) -> str:
    follower = await known_account(fed, activity.actor_uri)
    target = await local_account(fed, reference(follow.get("object")))
    if follower is None or target is None:
        return ignored("no such follow")
    await follows.unfollow(fed.pool, follower["id"], target["id"])
    return OK


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Follow", on_follow)
    dispatcher.add("Accept", on_accept)
    dispatcher.add("Reject", on_reject)
