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
from federation.errors import invalid, not_found
from federation.urls import LocalUrls
from server.usecases import media
from server.usecases.actors import Actor
from server.usecases.composition import compose
from server.usecases.polls import POLL_WITH_MEDIA, PollDraft, revise_poll
from server.usecases.statuses import check_text, not_the_authors, valid_language
from storage import media as media_store
from storage import notifications as notification_store
from storage import remote_statuses as remote_store
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
    # A local author's uploads the new version shows, in order (None: its attachments stay as
    # they are), and new alt text or focal points for some of them.
    media_ids: Sequence[int] | None = None
    media_attributes: Sequence[media.Attributes] = ()
    # A remote author's attachments (as `NewStatus.attachments`); None keeps them as they are.
    attachments: Sequence[dict[str, Any]] | None = None
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
        shown_before = await media_store.status_media_ids(conn, status_id)
        await media_store.record_version_media(conn, status_id, shown_before)
        if revision.media_ids is not None:
            await media.attach(
                conn,
                status_id,
                status["account_id"],
                revision.media_ids,
                revision.media_attributes,
            )
        if revision.attachments is not None:
            await _replace_remote_attachments(conn, status, list(revision.attachments))
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
    # As in Mastodon, the attachments the edited status shows: none when none are sent.
    media_ids: Sequence[int] = ()
    media_attributes: Sequence[media.Attributes] = ()
    poll: PollDraft | None = None

    async def revise(self, conn: Conn, urls: LocalUrls, status: asyncpg.Record) -> Revision:
        text, spoiler_text = self.text.strip(), self.spoiler_text.strip()
        check_text(text, spoiler_text, status["visibility"], media=bool(self.media_ids))
        if self.poll is not None and self.media_ids:
            raise invalid(POLL_WITH_MEDIA)
        composed = await compose(conn, urls, text)
        return Revision(
            content=composed.html,
            text=text,
            spoiler_text=spoiler_text,
            sensitive=self.sensitive or bool(spoiler_text),
            language=valid_language(self.language) if self.language else status["language"],
            mentioned_ids=composed.mentioned_ids,
            tags=composed.tags,
            media_ids=self.media_ids,
            media_attributes=self.media_attributes,
            poll=self.poll,
        )


async def _replace_remote_attachments(
    conn: Conn, status: asyncpg.Record, attachments: list[dict[str, Any]]
) -> None:
    """Give a remote status the attachments its edit lists. The same files in the same order
    keep their rows (and any local copy), taking the new alt text and focal point; otherwise
    the old ones are detached (the clean-up job removes them) and the new ones stored."""
    current = await status_store.attachments_of(conn, [status["id"]])
    if [row["remote_url"] for row in current] == [a["url"] for a in attachments]:
        for row, given in zip(current, attachments, strict=True):
            await media_store.describe(
                conn,
                row["id"],
                description=given["description"],
                set_description=True,
                focus=given.get("focus"),
                set_focus=True,
            )
        return
    await media_store.set_status_media(conn, status["id"], [])
    if attachments:
        await remote_store.insert_media(conn, status["account_id"], status["id"], attachments)


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
    """Every version of a status, oldest first, the current one last; each with `media_ids`,
    the attachments it showed."""
    earlier = await edit_store.list_versions(pool, status["id"])
    earlier_media = await media_store.versions_media(pool, status["id"])
    current = {
        "content": status["content"],
        "spoiler_text": status["spoiler_text"],
        "sensitive": status["sensitive"],
        "created_at": status["edited_at"] or status["created_at"],
        "media_ids": await media_store.status_media_ids(pool, status["id"]),
    }
    # Both lists are in version order; an edit committed between the two reads only lengthens
    # the second, whose extra entries zip leaves out.
    return [
        {**dict(row), "media_ids": ids} for row, ids in zip(earlier, earlier_media, strict=False)
    ] + [current]
