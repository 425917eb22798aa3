"""What other servers hear about polls: a member's vote on a remote poll, and a local poll's
results. Like `federation.outbox`, each function runs in the use case's transaction and queues
its activities with `deliver`, so they go out exactly when the vote or the count commits.
"""

from __future__ import annotations

from typing import Any

from federation.delivery import audience, deliver
from federation.render import activities
from federation.render.context import AS
from federation.render.objects import load_note_parts, render_note
from federation.urls import LocalUrls
from storage import accounts as account_store
from storage import deliveries as delivery_store
from storage import polls as poll_store
from storage.db import Conn, Row


def render_vote(
    voter_uri: str, poll_id: int, choice: int, title: str, question_uri: str, author_uri: str
) -> dict[str, Any]:
    """One choice of a vote as Mastodon sends it: a Create of a `Note` named after the option,
    replying to the Question, addressed to its author only. Its id is stable per voter, poll
    and choice, so the receiver recognises a redelivery."""
    note_id = f"{voter_uri}#votes/{poll_id}/{choice}"
    return {
        "@context": AS,
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": voter_uri,
        "to": [author_uri],
        "object": {
            "id": note_id,
            "type": "Note",
            "name": title,
            "attributedTo": voter_uri,
            "inReplyTo": question_uri,
            "to": [author_uri],
        },
    }


async def voted(conn: Conn, voter_id: int, status: Row, poll: Row, choices: list[int]) -> None:
    """A local member's vote on a remote poll: one Create per choice, to the poll's author."""
    if status["local"]:
        return
    voter = await account_store.get_local_account_with_keys(conn, voter_id)
    author = await account_store.get_account(conn, status["account_id"])
    if voter is None or author is None:
        return
    inboxes = await audience.account(conn, author["id"])
    for choice in choices:
        title = poll["options"][choice]["title"]
        vote = render_vote(voter["uri"], poll["id"], choice, title, status["uri"], author["uri"])
        await deliver(conn, actor_id=voter_id, activity=vote, inboxes=inboxes)


async def results_changed(conn: Conn, urls: LocalUrls, status: Row, poll_id: int) -> None:
    """Update(Question) of a local poll with its counts as they are now, to the status's
    audience and to every remote voter who may still see it (a voter need not follow)."""
    author = await account_store.get_local_account_with_keys(conn, status["account_id"])
    if author is None:
        return
    voters = await poll_store.remote_voters_who_may_see(conn, poll_id, status["id"])
    inboxes = list(
        dict.fromkeys(
            [
                *await audience.for_status(conn, status),
                *await delivery_store.account_inboxes(
                    conn, voters, unless_blocked_by=status["account_id"]
                ),
            ]
        )
    )
    if not inboxes or status["local_only"]:
        return
    parts = await load_note_parts(conn, [status["id"]])
    note = render_note(status, author, parts[status["id"]], urls)
    update = activities.update(note, author["uri"])
    await deliver(conn, actor_id=author["id"], activity=update, inboxes=inboxes)
