"""The media pipeline's entry point: an upload on disk -> processed files in the MediaStore."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from storage.media_files import MediaStore

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
    type: str  # "image" | "gifv" | "video" | "audio" (Mastodon's MediaAttachment.type)
    original: StoredFile
    preview: StoredFile | None
    blurhash: str | None
    meta: dict[str, Any]


def needs_background(source: Path, declared_type: str | None) -> bool:
    raise NotImplementedError


async def process(
    store: MediaStore, source: Path, purpose: Purpose, declared_type: str | None = None
) -> Processed:
    raise NotImplementedError


async def close_pool() -> None:
    raise NotImplementedError
