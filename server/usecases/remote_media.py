"""Remote attachments: which of a peer's files Kith keeps, and copying them here.

`kept_attachments` turns a screened post's attachments into rows to store. An attachment whose
file (or preview) is on a host with a `reject_media` domain block is dropped (or loses its
preview) here, whatever the author's domain: the policy pipeline's domain-block step only knows
the author's host, and a post often links media on a CDN of its own.

With the admin setting `remote_media` = "cache" (`federation_settings`), each kept attachment
that is media gets a job (queue `CACHE_QUEUE`, run by `cache_attachment`): the file is downloaded
through the safe fetcher (`federation.fetch.download`: https, private addresses refused, the
gate and `reject_media` checked on every redirect, a size limit), processed by the media
pipeline like a local upload (metadata stripped, re-encoded, preview and blurhash made) and the
row then names the local files, keeping its `remote_url` and the origin's alt text. A download
that fails for a reason that may pass (a timeout, a 5xx) is tried again later; anything else
(too large, refused, unsupported) leaves the attachment linked, as with `remote_media` = "link".
"""

from __future__ import annotations

import logging
from typing import Any

from federation import gate
from federation.context import Federation
from federation.errors import KithError
from federation.fetch import FetchError, download
from federation.parse.actors import authority
from federation.parse.attachments import MEDIA_KINDS, Attachment
from server.limits import IMAGE_SIZE_LIMIT, VIDEO_SIZE_LIMIT
from server.media import pipeline
from storage import remote_statuses as store
from storage import settings
from storage.db import Executor
from storage.job_handlers import PermanentFailure, Registry, RetryLater

log = logging.getLogger(__name__)

CACHE_QUEUE = store.CACHE_QUEUE
# A failed download is retried a few times (backoff: minutes to hours), then stays linked.
MAX_ATTEMPTS = 5
RETRY_SECONDS = 300.0
CACHEABLE = MEDIA_KINDS | {"gifv"}


async def kept_attachments(db: Executor, attachments: list[Attachment]) -> list[dict[str, Any]]:
    """The attachments to store, as `storage.remote_statuses.insert_media` takes them: those
    on a `reject_media` host left out, and marked `cache` when remote media is cached here."""
    cache = await settings.remote_media_mode(db) == "cache"
    decisions: dict[str, bool] = {}
    kept = []
    for a in attachments:
        if await _media_rejected(db, authority(a.url), decisions):
            continue
        preview = a.preview_url
        if preview and await _media_rejected(db, authority(preview), decisions):
            preview = None
        kept.append(
            {
                "type": a.type,
                "url": a.url,
                "preview_url": preview,
                "content_type": a.media_type,
                "description": a.description,
                "blurhash": a.blurhash,
                "meta": _meta(a),
                "focus": a.focus,
                "cache": cache and a.type in CACHEABLE,
            }
        )
    return kept


async def _media_rejected(db: Executor, host: str, decisions: dict[str, bool]) -> bool:
    """Whether media from `host` may not be kept: a `reject_media` block covers it, or it is
    refused altogether (suspended, or not allowed in allowlist mode)."""
    if host not in decisions:
        try:
            decisions[host] = (await gate.check_incoming(db, host)).reject_media
        except gate.Refused:
            decisions[host] = True
    return decisions[host]


def _meta(a: Attachment) -> dict[str, Any]:
    """Mastodon's `meta.original` from what the origin says of the file (sizes, duration)."""
    original: dict[str, Any] = {}
    if a.width and a.height:
        original = {
            "width": a.width,
            "height": a.height,
            "size": f"{a.width}x{a.height}",
            "aspect": a.width / a.height,
        }
    if a.duration is not None:
        original["duration"] = a.duration
    return {"original": original} if original else {}


def register(registry: Registry) -> None:
    registry.register(CACHE_QUEUE, cache_attachment, max_attempts=MAX_ATTEMPTS)


async def cache_attachment(fed: Federation, payload: dict[str, Any]) -> None:
    """Copy one remote attachment here (see the module's docstring). Nothing is left on disk
    when it fails: the download is deleted, and the pipeline leaves no file of its own."""
    media_store = fed.media
    if media_store is None:
        raise PermanentFailure("this process has no media store")
    row = await store.media_to_cache(fed.pool, payload["media_id"])
    if row is None or row["type"] not in CACHEABLE:
        return  # gone, deleted with its status, cached already, or not media
    limit = IMAGE_SIZE_LIMIT if row["type"] == "image" else VIDEO_SIZE_LIMIT
    source = media_store.incoming()
    try:
        try:
            received_type = await download(fed, row["remote_url"], source, limit=limit)
        except FetchError as exc:
            if exc.transient:
                raise RetryLater(RETRY_SECONDS, str(exc)) from exc
            log.info("remote media %s stays linked: %s", row["id"], exc)
            return
        try:
            processed = await pipeline.process(
                media_store, source, "attachment", row["content_type"] or received_type
            )
        except KithError as exc:
            log.info("remote media %s stays linked: %s", row["id"], exc.message)
            return
    finally:
        source.unlink(missing_ok=True)
    preview = processed.preview
    cached = await store.set_cached(
        fed.pool,
        row["id"],
        type=processed.type,
        file_path=processed.original.name,
        preview_path=preview.name if preview else None,
        content_type=processed.original.content_type,
        meta=processed.meta,
        blurhash=processed.blurhash,
    )
    if not cached:
        media_store.delete(processed.original.name, preview.name if preview else None)
