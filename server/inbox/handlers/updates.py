"""Update: an edited post, or an actor's changed profile.

A profile is taken from the activity itself only when it is the signed actor's own document; a
post only when it is the actor's own post, and is edited by `status_edits.edit_status`, as a
member's post is.
"""

from __future__ import annotations

from federation import remote_accounts
from federation.context import Federation
from federation.parse.actors import authority
from federation.parse.notes import POST_TYPES, NoteError, parse_note
from server.inbox.dispatch import OK, Activity, Dispatcher, carried_out, ignored, refused
from server.inbox.handlers.common import known_account, live_status, type_of
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
    actor = Actor.remote(author["id"], activity.uri)
    return await carried_out(edit_status(fed.pool, fed.urls, actor, status["id"], edit))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Update", on_update)
