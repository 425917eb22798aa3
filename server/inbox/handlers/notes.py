"""Create: a post (Note, Question, Article, Page, Event, ...) written on another server.

Stored by `statuses.post_status`, as a member's post is, from the post as delivered; a vote in
a local poll (`poll_votes`) is counted instead.
"""

from __future__ import annotations

from federation import remote_accounts
from federation.context import Federation
from federation.fetch import fetch_object
from federation.parse.actors import authority
from federation.parse.notes import POST_TYPES, NoteError, ParsedNote, parse_note
from server.inbox.dispatch import (
    OK,
    Activity,
    Dispatcher,
    carried_out,
    ignored,
    refused,
)
from server.inbox.handlers.common import reference, type_of
from server.inbox.handlers.poll_votes import as_vote
from server.usecases.actors import Actor
from server.usecases.remote_statuses import Delivered
from server.usecases.statuses import post_status


async def on_create(fed: Federation, activity: Activity) -> str:
    obj = activity.object
    if not isinstance(obj, dict):
        # Only a reference: the post is taken as its origin serves it.
        uri = reference(obj)
        if uri is None:
            return refused("no object")
        obj = await fetch_object(fed, uri)
    if type_of(obj) not in POST_TYPES:
        return ignored(f"unsupported object type {type_of(obj)}")
    try:
        note = parse_note(obj)
    except NoteError as exc:
        return refused(str(exc))
    if note.author_uri != activity.actor_uri:
        return refused("the post is attributed to someone other than the actor")
    if authority(note.uri) != authority(activity.actor_uri):
        return refused("the post's id is not on the actor's server")
    author = await remote_accounts.resolve_actor(fed, activity.actor_uri)
    actor = Actor.remote(author["id"], activity.uri)
    vote = await as_vote(fed, actor, note, obj.get("name"))  # a vote is never a reply
    if vote is not None:
        return vote
    return await carried_out(_post(fed, actor, note))


async def _post(fed: Federation, actor: Actor, note: ParsedNote) -> str:
    posted = await post_status(fed.pool, fed.urls, actor, Delivered(note))
    if posted.created:
        return OK
    return ignored("deleted earlier" if posted.status["deleted_at"] else "already stored")


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Create", on_create)
