"""Update: an edited post, or an actor's changed profile.

A profile is taken from the activity itself only when it is the signed actor's own document; a
post only when it is the actor's own post, and is edited by `status_edits.edit_status`, as a
member's post is. A poll's new counts (Mastodon sends an Update of the Question as votes come
in) refresh the poll, and are no edit when the text stayed the same.
"""

from __future__ import annotations

from asyncpg import Record

from federation import remote_accounts
from federation.context import Federation
from federation.parse.actors import authority
from federation.parse.notes import POST_TYPES, NoteError, ParsedNote, parse_note
from server.inbox.dispatch import OK, Activity, Dispatcher, carried_out, ignored, refused
from server.inbox.handlers.common import known_account, live_status, type_of
from server.usecases import polls
from server.usecases.actors import Actor
from server.usecases.remote_statuses import Delivered
from server.usecases.status_edits import edit_status


async def on_update(fed: Federation, activity: Activity) -> str:
    obj = activity.object
    if not isinstance(obj, dict):
        return ignored("an Update without its object")
    if remote_accounts.is_actor(obj):
        if obj.get("id") != activity.actor_uri:
            return refused("an actor can only update its own profile")
        await remote_accounts.store_actor(fed, obj)
        return OK
    if type_of(obj) not in POST_TYPES:
        return ignored(f"unsupported object type {type_of(obj)}")
    try:
        note = parse_note(obj)
    except NoteError as exc:
        return refused(str(exc))
    author = await known_account(fed, activity.actor_uri)
    if (
        author is None
        or note.author_uri != author["uri"]
        or authority(note.uri) != authority(author["uri"])
    ):
        return refused("the post is not the actor's")
    edit = Delivered(note)
    status = await live_status(fed, note.uri)
    if status is None:
        return ignored("unknown status")
    if status["account_id"] != author["id"]:  # before the counts: only the author may change them
        return refused("the post is not the actor's")
    actor = Actor.remote(author["id"], activity.uri)
    if note.poll is not None:
        await polls.refresh_remote(fed.pool, status["id"], note.poll)
        if _same_text(status, note):  # new counts only: not an edit
            return OK
    return await carried_out(edit_status(fed.pool, fed.urls, actor, status["id"], edit))


def _same_text(status: Record, note: ParsedNote) -> bool:
    return (status["content"], status["spoiler_text"], status["sensitive"]) == (
        note.content,
        note.spoiler_text,
        note.sensitive,
    )


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Update", on_update)
