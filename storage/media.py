"""Media attachments: uploads, their processing state, attaching them to statuses, clean-up.

File names in these rows (`file_path`, `preview_path`, `upload_path`) are names in the
MediaStore (`storage/media_files.py`), never paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from storage.db import Executor, fetch_one

MEDIA_COLUMNS = (
    "id, account_id, status_id, type, file_path, preview_path, upload_path, content_type,"
    " remote_url, remote_preview_url, description, blurhash, meta, focus_x, focus_y, position,"
    " processing, processing_error, created_at"
)


async def insert_upload(
    db: Executor,
    account_id: int,
    *,
    type: str,
    description: str | None,
    focus: tuple[float, float] | None,
    file_path: str | None = None,
    preview_path: str | None = None,
    content_type: str | None = None,
    blurhash: str | None = None,
    meta: dict[str, Any] | None = None,
    upload_path: str | None = None,
) -> asyncpg.Record:
    """A member's new, unattached upload: processed (`file_path` set) or waiting for its
    background job (`upload_path` set, processing 'pending')."""
    return await fetch_one(
        db,
        f"""
        INSERT INTO media_attachments (account_id, type, description, focus_x, focus_y,
                                       file_path, preview_path, content_type, blurhash, meta,
                                       upload_path, processing)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, '{{}}'::jsonb), $11,
                CASE WHEN $11::text IS NULL THEN 'done' ELSE 'pending' END)
        RETURNING {MEDIA_COLUMNS}
        """,
        account_id,
        type,
        description,
        focus[0] if focus else None,
        focus[1] if focus else None,
        file_path,
        preview_path,
        content_type,
        blurhash,
        meta,
        upload_path,
    )


async def get_media(db: Executor, media_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {MEDIA_COLUMNS} FROM media_attachments WHERE id = $1", media_id
    )


async def get_owned_media(db: Executor, media_id: int, account_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {MEDIA_COLUMNS} FROM media_attachments WHERE id = $1 AND account_id = $2",
        media_id,
        account_id,
    )


async def describe(
    db: Executor,
    media_id: int,
    *,
    description: str | None,
    set_description: bool,
    focus: tuple[float, float] | None,
    set_focus: bool,
) -> asyncpg.Record:
    """Change an attachment's alt text and/or focal point (each only when its `set_` flag is
    true, so an omitted field is left alone)."""
    return await fetch_one(
        db,
        f"""
        UPDATE media_attachments
        SET description = CASE WHEN $3 THEN $2 ELSE description END,
            focus_x = CASE WHEN $6 THEN $4 ELSE focus_x END,
            focus_y = CASE WHEN $6 THEN $5 ELSE focus_y END
        WHERE id = $1
        RETURNING {MEDIA_COLUMNS}
        """,
        media_id,
        description,
        set_description,
        focus[0] if focus else None,
        focus[1] if focus else None,
        set_focus,
    )


async def finish_processing(
    db: Executor,
    media_id: int,
    *,
    type: str,
    file_path: str,
    preview_path: str | None,
    content_type: str,
    blurhash: str | None,
    meta: dict[str, Any],
) -> asyncpg.Record | None:
    """Record a pending upload's processed files; None when the row is gone or no longer
    pending (the caller then deletes the files it made)."""
    return await db.fetchrow(
        f"""
        UPDATE media_attachments
        SET type = $2, file_path = $3, preview_path = $4, content_type = $5, blurhash = $6,
            meta = $7, processing = 'done', upload_path = NULL
        WHERE id = $1 AND processing = 'pending'
        RETURNING {MEDIA_COLUMNS}
        """,
        media_id,
        type,
        file_path,
        preview_path,
        content_type,
        blurhash,
        meta,
    )


async def fail_processing(db: Executor, media_id: int, error: str) -> asyncpg.Record | None:
    """Mark a pending upload as refused by processing; None when it was not pending."""
    return await db.fetchrow(
        f"""
        UPDATE media_attachments
        SET processing = 'failed', processing_error = $2, upload_path = NULL
        WHERE id = $1 AND processing = 'pending'
        RETURNING {MEDIA_COLUMNS}
        """,
        media_id,
        error,
    )


async def lock_for_status(
    db: Executor, media_ids: Sequence[int], account_id: int
) -> list[asyncpg.Record]:
    """The listed attachments owned by `account_id`, locked for attaching, with `attached_to`:
    the (undeleted) status each is attached to, or None."""
    return await db.fetch(
        f"""
        SELECT {", ".join("m." + c.strip() for c in MEDIA_COLUMNS.split(","))},
               s.id AS attached_to
        FROM media_attachments m
        LEFT JOIN statuses s ON s.id = m.status_id AND s.deleted_at IS NULL
        WHERE m.id = ANY($1::bigint[]) AND m.account_id = $2
        FOR UPDATE OF m
        """,
        list(media_ids),
        account_id,
    )


async def delete_media(db: Executor, media_id: int) -> asyncpg.Record | None:
    """Delete one attachment row; its file names, or None when it was gone."""
    return await db.fetchrow(
        "DELETE FROM media_attachments WHERE id = $1"
        " RETURNING file_path, preview_path, upload_path",
        media_id,
    )


async def set_status_media(db: Executor, status_id: int, media_ids: Sequence[int]) -> None:
    """Make `media_ids`, in this order, exactly the attachments of `status_id`: the others it
    had are detached (the clean-up job removes them a day after their upload)."""
    await db.execute(
        """
        UPDATE media_attachments SET status_id = NULL
        WHERE status_id = $1 AND NOT (id = ANY($2::bigint[]))
        """,
        status_id,
        list(media_ids),
    )
    await db.execute(
        """
        UPDATE media_attachments AS m SET status_id = $1, position = o.n - 1
        FROM unnest($2::bigint[]) WITH ORDINALITY AS o (id, n)
        WHERE m.id = o.id
        """,
        status_id,
        list(media_ids),
    )


async def status_media_ids(db: Executor, status_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT id FROM media_attachments WHERE status_id = $1 ORDER BY position, id", status_id
    )
    return [row["id"] for row in rows]


async def get_many(db: Executor, media_ids: Sequence[int]) -> dict[int, asyncpg.Record]:
    rows = await db.fetch(
        f"SELECT {MEDIA_COLUMNS} FROM media_attachments WHERE id = ANY($1::bigint[])",
        list(media_ids),
    )
    return {row["id"]: row for row in rows}


async def record_version_media(db: Executor, status_id: int, media_ids: Sequence[int]) -> None:
    """Note which attachments the version of `status_id` kept last (by `keep_version`, in the
    same transaction) showed."""
    await db.execute(
        """
        UPDATE status_edits SET media_attachment_ids = $2
        WHERE id = (SELECT max(id) FROM status_edits WHERE status_id = $1)
        """,
        status_id,
        list(media_ids),
    )


async def versions_media(db: Executor, status_id: int) -> list[list[int]]:
    """The attachment ids each earlier version of a status showed, oldest first."""
    rows = await db.fetch(
        "SELECT media_attachment_ids FROM status_edits WHERE status_id = $1 ORDER BY id",
        status_id,
    )
    return [list(row["media_attachment_ids"]) for row in rows]


# -- clean-up --------------------------------------------------------------------------------


async def remove_stale(db: Executor, age_seconds: float) -> list[asyncpg.Record]:
    """Delete attachments nobody shows any more and return their file names: uploads never
    attached (or detached) for `age_seconds`, and attachments of statuses deleted that long
    ago (a delete-and-redraft reuses them in the meantime)."""
    return await db.fetch(
        """
        DELETE FROM media_attachments AS m
        WHERE (m.status_id IS NULL AND m.created_at < now() - make_interval(secs => $1))
           OR m.status_id IN (SELECT s.id FROM statuses s
                              WHERE s.deleted_at < now() - make_interval(secs => $1))
        RETURNING m.file_path, m.preview_path, m.upload_path
        """,
        age_seconds,
    )


async def unreferenced(db: Executor, names: Sequence[str]) -> list[str]:
    """Those of `names` that no attachment and no account names."""
    rows = await db.fetch(
        """
        SELECT n.name FROM unnest($1::text[]) AS n (name)
        EXCEPT (
            SELECT file_path FROM media_attachments WHERE file_path = ANY($1::text[])
            UNION ALL
            SELECT preview_path FROM media_attachments WHERE preview_path = ANY($1::text[])
            UNION ALL
            SELECT upload_path FROM media_attachments WHERE upload_path = ANY($1::text[])
            UNION ALL
            SELECT avatar_path FROM accounts WHERE avatar_path = ANY($1::text[])
            UNION ALL
            SELECT header_path FROM accounts WHERE header_path = ANY($1::text[])
        )
        """,
        list(names),
    )
    return [row["name"] for row in rows]


async def schedule_cleanup(
    db: Executor, queue: str, delay_seconds: float, current: int | None = None
) -> None:
    """Queue a clean-up run `delay_seconds` from now unless one is waiting already (claimed
    jobs, such as `current`, the run calling this, do not count). Call it in a transaction:
    the lock makes two simultaneous callers queue one run, so two chains merge into one."""
    await db.execute("SELECT pg_advisory_xact_lock(hashtext($1))", queue)
    await db.execute(
        """
        INSERT INTO jobs (queue, payload, run_at)
        SELECT $1, '{}'::jsonb, now() + make_interval(secs => $2)
        WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE queue = $1 AND failed_at IS NULL
                          AND id IS DISTINCT FROM $3
                          AND (locked_until IS NULL OR locked_until < now()))
        """,
        queue,
        delay_seconds,
        current,
    )


async def has_local_files(db: Executor) -> bool:
    """Whether any row names a file in the MediaStore (so the clean-up has work to watch)."""
    return bool(
        await db.fetchval(
            """
            SELECT EXISTS (SELECT 1 FROM media_attachments
                           WHERE file_path IS NOT NULL OR upload_path IS NOT NULL)
                OR EXISTS (SELECT 1 FROM accounts
                           WHERE avatar_path IS NOT NULL OR header_path IS NOT NULL)
            """
        )
    )
