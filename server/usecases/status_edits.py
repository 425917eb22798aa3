"""Editing a status: the previous version is kept, the text is composed again, and the people
who boosted it or are newly mentioned hear of it.

An edit's mentions replace the old ones (`update_mentions`, also applied to remote edits): whoever
is no longer mentioned loses what the mention gave them. They can no longer read a direct post
(`storage.visibility.readable_by` goes by the mention rows), their mention notification is
withdrawn and the post leaves their home feed when they may no longer read it. Remote servers
get the Update only when still in the audience; those that drop out of a followers-only or
direct post's audience get a Delete instead (`outbox.status_edited`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from federation import outbox
from federation.errors import not_found
from federation.urls import LocalUrls
from server.usecases.composition import compose
from server.usecases.statuses import check_text, valid_language
from storage import notifications as notification_store
from storage import status_edits as edit_store
from storage import statuses as status_store
from storage import tags as tag_store

Row = Mapping[str, Any]


async def edit_status(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    *,
    account_id: int,
    status_id: int,
    text: str,
    spoiler_text: str,
    sensitive: bool,
    language: str | None,
) -> asyncpg.Record:
    """Replace the text of one of `account_id`'s statuses; return the edited status.

    Someone else's status, or a boost, is "not found". Visibility and reply target cannot change,
    as in Mastodon.
    """
    text = text.strip()
    spoiler_text = spoiler_text.strip()
    async with pool.acquire() as conn, conn.transaction():
        status = await status_store.lock_status(conn, status_id)
        if status is None or status["account_id"] != account_id or status["reblog_of_id"]:
            raise not_found()
        check_text(text, spoiler_text, status["visibility"])
        await edit_store.keep_version(
            conn,
            status_id=status_id,
            content=status["content"],
            spoiler_text=status["spoiler_text"],
            sensitive=status["sensitive"],
            created_at=status["edited_at"] or status["created_at"],
        )
        composed = await compose(conn, urls, text)
        edited = await edit_store.rewrite_status(
            conn,
            status_id=status_id,
            content=composed.html,
            text=text,
            spoiler_text=spoiler_text,
            sensitive=sensitive or bool(spoiler_text),
            language=valid_language(language) if language else status["language"],
        )
        await edit_store.detach_tags(conn, status_id)
        tags = await tag_store.upsert_tags(conn, composed.tags)
        await tag_store.attach_tags(conn, status_id, [tag["id"] for tag in tags])
        reached = await outbox.status_reach(conn, status)
        await update_mentions(conn, edited, composed.mentioned_ids, [])
        for booster_id in await edit_store.local_reblogger_ids(conn, status_id):
            await notification_store.notify(
                conn,
                account_id=booster_id,
                from_account_id=account_id,
                type="update",
                status_id=status_id,
            )
        await outbox.status_edited(conn, urls, edited, reached_before=reached)
        return edited


async def update_mentions(
    conn: asyncpg.Connection, status: Row, named_ids: list[int], silent_ids: list[int]
) -> None:
    """Give an edited status (local or remote) exactly these mentions: `named_ids`, and
    `silent_ids` addressed without being named.

    Newly mentioned readers are notified; accounts no longer mentioned lose their mention
    notification, and the status leaves their home feed when they may no longer read it.
    """
    status_id, author_id = status["id"], status["account_id"]
    before = await edit_store.existing_mentions(conn, status_id)
    removed = await edit_store.replace_mentions(conn, status_id, named_ids, silent_ids)
    for account_id in removed:
        await notification_store.withdraw(
            conn,
            account_id=account_id,
            from_account_id=author_id,
            type="mention",
            status_id=status_id,
        )
    await edit_store.drop_unreadable_from_home(conn, status_id, removed)
    for reader_id in set(await status_store.mentioned_readers(conn, status_id)) - before:
        await notification_store.notify(
            conn,
            account_id=reader_id,
            from_account_id=author_id,
            type="mention",
            status_id=status_id,
        )


async def version_history(pool: asyncpg.Pool, status: asyncpg.Record) -> list[dict[str, object]]:
    """Every version of a status, oldest first, the current one last."""
    earlier = await edit_store.list_versions(pool, status["id"])
    current = {
        "content": status["content"],
        "spoiler_text": status["spoiler_text"],
        "sensitive": status["sensitive"],
        "created_at": status["edited_at"] or status["created_at"],
    }
    return [dict(row) for row in earlier] + [current]
