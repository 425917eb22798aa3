"""Polls (`/api/v1/polls`): reading one and voting. A poll is readable exactly when its status
is (`storage.visibility.readable_by`); otherwise it is "not found", like the status."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from federation.errors import invalid, not_found
from server.auth import authenticated, member_id, optional_auth, viewer_id
from server.entities.polls import render_polls
from server.json import json_response
from server.params import Params, path_id, read_params
from server.state import POOL
from server.usecases import polls
from server.usecases.actors import Actor
from server.usecases.polls import PollDraft
from storage import polls as poll_store
from storage import statuses as status_store

routes = web.RouteTableDef()


async def _entity(request: web.Request, status_id: int) -> dict[str, Any]:
    rendered = await render_polls(request.app[POOL], [status_id], viewer_id(request))
    return rendered[status_id]


@routes.get("/api/v1/polls/{id}")
@optional_auth("read:statuses")
async def show(request: web.Request) -> web.Response:
    pool, viewer = request.app[POOL], viewer_id(request)
    poll = await poll_store.get_poll(pool, path_id(request))
    if poll is None:
        raise not_found()
    status = await status_store.get_readable_status(pool, poll["status_id"], viewer)
    if status is None:
        raise not_found()
    if viewer is not None:
        await polls.refresh_if_stale(pool, poll, status)
    return json_response(await _entity(request, poll["status_id"]))


@routes.post("/api/v1/polls/{id}/votes")
@authenticated("write:statuses")
async def votes(request: web.Request) -> web.Response:
    params = await read_params(request)
    choices = [_choice(value) for value in params.list("choices")]
    actor = Actor.member(member_id(request))
    voted = await polls.vote(request.app[POOL], actor, path_id(request), choices)
    return json_response(await _entity(request, voted.status["id"]))


def read_poll(params: Params) -> PollDraft | None:
    """`poll[options][]`, `poll[expires_in]`, `poll[multiple]`, `poll[hide_totals]`, from a
    form or a JSON object alike; None without a poll."""
    raw = params.raw("poll")
    if raw is None or raw == "":
        return None
    poll = Params(params.dict("poll") or {})
    options = poll.list("options")
    if not all(isinstance(option, str) for option in options):
        raise invalid("Poll options must be strings")
    return PollDraft(
        options=options,
        expires_in=poll.int("expires_in"),
        multiple=poll.bool("multiple", False),
        hide_totals=poll.bool("hide_totals", False),
    )


def _choice(value: Any) -> int:
    """An option's index as a client sends it: a number, or digits in a string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 9:
        return int(value)
    raise invalid("choices must be option indexes")
