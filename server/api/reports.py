"""`POST /api/v1/reports`: a member reports an account, optionally with some of its statuses."""

from __future__ import annotations

from aiohttp import web

from federation.errors import not_found
from server.auth import authenticated, member_id
from server.entities.accounts import render_account
from server.entities.reports import render_report
from server.json import json_response
from server.params import parse_id, read_params
from server.rate_limits import REPORTS_PER_ACCOUNT, spend
from server.state import POOL, URLS
from server.usecases import reports
from storage import accounts as account_store

routes = web.RouteTableDef()


def _ids(values: list[object]) -> list[int]:
    """Snowflakes from a list parameter; one that cannot be an id matches nothing (-1)."""
    return [parse_id(value) or -1 for value in values]


@routes.post("/api/v1/reports")
@authenticated("write:reports")
async def create(request: web.Request) -> web.Response:
    """File a report; every attempt counts against the reporter (`REPORTS_PER_ACCOUNT`)."""
    reporter_id = member_id(request)
    await spend(request.app[POOL], REPORTS_PER_ACCOUNT, str(reporter_id))
    params = await read_params(request)
    target_id = params.id("account_id")
    if target_id is None:
        raise not_found()
    pool = request.app[POOL]
    report = await reports.file_report(
        pool,
        request.app[URLS],
        reporter_id=reporter_id,
        target_id=target_id,
        status_ids=_ids(params.list("status_ids")),
        comment=params.str("comment", "", max_length=reports.MAX_COMMENT),
        category=params.str("category") or ("violation" if params.list("rule_ids") else "other"),
        rule_ids=_ids(params.list("rule_ids")),
        forward=params.bool("forward", False),
    )
    target = await account_store.get_account(pool, target_id)
    if target is None:  # deleted since it was reported
        raise not_found()
    return json_response(render_report(report, render_account(target, request.app[URLS])))
