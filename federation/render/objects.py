"""Statuses to ActivityPub objects: `Note`s, and the activities that carry statuses in an outbox.

Rendering is pure; what a note needs beyond its status row (mentions, tags, what it replies to,
attachments) is loaded for a whole batch at once by `load_note_parts`, one query per kind.

Attachments go out as Mastodon sends them: each a `Document` with its `mediaType` (Mastodon,
Pleroma, Misskey and GoToSocial all read the kind of media from `mediaType`, and Mastodon's own
posts use `Document` for every kind), alt text as `name`, `blurhash`, `focalPoint` when set, and
the original's `width`/`height`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from federation.content import tag_path
from federation.render import activities
from federation.render.context import NOTE_CONTEXT, PUBLIC, timestamp
from federation.urls import LocalUrls
from storage import outbox as outbox_store
from storage import polls as poll_store
from storage import statuses as status_store
from storage.db import Executor, Row


@dataclass(frozen=True)
class MentionRef:
    uri: str
    username: str
    domain: str | None  # None: a local account


@dataclass(frozen=True)
class NoteParts:
    """What a note shows besides its status row."""

    in_reply_to: str | None = None
    mentions: tuple[MentionRef, ...] = ()
    tags: tuple[str, ...] = ()
    attachments: tuple[Row, ...] = ()  # processed local uploads, in order
    poll: Row | None = None  # the status's poll (`storage.polls`): rendered as a Question


async def load_note_parts(db: Executor, status_ids: list[int]) -> dict[int, NoteParts]:
    """Every listed status's parts (statuses without any get an empty `NoteParts`)."""
    mentions: dict[int, list[MentionRef]] = defaultdict(list)
    for m in await status_store.mentions_of(db, status_ids):
        mentions[m["status_id"]].append(MentionRef(m["uri"], m["username"], m["domain"]))
    tags: dict[int, list[str]] = defaultdict(list)
    for t in await status_store.tags_of(db, status_ids):
        tags[t["status_id"]].append(t["name"])
    replies = await outbox_store.reply_targets(db, status_ids)
    media: dict[int, list[Row]] = defaultdict(list)
    for a in await status_store.attachments_of(db, status_ids):
        if a["file_path"] is not None:
            media[a["status_id"]].append(a)
    polls = {p["status_id"]: p for p in await poll_store.polls_of(db, status_ids)}
    return {
        status_id: NoteParts(
            in_reply_to=replies.get(status_id),
            mentions=tuple(mentions[status_id]),
            tags=tuple(tags[status_id]),
            attachments=tuple(media[status_id]),
            poll=polls.get(status_id),
        )
        for status_id in status_ids
    }


def addressing(
    visibility: str, followers: str, mentioned: list[str]
) -> tuple[list[str], list[str]]:
    """`to` and `cc` for a status of `visibility` by the author whose followers collection is
    `followers`, mentioning the actors `mentioned` (Mastodon's rules)."""
    if visibility == "public":
        return [PUBLIC], [followers, *mentioned]
    if visibility == "unlisted":
        return [followers], [PUBLIC, *mentioned]
    if visibility == "private":
        return [followers], list(mentioned)
    return list(mentioned), []


def render_note(status: Row, author: Row, parts: NoteParts, urls: LocalUrls) -> dict[str, Any]:
    """A local status (not a boost) as a `Note`, with its @context."""
    mentioned = list(dict.fromkeys(m.uri for m in parts.mentions))
    to, cc = addressing(status["visibility"], author["followers_url"], mentioned)
    note: dict[str, Any] = {
        "@context": NOTE_CONTEXT,
        "id": status["uri"],
        "type": "Note",
        "summary": status["spoiler_text"] or None,
        "inReplyTo": parts.in_reply_to,
        "published": timestamp(status["created_at"]),
        "url": status["url"] or status["uri"],
        "attributedTo": author["uri"],
        "to": to,
        "cc": cc,
        "sensitive": status["sensitive"],
        "content": status["content"],
    }
    if status["language"]:
        note["contentMap"] = {status["language"]: status["content"]}
    if status["edited_at"] is not None:
        note["updated"] = timestamp(status["edited_at"])
    note["attachment"] = [render_attachment(a, urls) for a in parts.attachments]
    note["tag"] = [
        *(
            {"type": "Mention", "href": m.uri, "name": f"@{m.username}@{m.domain or urls.domain}"}
            for m in parts.mentions
        ),
        *(
            {"type": "Hashtag", "href": urls.tag(tag_path(name)), "name": f"#{name}"}
            for name in parts.tags
        ),
    ]
    if parts.poll is not None:
        note.update(render_question_fields(parts.poll))
    return note


