"""A vote from another server: a `Create` of a `Note` with a `name` and no content, replying
to a local poll's Question, as Mastodon, Pleroma and Misskey send one per choice.

It is counted by `polls.vote` (once per voter and choice; a redelivery counts nothing) and
never stored as a reply. A voter who may not read the poll's status is refused, like one who
votes in an ended poll or for a second option of a single-choice poll.
"""

from __future__ import annotations

from federation.context import Federation
from federation.errors import KithError
from federation.parse.notes import ParsedNote
from server.inbox.dispatch import OK, ignored, refused
from server.inbox.handlers.common import live_status
from server.usecases import polls
from server.usecases.actors import Actor


async def as_vote(fed: Federation, actor: Actor, note: ParsedNote, name: object) -> str | None:
    """The outcome of `note` as a vote in a local poll; None when it is not one (a reply)."""
    if note.type != "Note" or note.content or not isinstance(name, str) or not name:
        return None
    status = await live_status(fed, note.in_reply_to)
    if status is None or not status["local"]:
        return None
    choice = await polls.choice_named(fed.pool, status["id"], name)
    if choice is None:
        return None
    poll_id, index = choice
    try:
        voted = await polls.vote(fed.pool, actor, poll_id, [index], uri=note.uri)
    except KithError as exc:
        return refused(exc.message)
    return OK if voted.counted else ignored("vote already counted")
