"""Public HTML pages for people who open a member's or a status's link in a browser:
`/@username` (profile and recent posts) and `/@username/{id}` (one post).

They show what anyone signed out may read. The same URLs asked for as ActivityStreams (a server
resolving a pasted link) are sent to the actor or the note.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from federation.negotiation import redirect, wants_activitypub
from server.state import POOL, URLS
from storage import accounts as account_store
from storage import outbox as outbox_store
from storage import statuses as status_store
from storage.pagination import Page
from web.render import render, render_message

routes = web.RouteTableDef()

PROFILE_STATUSES = 20
_VARY = {"Vary": "Accept"}


@routes.get("/@{username}")
async def profile(request: web.Request) -> web.Response:
    account = await outbox_store.get_member_actor(request.app[POOL], request.match_info["username"])
    if account is None:
        return _not_found()
    if wants_activitypub(request):
        redirect(account["uri"])
    statuses = await account_store.list_account_statuses(
        request.app[POOL], account["id"], None, Page(limit=PROFILE_STATUSES), exclude_reblogs=True
    )
    return _page(request, "profile.html", account, statuses=statuses)


@routes.get("/@{username}/{status_id:[0-9]{1,19}}")
async def status(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    account = await outbox_store.get_member_actor(pool, request.match_info["username"])
    status_id = int(request.match_info["status_id"])
    if account is None or status_id >= 2**63:
        return _not_found()
    row = await status_store.get_readable_status(pool, status_id, None)
    if row is None or row["account_id"] != account["id"] or row["reblog_of_id"] is not None:
        return _not_found()
    if wants_activitypub(request):
        redirect(row["uri"])
    return _page(request, "status.html", account, post=row)


def _page(
    request: web.Request, template: str, account: asyncpg.Record, **context: Any
) -> web.Response:
    return render(
        template,
        headers=_VARY,
        title=account["display_name"] or account["username"],
        account=account,
        handle=f"@{account['username']}@{request.app[URLS].domain}",
        **context,
    )


def _not_found() -> web.Response:
    return render_message("Not found", "There is nothing here.", status=404, headers=_VARY)
