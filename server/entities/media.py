"""Media attachment records to Mastodon `MediaAttachment` entities.

Three kinds of rows render differently:
- a local upload: `url` and `preview_url` are the processed files Kith serves (`media_url`),
  `remote_url` is None; while a video or audio upload is still processed, `url` is None;
- a remote attachment Kith only links: `url` and `remote_url` name the file on its origin server,
  `preview_url` the origin's preview when it sent one;
- a remote attachment cached here (`file_path` and `remote_url` both set): the local files,
  with `remote_url` naming the original.
"""

from __future__ import annotations

from typing import Any

from federation.urls import LocalUrls
from storage.db import Row

# The types Mastodon's clients know; anything else is a plain link ("unknown").
KNOWN_TYPES = frozenset({"image", "gifv", "video", "audio"})


def media_url(urls_or_base_url: LocalUrls | str, name: str) -> str:
    """The URL at which Kith serves the MediaStore file `name`."""
    if isinstance(urls_or_base_url, str):
        urls_or_base_url = LocalUrls(urls_or_base_url.rstrip("/"))
    return urls_or_base_url.media(name)


def render_meta(row: Row) -> dict[str, Any]:
    """Mastodon's `meta`: the pipeline's `original`/`small` sizes, plus `focus` when set."""
    meta = dict(row["meta"] or {})
    if row["focus_x"] is not None and row["focus_y"] is not None:
        meta["focus"] = {"x": round(row["focus_x"], 2), "y": round(row["focus_y"], 2)}
    return meta


def render_attachment(row: Row, urls: LocalUrls) -> dict[str, Any]:
    kind = row["type"] if row["type"] in KNOWN_TYPES else "unknown"
    url: str | None
    if row["file_path"] is not None:
        url = media_url(urls, row["file_path"])
        if row["preview_path"] is not None:
            preview_url: str | None = media_url(urls, row["preview_path"])
        else:
            preview_url = url if kind == "image" else None
    else:
        url = row["remote_url"]
        preview_url = row["remote_preview_url"] or (url if kind == "image" else None)
    return {
        "id": str(row["id"]),
        "type": kind,
        "url": url,
        "preview_url": preview_url,
        "remote_url": row["remote_url"],
        "preview_remote_url": row["remote_preview_url"],
        "text_url": None,
        "meta": render_meta(row),
        "description": row["description"],
        "blurhash": row["blurhash"],
    }