def render_attachment(media: Row, urls: LocalUrls) -> dict[str, Any]:
    """A local upload as a note's `attachment` item."""
    original = (media["meta"] or {}).get("original") or {}
    item: dict[str, Any] = {
        "type": "Document",
        "mediaType": media["content_type"],
        "url": urls.media(media["file_path"]),
        "name": media["description"] or None,
        "blurhash": media["blurhash"],
    }
    if media["focus_x"] is not None and media["focus_y"] is not None:
        item["focalPoint"] = [round(media["focus_x"], 2), round(media["focus_y"], 2)]
    for key in ("width", "height"):
        if isinstance(original.get(key), int):
            item[key] = original[key]
    return item


def render_question_fields(poll: Row) -> dict[str, Any]:
    """What makes a note with a poll a `Question`, as Mastodon sends it: the options as
    `oneOf` (one choice) or `anyOf` (several), each counting its votes as `replies`; `endTime`,
    `closed` once ended, `votersCount`. A poll hiding its totals until it ends sends no counts
    before then (peers read a missing count as 0)."""
    shown = poll["expired"] or not poll["hide_totals"]
    choices = []
    for option in poll["options"]:
        choice: dict[str, Any] = {"type": "Note", "name": option["title"]}
        if shown:
            choice["replies"] = {"type": "Collection", "totalItems": option["votes_count"]}
        choices.append(choice)
    fields: dict[str, Any] = {"type": "Question", "anyOf" if poll["multiple"] else "oneOf": choices}
    if shown and poll["voters_count"] is not None:
        fields["votersCount"] = poll["voters_count"]
    if poll["expires_at"] is not None:
        fields["endTime"] = timestamp(poll["expires_at"])
        if poll["expired"]:
            fields["closed"] = timestamp(poll["expires_at"])
    return fields


async def render_status_activities(
    db: Executor, statuses: Sequence[Row], author: Row, urls: LocalUrls
) -> list[dict[str, Any]]:
    """`author`'s statuses as the activities that published them, in order: a `Create` of each
    note and an `Announce` of each boost."""
    originals = [s["id"] for s in statuses if s["reblog_of_id"] is None]
    parts = await load_note_parts(db, originals) if originals else {}
    boost_ids = [s["reblog_of_id"] for s in statuses if s["reblog_of_id"] is not None]
    boosted = await outbox_store.boosted(db, boost_ids) if boost_ids else {}
    rendered = []
    for status in statuses:
        if status["reblog_of_id"] is None:
            note = render_note(status, author, parts[status["id"]], urls)
            rendered.append(activities.create(note, author["uri"]))
            continue
        original = boosted[status["reblog_of_id"]]
        rendered.append(render_announce(status, author, original["uri"], original["author_uri"]))
    return rendered


def render_announce(
    boost: Row, author: Row, original_uri: str, original_author_uri: str | None
) -> dict[str, Any]:
    """A local boost as its `Announce`, addressed like a status of the boost's visibility that
    mentions the boosted status's author (when known)."""
    mentioned = [original_author_uri] if original_author_uri else []
    to, cc = addressing(boost["visibility"], author["followers_url"], mentioned)
    return activities.announce(
        boost["uri"], author["uri"], original_uri, boost["created_at"], to, cc
    )
