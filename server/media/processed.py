"""What the pipeline hands back, and the one refusal its worker processes raise.

These cross the process boundary (the pool pickles them), so they are plain data: a `KithError`
does not survive pickling (its constructor takes keywords), hence `MediaRefused`, which
`pipeline.process` turns into a 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Purpose = Literal["attachment", "avatar", "header"]


@dataclass(frozen=True)
class StoredFile:
    """A file the pipeline wrote into the MediaStore."""

    name: str
    content_type: str
    size: int
    width: int | None
    height: int | None


@dataclass(frozen=True)
class Processed:
    """A processed upload: `type` is Mastodon's MediaAttachment.type ("image", "gifv", "video",
    "audio"); `meta` is Mastodon's `meta` ({"original": {...}, "small": {...}})."""

    type: str
    original: StoredFile
    preview: StoredFile | None
    blurhash: str | None
    meta: dict[str, Any]


class MediaRefused(Exception):
    """The upload cannot be processed; the message, safe to show, says why."""


def dimensions(width: int, height: int) -> dict[str, Any]:
    """Mastodon's `meta` entry for a picture of `width` x `height`."""
    return {"width": width, "height": height, "size": f"{width}x{height}", "aspect": width / height}
