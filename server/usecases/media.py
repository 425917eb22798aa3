"""A member's media uploads: receiving, processing (now or in a job), describing, attaching.

An upload becomes a `media_attachments` row owned by its uploader and attached to no status
(and makes sure the clean-up job will remove it if it stays so).
Images are processed while the request waits; video and audio (`pipeline.needs_background`)
may be processed by the `media_process` job instead, the row 'pending' meanwhile, and the
stored upload kept in the MediaStore under a name that is never served (extension `part`).

Nothing half-made stays behind: a refused upload leaves no row and no file; a row that cannot be
written takes the files made for it along.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from federation.context import Federation
from federation.errors import KithError, not_found
from server.limits import MAX_MEDIA_ATTACHMENTS, MEDIA_DESCRIPTION_LIMIT
from server.media import pipeline
from server.usecases import media_cleanup
from server.usecases.actors import Actor
from storage import jobs
from storage import media as media_store
from storage.db import Conn
from storage.job_handlers import PermanentFailure, Registry
from storage.media_files import MediaStore

log = logging.getLogger(__name__)

PROCESS_QUEUE = "media_process"
# The extension of a stored upload waiting for its job: not a media type, so never served.
UPLOAD_EXTENSION = "part"

# Mastodon's messages (config/locales/en.yml, media_attachments.validations).
TOO_MANY = f"Cannot attach more than {MAX_MEDIA_ATTACHMENTS} files"
NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"
IMAGES_AND_VIDEO = "Cannot attach a video to a post that already contains images"
AUDIO_OR_VIDEO = frozenset({"video", "audio"})
IN_USE = "Media attachment is currently used by a status"


@dataclass(frozen=True)
class Details:
    """What a member may say about an attachment: alt text and focal point. `None` fields were
    not sent and are left as they are."""

    description: str | None = None
    focus: str | None = None

    def checked(self) -> tuple[str | None, tuple[float, float] | None]:
        if self.description is not None and len(self.description) > MEDIA_DESCRIPTION_LIMIT:
            raise KithError(
                422,
                "Validation failed: Description is too long"
                f" (maximum is {MEDIA_DESCRIPTION_LIMIT} characters)",
            )
        return self.description, parse_focus(self.focus)


def parse_focus(value: str | None) -> tuple[float, float] | None:
    """Mastodon's focal point "x,y", each between -1.0 and 1.0; None for None or ""."""
    if value is None or value.strip() == "":
        return None
    parts = value.split(",")
    try:
        x, y = (float(part) for part in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        x = y = math.nan
    if not (-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0):
        raise KithError(
            422, 'Validation failed: focus must be two numbers from -1.0 to 1.0, as "x,y"'
        )
    return x, y


@dataclass(frozen=True)
class Uploaded:
    media: asyncpg.Record
    pending: bool  # processed by a job; the client polls GET /api/v1/media/:id


async def upload(
    pool: asyncpg.Pool,
    store: MediaStore,
    actor: Actor,
    source: Path,
    declared_type: str | None,
    details: Details,
    *,
    wait: bool,
) -> Uploaded:
    """`actor` uploads the file at `source` (which the caller deletes afterwards).

    With `wait`, or for an image, the file is processed now; otherwise a slow one is queued.
    """
    account_id = actor.require_account()
    description, focus = details.checked()
    if not wait and pipeline.needs_background(source, declared_type):
        return Uploaded(
            await _queue(pool, store, account_id, source, declared_type, description, focus),
            pending=True,
        )
    processed = await pipeline.process(store, source, "attachment", declared_type)
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await media_store.insert_upload(
                conn, account_id, description=description, focus=focus, **_fields(processed)
            )
            await media_cleanup.schedule_first(conn)
    except BaseException:
        _delete_files(store, processed)
        raise
    return Uploaded(row, pending=False)


async def _queue(
    pool: asyncpg.Pool,
    store: MediaStore,
    account_id: int,
    source: Path,
    declared_type: str | None,
    description: str | None,
    focus: tuple[float, float] | None,
) -> asyncpg.Record:
    """Keep the upload in the store and queue its processing, in one transaction."""
    name = store.new_name(UPLOAD_EXTENSION)
    store.adopt(name, source)
    kind = "audio" if (declared_type or "").startswith("audio/") else "video"
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await media_store.insert_upload(
                conn,
                account_id,
                type=kind,
                description=description,
                focus=focus,
                content_type=declared_type,
                upload_path=name,
            )
            await jobs.enqueue(conn, PROCESS_QUEUE, {"media_id": row["id"]})
            await media_cleanup.schedule_first(conn)
    except BaseException:
        store.delete(name)
        raise
    return row


async def process_queued(fed: Federation, payload: dict[str, Any]) -> None:
    """The `media_process` job: process a pending upload, then delete the stored upload.

    A refused file marks the attachment 'failed' with the pipeline's reason. A crash before the
    row is updated loses nothing: the upload is still there and the queue runs the job again
    (the files the interrupted run made are unreferenced, and the clean-up job removes them).
    """
    store = fed.media
    if store is None:
        raise PermanentFailure("this process has no media store")
    row = await media_store.get_media(fed.pool, payload["media_id"])
    if row is None or row["processing"] != "pending" or row["upload_path"] is None:
        return
    upload_name = row["upload_path"]
    try:
        processed = await pipeline.process(
            store, store.path(upload_name), "attachment", row["content_type"]
        )
    except KithError as exc:
        await media_store.fail_processing(fed.pool, row["id"], exc.message)
        store.delete(upload_name)
        return
    try:
        done = await media_store.finish_processing(fed.pool, row["id"], **_fields(processed))
    except BaseException:
        _delete_files(store, processed)
        raise
    if done is None:  # deleted or settled meanwhile
        _delete_files(store, processed)
    store.delete(upload_name)


def register(registry: Registry) -> None:
    registry.register(PROCESS_QUEUE, process_queued, max_attempts=5)


async def get_own(pool: asyncpg.Pool, actor: Actor, media_id: int) -> asyncpg.Record:
    """One of `actor`'s attachments; anyone else's is not found."""
    row = await media_store.get_owned_media(pool, media_id, actor.require_account())
    if row is None:
        raise not_found()
    return row


async def update(
    pool: asyncpg.Pool, actor: Actor, media_id: int, details: Details
) -> asyncpg.Record:
    """`actor` changes the alt text or focal point of an upload not attached yet (as in
    Mastodon, an attached one is edited through its status's edit: `media_attributes`)."""
    description, focus = details.checked()
    async with pool.acquire() as conn, conn.transaction():
        owned = await media_store.lock_for_status(conn, [media_id], actor.require_account())
        if not owned or owned[0]["attached_to"] is not None:
            raise not_found()
        return await media_store.describe(
            conn,
            media_id,
            description=description,
            set_description=details.description is not None,
            focus=focus,
            set_focus=details.focus is not None,
        )


async def delete(pool: asyncpg.Pool, store: MediaStore, actor: Actor, media_id: int) -> None:
    """`actor` discards an upload not attached to a status, with its files (Mastodon 4.4)."""
    async with pool.acquire() as conn, conn.transaction():
        owned = await media_store.lock_for_status(conn, [media_id], actor.require_account())
        if not owned:
            raise not_found()
        if owned[0]["attached_to"] is not None:
            raise KithError(422, IN_USE)
        names = await media_store.delete_media(conn, media_id)
    if names is not None:
        store.delete(names["file_path"], names["preview_path"], names["upload_path"])


# -- attaching to statuses -------------------------------------------------------------------


@dataclass(frozen=True)
class Attributes:
    """An attachment's new alt text / focal point given with a status edit."""

    media_id: int
    details: Details


async def attach(
    conn: Conn,
    status_id: int,
    account_id: int,
    media_ids: Sequence[int],
    attributes: Sequence[Attributes] = (),
) -> list[int]:
    """Make `media_ids` (in order) the attachments of `account_id`'s status `status_id`, with
    Mastodon's rules: at most MAX_MEDIA_ATTACHMENTS, each the author's own, processed and not
    attached to another (undeleted) status, and no video or audio among several. Return the ids.
    """
    wanted = list(dict.fromkeys(media_ids))
    if len(media_ids) > MAX_MEDIA_ATTACHMENTS:
        raise KithError(422, TOO_MANY)
    rows = {row["id"]: row for row in await media_store.lock_for_status(conn, wanted, account_id)}
    missing = [
        str(media_id)
        for media_id in wanted
        if media_id not in rows or rows[media_id]["attached_to"] not in (None, status_id)
    ]
    if missing:
        raise KithError(
            422, f"Media {', '.join(missing)} not found or already attached to another post"
        )
    if len(wanted) > 1 and any(rows[i]["type"] in AUDIO_OR_VIDEO for i in wanted):
        raise KithError(422, IMAGES_AND_VIDEO)
    if any(rows[i]["processing"] != "done" for i in wanted):
        raise KithError(422, NOT_READY)
    for given in attributes:
        if given.media_id in rows:
            description, focus = given.details.checked()
            await media_store.describe(
                conn,
                given.media_id,
                description=description,
                set_description=given.details.description is not None,
                focus=focus,
                set_focus=given.details.focus is not None,
            )
    await media_store.set_status_media(conn, status_id, wanted)
    return wanted


def parse_media_ids(values: list[Any]) -> list[int]:
    """`media_ids[]` as ids; one that cannot be an id is reported as not found."""
    ids: list[int] = []
    for value in values:
        number = int(value) if isinstance(value, str) and value.isdigit() else value
        if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 2**63:
            raise KithError(
                422,
                f"Media {str(value)[:100]} not found or already attached to another post",
            )
        ids.append(number)
    return ids


# -- helpers -----------------------------------------------------------------------------------


def _fields(processed: pipeline.Processed) -> dict[str, Any]:
    return {
        "type": processed.type,
        "file_path": processed.original.name,
        "preview_path": processed.preview.name if processed.preview else None,
        "content_type": processed.original.content_type,
        "blurhash": processed.blurhash,
        "meta": processed.meta,
    }


def _delete_files(store: MediaStore, processed: pipeline.Processed) -> None:
    with contextlib.suppress(OSError):
        store.delete(processed.original.name, processed.preview.name if processed.preview else None)
