"""Media uploads (`/api/v1/media`, `/api/v2/media`) and the files themselves (`/media/{name}`).

Uploads stream to disk (`server.media.uploads.receive_upload`), never through the 1 MB body
limit; every rule lives in `server.usecases.media`.

Files are served to anyone who has their URL, as Mastodon does: names are unguessable
(`MediaStore.new_name`, 192 random bits) and appear only in the entities of statuses the reader
may see, so a followers-only post's photo is as private as its URL. A name is immutable (a new
file gets a new name), hence a year's `immutable` caching. Only the processed media types are
served: a stored upload waiting for its job (`.part`) never is.
"""

from __future__ import annotations

from aiohttp import web

from federation.context import FEDERATION
from federation.errors import KithError, not_found
from server.auth import authenticated, member_id
from server.entities.media import render_attachment
from server.json import json_response
from server.limits import VIDEO_SIZE_LIMIT
from server.media.uploads import receive_upload
from server.params import Params, path_id, read_params
from server.state import POOL, URLS
from server.usecases import media
from server.usecases.actors import Actor
from storage.media_files import MediaStore, is_valid_name

routes = web.RouteTableDef()

# The types the pipeline writes, by the extension it gives them.
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
}
SERVED_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}


def media_store(request: web.Request) -> MediaStore:
    """The app's file store; 503 when this process was built without one."""
    store = request.app[FEDERATION].media
    if store is None:
        raise KithError(503, "Media storage is not configured")
    return store


def _details(params: Params) -> media.Details:
    return media.Details(description=params.str("description"), focus=params.str("focus"))


async def _upload(request: web.Request, *, wait: bool) -> web.Response:
    store = media_store(request)
    with await receive_upload(request, ("file",), store, VIDEO_SIZE_LIMIT) as uploads:
        file = uploads.get("file")
        if file is None:
            raise KithError(422, "Validation failed: File can't be blank")
        uploaded = await media.upload(
            request.app[POOL],
            store,
            Actor.member(member_id(request)),
            file.path,
            file.content_type,
            _details(uploads.params),
            wait=wait,
        )
    entity = render_attachment(uploaded.media, request.app[URLS])
    return json_response(entity, status=202 if uploaded.pending else 200)


@routes.post("/api/v1/media")
@authenticated("write:media")
async def create_v1(request: web.Request) -> web.Response:
    """Mastodon's first upload endpoint: always processed before it answers."""
    return await _upload(request, wait=True)


@routes.post("/api/v2/media")
@authenticated("write:media")
async def create_v2(request: web.Request) -> web.Response:
    """200 with the processed attachment, or 202 (`url` null) when a job processes it."""
    return await _upload(request, wait=False)


@routes.get("/api/v1/media/{id}")
@authenticated("write:media")
async def show(request: web.Request) -> web.Response:
    """206 while processing, 200 once done; a failed upload answers 422 with the reason."""
    row = await media.get_own(request.app[POOL], Actor.member(member_id(request)), path_id(request))
    if row["processing"] == "failed":
        raise KithError(422, row["processing_error"] or "Error processing the uploaded media")
    entity = render_attachment(row, request.app[URLS])
    return json_response(entity, status=206 if row["processing"] == "pending" else 200)


@routes.put("/api/v1/media/{id}")
@authenticated("write:media")
async def update(request: web.Request) -> web.Response:
    params = await read_params(request)
    row = await media.update(
        request.app[POOL], Actor.member(member_id(request)), path_id(request), _details(params)
    )
    return json_response(render_attachment(row, request.app[URLS]))


@routes.delete("/api/v1/media/{id}")
@authenticated("write:media")
async def delete(request: web.Request) -> web.Response:
    """Discard an unattached upload (Mastodon 4.4): an empty object, as Mastodon answers."""
    await media.delete(
        request.app[POOL], media_store(request), Actor.member(member_id(request)), path_id(request)
    )
    return json_response({})


@routes.get("/media/{name}")
async def serve(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    content_type = CONTENT_TYPES.get(name.rsplit(".", 1)[-1])
    if content_type is None or not is_valid_name(name):
        raise not_found()
    path = media_store(request).path(name)
    if not path.is_file():
        raise not_found()
    return web.FileResponse(path, headers={**SERVED_HEADERS, "Content-Type": content_type})
