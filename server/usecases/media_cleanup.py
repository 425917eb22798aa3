"""The media clean-up job: removing media nobody shows any more, rows and files.

Every hour the `media_cleanup` job removes
- uploads never attached to a status (or detached by an edit) a day after their upload,
- attachments of statuses deleted a day ago (the day lets a delete-and-redraft reuse them),
- files in the MediaStore that no row names (no attachment, no avatar or header) and that are
  older than a day: what a crash between writing a file and its row left, or a cascade removed,
- partial uploads left in the store's `incoming/` folder by a crash.

The day's margin also keeps it away from files being made right now. The schedule is a chain:
each run first queues the next, so a run that fails does not stop the chain. An upload starts
it (`schedule_first`, in the upload's transaction), and so does a worker starting on a database
with files to look after (`ensure_scheduled`): a server without media has no job waiting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import asyncpg

from federation.context import Federation
from storage import media as media_store
from storage.db import Conn
from storage.job_handlers import PermanentFailure, Registry, current_claim
from storage.media_files import MediaStore

log = logging.getLogger(__name__)

QUEUE = "media_cleanup"
INTERVAL_SECONDS = 3600.0
# How long an unattached upload, a deleted status's media and an unnamed file are kept.
KEEP_SECONDS = 24 * 3600.0
# Names checked against the database per query.
BATCH = 1000


@dataclass(frozen=True)
class Swept:
    rows: int
    files: int


async def ensure_scheduled(pool: asyncpg.Pool) -> None:
    """Start the chain when some row names a local file and no run is waiting."""
    if not await media_store.has_local_files(pool):
        return
    async with pool.acquire() as conn, conn.transaction():
        await schedule_first(conn)


async def schedule_first(conn: Conn) -> None:
    """Queue a run an interval from now unless one is waiting (in the caller's transaction)."""
    await media_store.schedule_cleanup(conn, QUEUE, INTERVAL_SECONDS)


async def sweep(pool: asyncpg.Pool, store: MediaStore, keep_seconds: float = KEEP_SECONDS) -> Swept:
    """Remove what is stale (see the module's description); how many rows and files went."""
    files = 0
    removed = await media_store.remove_stale(pool, keep_seconds)
    for row in removed:
        store.delete(row["file_path"], row["preview_path"], row["upload_path"])
        files += sum(1 for name in row.values() if name is not None)
    names = store.names_older_than(keep_seconds)
    for start in range(0, len(names), BATCH):
        orphans = await media_store.unreferenced(pool, names[start : start + BATCH])
        store.delete(*orphans)
        files += len(orphans)
    files += store.sweep_incoming(keep_seconds)
    return Swept(rows=len(removed), files=files)


async def run_scheduled(fed: Federation, payload: dict[str, Any]) -> None:
    """The `media_cleanup` job: queue the next run, then sweep."""
    store = fed.media
    if store is None:
        raise PermanentFailure("this process has no media store")
    claim = current_claim()
    async with fed.pool.acquire() as conn, conn.transaction():
        await media_store.schedule_cleanup(
            conn, QUEUE, INTERVAL_SECONDS, claim.job_id if claim else None
        )
    swept = await sweep(fed.pool, store)
    if swept.rows or swept.files:
        log.info("media clean-up: %d attachments, %d files removed", swept.rows, swept.files)


def register(registry: Registry) -> None:
    """One attempt: the next run is queued before the sweep starts."""
    registry.register(QUEUE, run_scheduled, max_attempts=1)
