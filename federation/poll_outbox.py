"""What other servers hear about polls: a member's vote on a remote poll, and a local poll's
results. Like `federation.outbox`, each function runs in the use case's transaction and queues
its activities with `deliver`, so they go out exactly when the vote or the count commits.
"""

from __future__ import annotations

from federation.delivery import audience, deliver
from federation.render import activities
from federation.render.context import AS
from federation.render.objects import load_note_parts, render_note
from federation.urls import LocalUrls
from storage import accounts as account_store
from storage import deliveries as delivery_store
from storage import polls as poll_store
from storage.db import Conn, Row


def render_vote(voter_uri: str, poll_id: int, choice: int, title: str, question: Row) -> dict:
    """One choice of a vote as Mastodon sends it: a Create of a `Note` named after the option,
    replying to the Question, addressed to its author only. Its id is stable per voter, poll
    and choice, so the receiver recognises a redelivery."""
    note_id = f"{voter_uri}#votes/{poll_id}/{choice}"
    to = [question["author_uri"]]
    return {
        "@context": AS,
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": voter_uri,
        "to": to,
        "object": {
            "id": note_id,
            "type": "Note",
            "name": title,
            "attributedTo": voter_uri,
            "inReplyTo": question["uri"],
            "to": to,
        },
    }


async def voted(
    conn: Conn, voter_id: int, status: Row, poll: Row, choices: list[int], author_uri: str
) -> None:
    """A local member's vote on a remote poll: one Create per choice, to the poll's author."""
    voter = await account_store.get_local_account_with_keys(conn, voter_id)
    if voter is None or status["local"]:
        return
    inboxes = await audience.account(conn, status["account_id"])
    question = {"uri": status["uri"], "author_uri": author_uri}
    for choice in choices:
        title = poll["options"][choice]["title"]
        activity = render_vote(voter["uri"], poll["id"], choice, title, question)
        await deliver(conn, actor_id=voter_id, activity=activity, inboxes=inboxes)


async def results_changed(conn: Conn, urls: LocalUrls, status: Row, poll_id: int) -> None:
    """Update(Question) of a local poll with its counts as they are now, to the status's
    audience and to every remote voter (who may not follow its author)."""
    author = await account_store.get_local_account_with_keys(conn, status["account_id"])
    if author is None:
        return
    voters = await poll_store.voter_ids(conn, poll_id, local=False)
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
