"""Editing statuses (`PUT /api/v1/statuses/:id`), their edit history and their source."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from federation.errors import KithError, not_found
from server.api.polls import read_poll
from server.auth import authenticated, current, member_id, optional_auth, viewer_id
from server.entities.accounts import render_account
from server.entities.common import iso
from server.entities.media import render_attachment
from server.entities.statuses import render_status
from server.json import json_response
from server.params import Params, parse_id, path_id, read_params
from server.state import POOL, URLS
from server.usecases import media
from server.usecases.actors import Actor
from server.usecases.status_edits import TypedEdit, edit_status, version_history
from storage import accounts as account_store
from storage import media as media_store
from storage import statuses as status_store

routes = web.RouteTableDef()


@routes.put("/api/v1/statuses/{id}")
@authenticated("write:statuses")
async def edit(request: web.Request) -> web.Response:
    params = await read_params(request)
    typed = TypedEdit(
        text=params.str("status", ""),
        spoiler_text=params.str("spoiler_text", ""),
        sensitive=params.bool("sensitive", False),
        language=params.str("language"),
        media_ids=media.parse_media_ids(params.list("media_ids")),
        media_attributes=_media_attributes(params),
        poll=read_poll(params),
    )
    account_id = member_id(request)
    status = await edit_status(
        request.app[POOL], request.app[URLS], Actor.member(account_id), path_id(request), typed
    )
    entity = await render_status(request.app[POOL], status, request.app[URLS], account_id)
    return json_response(entity)


def _media_attributes(params: Params) -> list[media.Attributes]:
    """`media_attributes[]`: `{id, description, focus}` objects (JSON, or form fields indexed
    `media_attributes[0][id]`)."""
    attributes = []
    for item in params.list("media_attributes"):
        if not isinstance(item, dict):
            raise KithError(422, "Validation failed: media_attributes must be objects")
        fields: dict[str, Any] = item
        media_id = parse_id(fields.get("id"))
        if media_id is None:
            continue
        given = Params(fields)
        attributes.append(
            media.Attributes(
                media_id,
                media.Details(description=given.str("description"), focus=given.str("focus")),
            )
        )
    return attributes


@routes.get("/api/v1/statuses/{id}/history")
@optional_auth("read:statuses")
async def history(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    status = await status_store.get_readable_status(pool, path_id(request), viewer_id(request))
    if status is None or status["reblog_of_id"] is not None:
        raise not_found()
    account = await account_store.get_account(pool, status["account_id"])
    if account is None:
        raise not_found()
    urls = request.app[URLS]
    author = render_account(account, urls)
    versions = await version_history(pool, status)
    shown = await media_store.get_many(pool, [i for v in versions for i in v["media_ids"]])
    return json_response(
        [
            {
                "content": version["content"],
                "spoiler_text": version["spoiler_text"],
                "sensitive": version["sensitive"],
                "created_at": iso(version["created_at"]),
                "account": author,
                "poll": None,
                "media_attachments": [
                    render_attachment(shown[i], urls) for i in version["media_ids"] if i in shown
                ],
                "emojis": [],
            }
            for version in versions
        ]
    )


@routes.get("/api/v1/statuses/{id}/source")
@authenticated("read:statuses")
async def source(request: web.Request) -> web.Response:
    status = await status_store.get_status(request.app[POOL], path_id(request))
    if status is None or status["account_id"] != current(request).account_id:
        raise not_found()
    return json_response(
        {"id": str(status["id"]), "text": status["text"], "spoiler_text": status["spoiler_text"]}
    )
