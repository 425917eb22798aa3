"""Editing a member's profile and posting defaults (Mastodon's `update_credentials`).

Members type plain text; the profile keeps that source (shown back to them for editing) and the
HTML everyone else sees, made by the same formatter as statuses (`federation.content`): escaped,
in paragraphs, with links, known mentions and hashtags linked.

An avatar or header upload goes through the media pipeline (cropped to Mastodon's 400x400 and
1500x500, metadata removed) before the transaction; the row then names the new file, and the
file it replaced is deleted once that is committed. If anything fails, the new files go.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from federation import outbox
from federation.content import Mentioned, mentions_in, tag_path, to_html
from federation.errors import invalid, not_found
from federation.urls import LocalUrls
from server.media import pipeline
from server.usecases import follows
from storage import account_images
from storage import accounts as account_store
from storage.db import Executor
from storage.media_files import MediaStore

DISPLAY_NAME_MAX = 30
NOTE_MAX = 500
FIELDS_MAX = 4
FIELD_NAME_MAX = 255
FIELD_VALUE_MAX = 2047
VISIBILITIES = ("public", "unlisted", "private")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class ProfileUpdate:
    """What to change; None leaves a value as it is."""

    display_name: str | None = None
    note: str | None = None
    locked: bool | None = None
    bot: bool | None = None
    discoverable: bool | None = None
    indexable: bool | None = None
    hide_collections: bool | None = None
    fields: list[tuple[str, str]] | None = None
    privacy: str | None = None
    sensitive: bool | None = None
    language: str | None = None  # "" clears it
    local_only: bool | None = None
    # Uploaded files (the caller deletes them); processing needs `update_profile`'s `store`.
    avatar: Path | None = None
    header: Path | None = None


async def update_profile(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    account_id: int,
    user_id: int,
    update: ProfileUpdate,
    store: MediaStore | None = None,
) -> None:
    """Validate and apply `update`; raises `KithError` (422) naming the first bad value.

    An account that stops being locked accepts its pending follow requests, as in Mastodon.
    """
    account_changes = _account_changes(update)
    user_changes = _user_changes(update)
    images = await _process_images(store, update)
    new_names = [image.name for image in images.values()]
    try:
        async with pool.acquire() as conn, conn.transaction():
            account = await account_store.get_account(conn, account_id)
            if account is None:
                raise not_found()
            replaced = await _image_changes(conn, urls, account_id, images, account_changes)
            await _format_profile(conn, urls, update, account_changes)
            await account_store.update_account(conn, account_id, account_changes)
            await account_store.update_user(conn, user_id, user_changes)
            if account_changes:
                await outbox.profile_updated(conn, urls, account_id)
    except BaseException:
        if store is not None:
            store.delete(*new_names)
        raise
    if store is not None:
        store.delete(*replaced)
    if account["locked"] and update.locked is False:
        await follows.authorize_all_follow_requests(pool, account_id)


async def remove_image(
    pool: asyncpg.Pool, urls: LocalUrls, store: MediaStore, account_id: int, purpose: str
) -> None:
    """Remove the member's avatar or header (`purpose`): the default one shows again, the
    followers are told, the file goes once that is committed. Nothing to remove is no error."""
    if purpose not in ("avatar", "header"):
        raise ValueError(f"not a profile image: {purpose}")
    async with pool.acquire() as conn, conn.transaction():
        avatar, header = await account_images.lock_image_names(conn, account_id)
        old = avatar if purpose == "avatar" else header
        if old is None:
            return
        changes = {f"{purpose}_path": None, f"{purpose}_url": None}
        await account_store.update_account(conn, account_id, changes)
        await outbox.profile_updated(conn, urls, account_id)
    store.delete(old)


async def _process_images(
    store: MediaStore | None, update: ProfileUpdate
) -> dict[str, pipeline.StoredFile]:
    """The new avatar and header files, by purpose; none left behind if one is refused."""
    uploads: list[tuple[pipeline.Purpose, Path | None]] = [
        ("avatar", update.avatar),
        ("header", update.header),
    ]
    done: dict[str, pipeline.StoredFile] = {}
    if store is None:
        if update.avatar or update.header:
            raise ValueError("processing an avatar or header needs the MediaStore")
        return done
    try:
        for purpose, source in uploads:
            if source is not None:
                processed = await pipeline.process(store, source, purpose)
                done[purpose] = processed.original
    except BaseException:
        store.delete(*(image.name for image in done.values()))
        raise
    return done


async def _image_changes(
    conn: Executor,
    urls: LocalUrls,
    account_id: int,
    images: dict[str, pipeline.StoredFile],
    changes: dict[str, Any],
) -> list[str | None]:
    """Point the account at its new images (in `changes`); the names of the files replaced."""
    if not images:
        return []
    avatar, header = await account_images.lock_image_names(conn, account_id)
    old = {"avatar": avatar, "header": header}
    for purpose, image in images.items():
        changes[f"{purpose}_path"] = image.name
        changes[f"{purpose}_url"] = urls.media(image.name)
    return [old[purpose] for purpose in images]


def _account_changes(update: ProfileUpdate) -> dict[str, Any]:
    """The validated plain columns; the HTML ones are added by `_format_profile`."""
    changes: dict[str, Any] = {}
    if update.display_name is not None:
        if len(update.display_name) > DISPLAY_NAME_MAX:
            raise invalid(f"Display name is too long (maximum is {DISPLAY_NAME_MAX} characters)")
        changes["display_name"] = update.display_name
    if update.note is not None and len(update.note) > NOTE_MAX:
        raise invalid(f"Note is too long (maximum is {NOTE_MAX} characters)")
    for flag in ("locked", "bot", "discoverable", "indexable", "hide_collections"):
        value = getattr(update, flag)
        if value is not None:
            changes[flag] = value
    return changes


async def _format_profile(
    db: Executor, urls: LocalUrls, update: ProfileUpdate, changes: dict[str, Any]
) -> None:
    """Add the note and fields, as typed and as HTML, to `changes`."""
    fields = _fields(update.fields) if update.fields is not None else None
    texts = [update.note or "", *(value for _, value in fields or [])]
    format_text = await _formatter(db, urls, texts)
    if update.note is not None:
        changes["note_source"] = update.note
        changes["note"] = format_text(update.note)
    if fields is not None:
        changes["fields"] = [
            {
                "name": name,
                "value": _inline(format_text(value.replace("\n", " "))),
                "source": value,
                "verified_at": None,
            }
            for name, value in fields
        ]


def _user_changes(update: ProfileUpdate) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if update.privacy is not None:
        if update.privacy not in VISIBILITIES:
            raise invalid(f"Privacy must be one of {', '.join(VISIBILITIES)}")
        changes["default_visibility"] = update.privacy
    if update.language is not None:
        if update.language and not LANGUAGE_RE.match(update.language):
            raise invalid("Language is not a valid ISO 639 code")
        changes["default_language"] = update.language or None
    if update.sensitive is not None:
        changes["default_sensitive"] = update.sensitive
    if update.local_only is not None:
        changes["default_local_only"] = update.local_only
    return changes


def _fields(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs to keep (blank ones dropped), checked against Mastodon's limits."""
    kept = [(name.strip(), value.strip()) for name, value in pairs]
    kept = [(name, value) for name, value in kept if name or value]
    if len(kept) > FIELDS_MAX:
        raise invalid(f"Fields are too many (maximum is {FIELDS_MAX})")
    for name, value in kept:
        if len(name) > FIELD_NAME_MAX:
            raise invalid(f"Field name is too long (maximum is {FIELD_NAME_MAX} characters)")
        if len(value) > FIELD_VALUE_MAX:
            raise invalid(f"Field value is too long (maximum is {FIELD_VALUE_MAX} characters)")
    return kept


async def _formatter(db: Executor, urls: LocalUrls, texts: list[str]) -> Callable[[str], str]:
    """`to_html` with the mentions in `texts` resolved up front (it takes no database)."""
    known: dict[tuple[str, str | None], Mentioned] = {}
    for text in texts:
        for username, domain in mentions_in(text):
            if domain is not None and domain.lower() == urls.domain.lower():
                domain = None
            account = await account_store.get_account_by_username(db, username, domain)
            if account is not None:
                mentioned = Mentioned(account["url"] or account["uri"], account["username"])
                known[(username.lower(), domain and domain.lower())] = mentioned

    def resolve(username: str, domain: str | None) -> Mentioned | None:
        if domain is not None and domain.lower() == urls.domain.lower():
            domain = None
        return known.get((username.lower(), domain and domain.lower()))

    def format_text(text: str) -> str:
        return to_html(text, resolve_mention=resolve, tag_url=lambda n: urls.tag(tag_path(n)))

    return format_text


def _inline(html: str) -> str:
    """A one-paragraph `to_html` result without its `<p>` (field values are inline)."""
    return html.removeprefix("<p>").removesuffix("</p>")
