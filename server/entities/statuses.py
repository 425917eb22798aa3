"""Status records to Mastodon `Status` entities, rendered in batches.

Timelines render twenty or forty statuses at a time; everything a status entity needs (authors,
boosted originals, mentions, tags, applications, the viewer's own interactions) is loaded with one
query per kind for the whole batch, never per status.

The rows given are statuses the viewer may read; a boost among them is rendered only when the
viewer may read its original too (`storage.visibility.readable_by`), and is left out otherwise,
so that no path can embed a local-only, followers-only or direct post in a boost.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg

from federation.content import tag_path
from federation.errors import not_found
from federation.urls import LocalUrls
from server.entities.accounts import acct, render_account
from server.entities.common import iso
from server.entities.media import render_attachment
from server.entities.polls import render_polls
from storage import accounts as account_store
from storage import statuses as status_store
from storage.db import Executor


async def render_statuses(
    db: Executor,
    rows: list[asyncpg.Record],
    urls: LocalUrls,
    viewer_id: int | None,
    *,
    source: bool = False,
) -> list[dict[str, Any]]:
    """Render `rows` in order, each with its boosted original embedded as `reblog`; a boost of
    an original the viewer may not read is left out.

    With `source`, each top-level status also carries the `text` its author typed (Mastodon sends
    it when a status is deleted, so that a client can redraft it).
    """
    reblog_ids = [r["reblog_of_id"] for r in rows if r["reblog_of_id"] is not None]
    originals = (
        await status_store.get_readable_statuses(db, reblog_ids, viewer_id) if reblog_ids else {}
    )
    rows = [r for r in rows if r["reblog_of_id"] is None or r["reblog_of_id"] in originals]
    if not rows:
        return []
    everything = [*rows, *originals.values()]
    status_ids = [s["id"] for s in everything]

    accounts = await account_store.get_accounts(db, [s["account_id"] for s in everything])
    mentions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for m in await status_store.mentions_of(db, status_ids):
        mentions[m["status_id"]].append(
            {
                "id": str(m["account_id"]),
                "username": m["username"],
                "url": m["url"] or m["uri"],
                "acct": acct(m),
            }
        )
    media: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await status_store.attachments_of(db, status_ids):
        media[row["status_id"]].append(render_attachment(row, urls))
    tags: dict[int, list[dict[str, str]]] = defaultdict(list)
    for t in await status_store.tags_of(db, status_ids):
        tags[t["status_id"]].append({"name": t["name"], "url": urls.tag(tag_path(t["name"]))})
    app_ids = [s["application_id"] for s in everything if s["application_id"] is not None]
    applications = await status_store.applications_of(db, app_ids) if app_ids else {}
    interactions = (
        await status_store.viewer_interactions(db, viewer_id, status_ids)
        if viewer_id is not None
        else None
    )
    rendered_accounts = {aid: render_account(a, urls) for aid, a in accounts.items()}
    polls = await render_polls(db, status_ids, viewer_id)

    def one(status: asyncpg.Record) -> dict[str, Any]:
        app = applications.get(status["application_id"])
        entity: dict[str, Any] = {
            "id": str(status["id"]),
            "uri": status["uri"],
            "url": status["url"],
            "created_at": iso(status["created_at"]),
            "account": rendered_accounts[status["account_id"]],
            "content": status["content"],
            "visibility": status["visibility"],
            "local_only": status["local_only"],
            "sensitive": status["sensitive"],
            "spoiler_text": status["spoiler_text"],
            "media_attachments": media.get(status["id"], []),
            "application": {"name": app["name"], "website": app["website"]} if app else None,
            "mentions": mentions.get(status["id"], []),
            "tags": tags.get(status["id"], []),
            "emojis": [],
            "reblogs_count": status["reblogs_count"],
            "favourites_count": status["favourites_count"],
            "replies_count": status["replies_count"],
            "in_reply_to_id": _id_or_none(status["in_reply_to_id"]),
            "in_reply_to_account_id": _id_or_none(status["in_reply_to_account_id"]),
            "reblog": None,
            "poll": polls.get(status["id"]),
            "card": None,
            "language": status["language"],
            "edited_at": iso(status["edited_at"]),
            "filtered": [],
        }
        if interactions is not None:
            entity["favourited"] = status["id"] in interactions["favourited"]
            entity["reblogged"] = status["id"] in interactions["reblogged"]
            entity["bookmarked"] = status["id"] in interactions["bookmarked"]
            entity["muted"] = False
            entity["pinned"] = False
        return entity

    result = []
    for row in rows:
        entity = one(row)
        if source:
            entity["text"] = row["text"]
        if row["reblog_of_id"] is not None:
            entity["reblog"] = one(originals[row["reblog_of_id"]])
            if interactions is not None:
                entity["reblogged"] = entity["reblog"]["reblogged"]
                entity["favourited"] = entity["reblog"]["favourited"]
        result.append(entity)
    return result


async def render_status(
    db: Executor,
    row: asyncpg.Record,
    urls: LocalUrls,
    viewer_id: int | None,
    *,
    source: bool = False,
) -> dict[str, Any]:
    """Render one status; a boost of an original the viewer may not read is not found (404)."""
    rendered = await render_statuses(db, [row], urls, viewer_id, source=source)
    if not rendered:
        raise not_found()
    return rendered[0]


def _id_or_none(value: int | None) -> str | None:
    return str(value) if value is not None else None
