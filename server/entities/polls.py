"""Poll records to Mastodon `Poll` entities.

While a poll hides its totals and runs, each option's `votes_count` is null (Mastodon's
`hide_totals`); `voted` and `own_votes` are the viewer's, and only for a signed-in viewer.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from server.entities.common import iso
from storage import polls as poll_store
from storage.db import Executor, Row


async def render_polls(
    db: Executor, status_ids: list[int], viewer_id: int | None
) -> dict[int, dict[str, Any]]:
    """The polls of those statuses that have one, by status id, with the viewer's votes: two
    queries for a whole page of statuses."""
    rows = await poll_store.polls_of(db, status_ids)
    if not rows:
        return {}
    mine: dict[int, list[int]] = defaultdict(list)
    if viewer_id is not None:
        for vote in await poll_store.own_votes(db, viewer_id, [row["id"] for row in rows]):
            mine[vote["poll_id"]].append(vote["choice"])
    return {
        row["status_id"]: render_poll(
            row,
            mine[row["id"]] if viewer_id is not None else None,
            own_poll=row["author_id"] == viewer_id,
        )
        for row in rows
    }


def render_poll(poll: Row, own_choices: list[int] | None, *, own_poll: bool) -> dict[str, Any]:
    """`own_choices`: the viewer's choices (empty when it did not vote), None for a visitor.
    The author counts as having voted in their own poll, as in Mastodon (clients then show
    the results instead of the choices)."""
    shown = poll["expired"] or not poll["hide_totals"]
    entity: dict[str, Any] = {
        "id": str(poll["id"]),
        "expires_at": iso(poll["expires_at"]),
        "expired": poll["expired"],
        "multiple": poll["multiple"],
        "votes_count": poll["votes_count"],
        "voters_count": poll["voters_count"],
        "options": [
            {"title": option["title"], "votes_count": option["votes_count"] if shown else None}
            for option in poll["options"]
        ],
        "emojis": [],
    }
    if own_choices is not None:
        entity["voted"] = own_poll or bool(own_choices)
        entity["own_votes"] = own_choices
    return entity
