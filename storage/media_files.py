"""The file store: processed media files on disk, under `config.media_dir`.

Every file has an unguessable name Kith chose (`new_name`), never one a client sent, and lives
flat in the store's directory, so a name is also its URL path (`/media/{name}`). `path` refuses
anything that is not such a name, which keeps a crafted name (`../x`, `a/b`) from reaching the
file system. Uploads stream into `incoming/` first; the pipeline reads them from there and writes
its results with `write` (atomic: a reader never sees half a file).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from pathlib import Path

# `secrets.token_urlsafe(24)` is 32 characters of the URL-safe alphabet; the extension is ours.
_NAME = re.compile(r"^[A-Za-z0-9_-]{32}\.[a-z0-9]{1,5}$")
_EXTENSION = re.compile(r"^[a-z0-9]{1,5}$")
INCOMING = "incoming"


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _ensure(self) -> None:
        (self.root / INCOMING).mkdir(parents=True, exist_ok=True)

    def new_name(self, extension: str) -> str:
        """A fresh, unguessable file name with `extension` (without the dot: "jpg")."""
        if not _EXTENSION.match(extension):
            raise ValueError(f"bad media file extension {extension!r}")
        return f"{secrets.token_urlsafe(24)}.{extension}"

    def path(self, name: str) -> Path:
        """Where the file `name` lives; ValueError for anything `new_name` cannot have made."""
        if not is_valid_name(name):
            raise ValueError(f"not a media file name: {name[:100]!r}")
        return self.root / name

    def incoming(self) -> Path:
        """A fresh path in `incoming/` to stream an upload to. The caller deletes it."""
        self._ensure()
        return self.root / INCOMING / f"{secrets.token_urlsafe(24)}.part"

    def write(self, name: str, data: bytes) -> None:
        """Write `name` atomically: a temporary file in the store, then a rename over it."""
        target = self.path(name)
        self._ensure()
        temporary = self.root / INCOMING / f"{name}.{secrets.token_hex(4)}.tmp"
        try:
            with open(temporary, "wb") as file:
                file.write(data)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise

    def adopt(self, name: str, source: Path) -> None:
        """Move a finished file (written by a tool such as ffmpeg into `incoming/`) to `name`."""
        os.replace(source, self.path(name))

    def delete(self, *names: str | None) -> None:
        """Delete the named files; `None` and files already gone are ignored."""
        for name in names:
            if name is None:
                continue
            with contextlib.suppress(FileNotFoundError):
                self.path(name).unlink()

    def names_older_than(self, seconds: float) -> list[str]:
        """The store's files last written more than `seconds` ago (for the sweeper)."""
        cutoff = time.time() - seconds
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        return sorted(
            entry.name
            for entry in entries
            if entry.is_file() and _NAME.match(entry.name) and entry.stat().st_mtime < cutoff
        )

    def sweep_incoming(self, seconds: float) -> int:
        """Delete leftovers in `incoming/` older than `seconds` (a crash mid-upload); how many."""
        cutoff = time.time() - seconds
        removed = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.root / INCOMING):
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed += 1
        return removed


def is_valid_name(name: str) -> bool:
    """Whether `name` has the shape of a name the store makes (no path, no user input)."""
    return bool(_NAME.match(name))
