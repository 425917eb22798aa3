"""Create: a post (Note, Question, Article, Page, Event, ...) written on another server."""

from __future__ import annotations

from federation import remote_accounts
from federation.context import Federation
from federation.fetch import fetch_object
from federation.parse.actors import authority
from federation.parse.notes import POST_TYPES, NoteError, parse_note
from server.inbox.dispatch import OK, Activity, Dispatcher, ignored, refused
from server.inbox.handlers.common import reference, type_of
from server.usecases import remote_statuses


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
    stored = await remote_statuses.store_note(fed, note, author)
    if stored.refused is not None:
        return refused(stored.refused)
    return OK if stored.created else ignored(stored.skipped or "already stored")


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Create", on_create)
