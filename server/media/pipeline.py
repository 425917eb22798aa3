"""The media pipeline's entry point: an upload on disk -> processed files in the MediaStore.

Decoding and encoding are CPU-bound (and ffmpeg runs for seconds), so they run in a pool of at
most two worker processes, never on the event loop: the loop only waits for the result. The pool
starts lazily on the first upload ("spawn": a clean interpreter, no copy of the server's sockets
or threads) and `close_pool` shuts it down with the application. Uploads are read from disk by
the worker; the event loop never holds a whole file.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from federation.errors import KithError
from federation.excerpt import excerpt
from server.media import images, video
from server.media.processed import MediaRefused, Processed, Purpose, StoredFile
from server.media.sniff import IMAGE_KINDS, sniff
from storage.media_files import MediaStore

__all__ = ["Processed", "Purpose", "StoredFile", "close_pool", "needs_background", "process"]

MAX_WORKERS = 2
# The workers (and the ffmpeg they start) yield the CPU to the web process: on a small machine
# a burst of uploads then slows the uploads, not every other request.
WORKER_NICENESS = 10
# A worker is replaced after this many uploads, so a leak in a decoder cannot grow for ever.
TASKS_PER_WORKER = 200

_pool: ProcessPoolExecutor | None = None


def _kind(source: Path, declared_type: str | None) -> str:
    try:
        kind = sniff(source)
    except OSError:
        kind = None
    if kind is None:
        what = f"a file of type {excerpt(declared_type, 40)}" if declared_type else "this file"
        raise KithError(
            422, f"Validation failed: {what} is not a supported image, video or audio file"
        )
    return kind


def _moving(source: Path, kind: str) -> bool:
    """Whether the file goes through ffmpeg: video, audio, and animated GIFs and PNGs (gifv)."""
    if kind in IMAGE_KINDS:
        return kind in video.DEMUXERS and images.is_animated(source, kind)
    return True


def needs_background(source: Path, declared_type: str | None) -> bool:
    """Whether processing is slow enough to answer 202 first and process in a job: ffmpeg's
    work. Without ffmpeg such a file is refused at once by `process`, so this says False."""
    try:
        kind = sniff(source)
    except OSError:
        return False
    return kind is not None and video.tools() is not None and _moving(source, kind)


def _work(store: MediaStore, source: Path, kind: str, purpose: Purpose, moving: bool) -> Processed:
    """Runs in a pool worker."""
    if moving:
        return video.process_video(store, source, kind)
    return images.process_image(store, source, kind, purpose)


def _start_worker() -> None:
    os.nice(WORKER_NICENESS)


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=MAX_WORKERS,
            mp_context=multiprocessing.get_context("spawn"),
            max_tasks_per_child=TASKS_PER_WORKER,
            initializer=_start_worker,
        )
    return _pool


async def process(
    store: MediaStore, source: Path, purpose: Purpose, declared_type: str | None = None
) -> Processed:
    """Process the upload at `source` (left in place) into new files in `store`.

    The real type comes from the bytes. Raises KithError 422 naming what is wrong (not a
    supported file, corrupt, too large, no ffmpeg for video and audio); then no file of the
    pipeline's is left behind."""
    kind = _kind(source, declared_type)
    moving = _moving(source, kind) and purpose == "attachment"
    if kind not in IMAGE_KINDS and purpose != "attachment":
        raise KithError(422, f"Validation failed: the {purpose} must be an image")
    if moving and video.tools() is None:
        raise KithError(422, video.NO_FFMPEG_ANIMATED if kind in IMAGE_KINDS else video.NO_FFMPEG)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_get_pool(), _work, store, source, kind, purpose, moving)
    except MediaRefused as refusal:
        raise KithError(422, str(refusal)) from None
    except BrokenProcessPool:
        # A worker died mid-file (killed for its memory, say): the file is refused, and the
        # next upload gets a fresh pool.
        await close_pool()
        raise KithError(422, "Validation failed: the file could not be processed") from None


async def close_pool() -> None:
    """Shut the worker pool down (waiting for files in progress); a later upload starts anew."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        await asyncio.to_thread(pool.shutdown, wait=True)
