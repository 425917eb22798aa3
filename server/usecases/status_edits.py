"""Editing a status, by a member here or by a remote author: one function, `edit_status`.

The previous version is kept, the status is rewritten from a `Revision`, and the people who
boosted it or are newly mentioned hear of it. What differs by direction is only how the
`Revision` is made: `TypedEdit` here composes what a member typed; `remote_statuses.Delivered`
takes the edited post as its author's server sent it.

An edit's mentions replace the old ones: whoever is no longer mentioned loses what the mention
gave them. They can no longer read a direct post (`storage.visibility.readable_by` goes by the
mention rows), their mention notification is withdrawn and the post leaves their home feed when
they may no longer read it. Remote servers get the Update only when still in the audience; those
that drop out of a followers-only or direct post's audience get a Delete instead
(`outbox.status_edited`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from federation import outbox
from federation.errors import not_found
from federation.urls import LocalUrls
from server.usecases.actors import Actor
from server.usecases.composition import compose
from server.usecases.polls import PollDraft, revise_poll
from server.usecases.statuses import check_text, not_the_authors, valid_language
from storage import notifications as notification_store
from storage import status_edits as edit_store
from storage import statuses as status_store
from storage import tags as tag_store
from storage.db import Conn


@dataclass(frozen=True)
class Revision:
    """A status's new version, whichever direction it came from. `mentioned_ids` are the
    accounts it names, `silent_ids` those it is addressed to without naming them."""

    content: str  # HTML
    text: str
    spoiler_text: str
    sensitive: bool
    language: str | None
    mentioned_ids: Sequence[int] = ()
    silent_ids: Sequence[int] = ()
    tags: Sequence[str] = ()
    poll: PollDraft | None = None  # a member's poll as the edit gives it (`polls.revise_poll`)


class Reviser(Protocol):
    """An edit as its author's side gives it."""

    async def revise(self, conn: Conn, urls: LocalUrls, status: asyncpg.Record) -> Revision:
        """The new version of `status`; raises `KithError` when it is not acceptable."""
        ...


async def edit_status(
    pool: asyncpg.Pool, urls: LocalUrls, actor: Actor, status_id: int, edit: Reviser
) -> asyncpg.Record:
    """`actor` edits one of their statuses; return the edited status.

    Someone else's status, or a boost, is "not found". Visibility and reply target cannot
    change, as in Mastodon.
    """
    async with pool.acquire() as conn, conn.transaction():
        status = await status_store.lock_status(conn, status_id)
        if status is None:
            raise not_found()
        if status["account_id"] != actor.account_id or status["reblog_of_id"]:
            raise not_the_authors(actor)
        revision = await edit.revise(conn, urls, status)
        await edit_store.keep_version(
            conn,
            status_id=status_id,
            content=status["content"],
            spoiler_text=status["spoiler_text"],
            sensitive=status["sensitive"],
            created_at=status["edited_at"] or status["created_at"],
        )
        edited = await edit_store.rewrite_status(
            conn,
            status_id=status_id,
            content=revision.content,
            text=revision.text,
            spoiler_text=revision.spoiler_text,
            sensitive=revision.sensitive,
            language=revision.language,
        )
        if revision.poll is not None:
            await revise_poll(conn, edited, revision.poll)
        await edit_store.detach_tags(conn, status_id)
        tags = await tag_store.upsert_tags(conn, list(revision.tags))
        await tag_store.attach_tags(conn, status_id, [tag["id"] for tag in tags])
        # Who was sent the status before the edit: only a local author's activities go out.
        reached = await outbox.status_reach(conn, status) if actor.is_local else []
        await _update_mentions(
            conn, edited, list(revision.mentioned_ids), list(revision.silent_ids)
        )
        for booster_id in await edit_store.local_reblogger_ids(conn, status_id):
            await notification_store.notify(
                conn,
                account_id=booster_id,
                from_account_id=status["account_id"],
                type="update",
                status_id=status_id,
            )
        await outbox.status_edited(conn, urls, edited, reached_before=reached)
        return edited


@dataclass(frozen=True)
class TypedEdit:
    """What a member typed to edit their status, as a `Reviser`. Without a language, the
    status keeps its own; a content warning marks it sensitive."""

    text: str
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    poll: PollDraft | None = None

    async def revise(self, conn: Conn, urls: LocalUrls, status: asyncpg.Record) -> Revision:
        text, spoiler_text = self.text.strip(), self.spoiler_text.strip()
        check_text(text, spoiler_text, status["visibility"])
        composed = await compose(conn, urls, text)
        return Revision(
            content=composed.html,
            text=text,
            spoiler_text=spoiler_text,
            sensitive=self.sensitive or bool(spoiler_text),
            language=valid_language(self.language) if self.language else status["language"],
            mentioned_ids=composed.mentioned_ids,
            tags=composed.tags,
            poll=self.poll,
        )


async def _update_mentions(
    conn: Conn, status: asyncpg.Record, named_ids: list[int], silent_ids: list[int]
) -> None:
    """Give an edited status exactly these mentions: `named_ids`, and `silent_ids` addressed
    without being named.

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


async def version_history(pool: asyncpg.Pool, status: asyncpg.Record) -> list[dict[str, Any]]:
    """Every version of a status, oldest first, the current one last."""
    earlier = await edit_store.list_versions(pool, status["id"])
    current = {
        "content": status["content"],
        "spoiler_text": status["spoiler_text"],
        "sensitive": status["sensitive"],
        "created_at": status["edited_at"] or status["created_at"],
    }
    return [dict(row) for row in earlier] + [current]
