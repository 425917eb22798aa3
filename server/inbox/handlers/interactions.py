"""Like and Announce by remote actors, and their undoing: the same use cases as a member's
favourites and boosts through the client API (`server.usecases.favourites` and `.boosts`).

As in Mastodon, a Like counts only on a local status (remote counts are the remote server's
business). A boost of a post Kith does not have is fetched from the post's origin, but only when
someone here follows the booster: otherwise nobody would see it.
"""

from __future__ import annotations

from typing import Any

from federation import remote_accounts
from federation.context import Federation
from federation.fetch import fetch_object
from federation.parse.notes import PUBLIC, NoteError, audience
from server.inbox.dispatch import OK, Activity, Dispatcher, carried_out, ignored, refused
from server.inbox.handlers.common import known_account, live_status, reference, type_of
from server.usecases import boosts, favourites, remote_statuses
from server.usecases.actors import Actor
from storage import remote_statuses as status_store


async def on_like(fed: Federation, activity: Activity) -> str:
    status = await live_status(fed, reference(activity.object))
    if status is None or not status["local"]:
        return ignored("not a local status")
    account = await remote_accounts.resolve_actor(fed, activity.actor_uri)
    await favourites.favourite(fed.pool, Actor.remote(account["id"], activity.uri), status["id"])
    return OK


async def on_announce(fed: Federation, activity: Activity) -> str:
    obj = activity.object
    if type_of(obj) in {"Create", "Update", "Delete", "Like", "Dislike", "Undo", "Announce"}:
        return ignored("an announced activity (a group relaying), not a post")
    uri = reference(obj)
    if uri is None:
        return refused("no object")
    booster = await remote_accounts.resolve_actor(fed, activity.actor_uri)
    status = await live_status(fed, uri)
    if status is None:
        if not await status_store.has_local_followers(fed.pool, booster["id"]):
            return ignored("nobody here follows the booster")
        try:
            status = await remote_statuses.store_fetched_note(fed, await fetch_object(fed, uri))
        except NoteError as exc:
            return refused(f"the boosted object: {exc}")
    to, cc = audience(activity.payload.get("to")), audience(activity.payload.get("cc"))
    # Unlisted when the public is only cc'd, else public: a remote boost is never followers-only.
    visibility = "unlisted" if PUBLIC & set(cc) and not PUBLIC & set(to) else "public"
    actor = Actor.remote(booster["id"], activity.uri)
    await boosts.reblog(fed.pool, fed.urls, actor, status["id"], visibility=visibility)
    return OK


async def undo_like(fed: Federation, activity: Activity, like: dict[str, Any]) -> str:
    account = await known_account(fed, activity.actor_uri)
    if account is None:
        return ignored("unknown actor")
    status = await live_status(fed, reference(like.get("object")))
    return await carried_out(
        favourites.unfavourite(
            fed.pool,
            Actor.remote(account["id"], activity.uri),
            status["id"] if status else None,
            like_uri=reference(like),
        )
    )


async def undo_announce(fed: Federation, activity: Activity, announce: dict[str, Any]) -> str:
    account = await known_account(fed, activity.actor_uri)
    if account is None:
        return ignored("unknown actor")
    status = await live_status(fed, reference(announce.get("object")))
    return await carried_out(
        boosts.unreblog(
            fed.pool,
            Actor.remote(account["id"], activity.uri),
            status["id"] if status else None,
            announce_uri=reference(announce),
        )
    )


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Like", on_like)
    dispatcher.add("Announce", on_announce)
