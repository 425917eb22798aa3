"""Receiving uploaded files: a multipart body streamed to disk, part by part.

`request.post()` reads a whole form into memory and stops at the app's 1 MB body limit, so file
uploads (media, avatars, headers) come through `receive_upload` instead: each expected file part
is written in chunks to a fresh path in the store's `incoming/` folder, and the other fields
(`description`, `focus`, `display_name`, `fields_attributes[0][name]`...) are collected, bounded,
into the same `Params` every handler reads. On any error every partial file is deleted before
the error goes out. The handler deletes the files when it is done (`with uploads:`).

    with await receive_upload(request, ("file", "thumbnail"), store, VIDEO_SIZE_LIMIT) as uploads:
        params = uploads.params          # the query string and the text fields
        upload = uploads.get("file")     # an Upload, or None when the field was not sent
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from federation.errors import KithError
from federation.excerpt import excerpt
from server.json import MAX_BODY_BYTES
from server.params import Params, _reject_nul, _set_nested, read_params
from storage.media_files import MediaStore

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Upload:
    """One uploaded file on disk. `filename` and `content_type` are what the client claimed."""

    path: Path
    size: int
    filename: str | None
    content_type: str | None


class Uploads(dict[str, Upload]):
    """The uploaded files by field name, plus `params`: every other parameter of the request.

    A context manager: leaving the `with` block deletes the files."""

    def __init__(self, params: Params) -> None:
        super().__init__()
        self.params = params

    def discard(self) -> None:
        for upload in self.values():
            with contextlib.suppress(FileNotFoundError):
                upload.path.unlink()

    def __enter__(self) -> Uploads:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


async def receive_upload(
    request: web.Request, field_names: Iterable[str], store: MediaStore, max_bytes: int
) -> Uploads:
    """Stream the file fields `field_names` of a multipart request to disk.

    A file may be at most `max_bytes` (413 naming the limit otherwise), the text fields together
    at most the JSON body limit. A file in a field not listed is refused (422), as is a field
    sent twice; a listed field is a file even when the client gave it no file name. A request
    that is not multipart is read as usual: no files, its parameters in `params` (a profile
    update may come as JSON).
    """
    if request.content_type != "multipart/form-data":
        return Uploads(await read_params(request))
    expected = set(field_names)
    limit = max_bytes * len(expected) + MAX_BODY_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise KithError(
            413, f"Request entity too large: a file may be at most {_megabytes(max_bytes)}"
        )
    data: dict[str, Any] = {}
    for key, value in request.query.items():
        _set_nested(data, key, value)
    uploads = Uploads(Params(data))
    try:
        try:
            await _read_parts(request, expected, data, uploads, store, max_bytes)
        except (ValueError, AssertionError, HttpProcessingError):
            # aiohttp's multipart reader on a body that is not what its headers say (no
            # boundary, cut short, a malformed part header).
            raise KithError(400, "Error occurred while parsing request parameters") from None
        _reject_nul(data)
    except BaseException:
        uploads.discard()
        raise
    return uploads


async def _read_parts(
    request: web.Request,
    expected: set[str],
    data: dict[str, Any],
    uploads: Uploads,
    store: MediaStore,
    max_bytes: int,
) -> None:
    """Read the multipart body: text fields into `data`, the `expected` files into `uploads`."""
    reader = await request.multipart()
    text_bytes = 0
    while True:
        part = await reader.next()
        if part is None:
            return
        if not isinstance(part, BodyPartReader) or not part.name:
            raise KithError(400, "Error occurred while parsing request parameters")
        if part.filename is None and part.name not in expected:
            text_bytes, value = await _read_text(part, text_bytes)
            _set_nested(data, part.name, value)
            continue
        if part.name not in expected:
            raise KithError(422, f"Validation failed: unexpected file in {excerpt(part.name)}")
        if part.name in uploads:
            raise KithError(422, f"Validation failed: {excerpt(part.name)} was sent twice")
        uploads[part.name] = await _stream_file(part, store, max_bytes)


async def _read_text(part: BodyPartReader, used: int) -> tuple[int, str]:
    chunks = []
    while chunk := await part.read_chunk(CHUNK_BYTES):
        used += len(chunk)
        if used > MAX_BODY_BYTES:
            raise KithError(413, "Request entity too large")
        chunks.append(chunk)
    try:
        return used, b"".join(chunks).decode(part.get_charset(default="utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise KithError(400, "Error occurred while parsing request parameters") from None


async def _stream_file(part: BodyPartReader, store: MediaStore, max_bytes: int) -> Upload:
    path = store.incoming()
    size = 0
    try:
        # Small synchronous writes: each lands in the page cache in microseconds, cheaper than a
        # thread hop per chunk, and the event loop never holds more than one chunk.
        with open(path, "wb") as file:
            while chunk := await part.read_chunk(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise KithError(
                        413,
                        f"Request entity too large: a file may be at most {_megabytes(max_bytes)}",
                    )
                file.write(chunk)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return Upload(
        path=path,
        size=size,
        filename=part.filename or None,
        content_type=part.headers.get(hdrs.CONTENT_TYPE),
    )
