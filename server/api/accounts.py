"""Mastodon's accounts API: sign-up, one's own profile, profiles, their statuses and social graph,
following, relationships and follow requests.

Handlers parse and render; what following or editing a profile does lives in
`server.usecases` (shared with the ActivityPub inbox). Accounts that are suspended or await
approval are "Record not found" to everyone, as in Mastodon.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from federation import remote_accounts
from federation.errors import KithError, not_found
from federation.fetch import FetchError
from server import filtering
from server.api.media import media_store
from server.auth import (
    authenticated,
    current,
    hash_secret,
    member_id,
    optional_auth,
    viewer_id,
)
from server.entities.accounts import render_account, render_credential_account
from server.entities.relationships import render_relationship
from server.entities.statuses import render_statuses
from server.json import json_response
from server.limits import AVATAR_SIZE_LIMIT
from server.media.uploads import receive_upload
from server.pagination import link_header, page_from
from server.params import Params, parse_id, path_id, read_params
from server.rate_limits import SIGN_UP_PER_IP, client_address, spend
from server.state import FEDERATION, POOL, URLS
from server.usecases import follows, profiles
from server.usecases.actors import Actor
from server.usecases.sign_up import SignUpForm, sign_up
from storage import accounts as account_store
from storage import follows as follow_store
from storage import oauth as oauth_store
from storage.pagination import Page

routes = web.RouteTableDef()

ACCOUNTS_DEFAULT_LIMIT = 40
ACCOUNTS_MAX_LIMIT = 80
RELATIONSHIPS_MAX = 80
INVITE_CODE_MAX = 64

# `storage.follows.list_followers` and its kin.
AccountLister = Callable[[asyncpg.Pool, int, Page], Awaitable[list[asyncpg.Record]]]


# -- helpers -----------------------------------------------------------------------------------


async def _visible_account(request: web.Request) -> asyncpg.Record:
    """The account named by the `{id}` in the path, or 404."""
    account_id = parse_id(request.match_info["id"])
    account = (
        await account_store.get_visible_account(request.app[POOL], account_id)
        if account_id is not None
        else None
    )
    if account is None:
        raise not_found()
    return account


async def _credential_account(request: web.Request) -> dict[str, Any]:
    pool, account_id = request.app[POOL], member_id(request)
    account = await account_store.get_account(pool, account_id)
    user = await account_store.get_user_by_account(pool, account_id)
    if account is None or user is None:
        raise not_found()
    count = await follow_store.count_follow_requests(pool, account_id)
    return render_credential_account(account, user, request.app[URLS], follow_requests_count=count)


async def _relationship(request: web.Request, target_id: int) -> web.Response:
    rows = await follow_store.relationships(
        request.app[POOL], member_id(request), [target_id], with_suspended=True
    )
    if not rows:
        raise not_found()
    return json_response(render_relationship(rows[0]))


def _accounts_response(request: web.Request, rows: list[asyncpg.Record]) -> web.Response:
    """Accounts from a `page_key`-paginated list, with the `Link` header."""
    urls = request.app[URLS]
    return json_response(
        [render_account(row, urls) for row in rows],
        headers=link_header(request, [row["page_key"] for row in rows]),
    )


def _strings(params: Params, name: str) -> list[str]:
    values = params.list(name)
    if not all(isinstance(value, str) for value in values):
        raise KithError(422, f"Validation failed: {name} must be a list of strings")
    return values


# -- one's own account ---------------------------------------------------------------------------


@routes.get("/api/v1/accounts/verify_credentials")
@authenticated("profile")
async def verify_credentials(request: web.Request) -> web.Response:
    return json_response(await _credential_account(request))


def _field_pairs(params: Params) -> list[tuple[str, str]] | None:
    """`fields_attributes` as a form (`[0][name]=...`), a JSON object or a JSON list."""
    if "fields_attributes" not in params:
        return None
    pairs = []
    for item in params.list("fields_attributes"):
        if not isinstance(item, dict):
            raise KithError(422, "Validation failed: fields_attributes must hold objects")
        field = Params(item)
        pairs.append((field.str("name") or "", field.str("value") or ""))
    return pairs


@routes.patch("/api/v1/accounts/update_credentials")
@routes.put("/api/v1/accounts/update_credentials")
@authenticated("write:accounts")
async def update_credentials(request: web.Request) -> web.Response:
    """The profile; `avatar` and `header` files stream to disk (a multipart body may be large)."""
    store = media_store(request)
    fields = ("avatar", "header")
    with await receive_upload(request, fields, store, AVATAR_SIZE_LIMIT) as uploads:
        params = uploads.params
        source = Params(params.dict("source") or {})
        avatar, header = uploads.get("avatar"), uploads.get("header")
        update = profiles.ProfileUpdate(
            display_name=params.str("display_name"),
            note=params.str("note"),
            locked=params.bool("locked"),
            bot=params.bool("bot"),
            discoverable=params.bool("discoverable"),
            indexable=params.bool("indexable"),
            hide_collections=params.bool("hide_collections"),
            fields=_field_pairs(params),
            privacy=source.str("privacy"),
            sensitive=source.bool("sensitive"),
            language=source.str("language"),
            local_only=source.bool("local_only"),
            avatar=avatar.path if avatar else None,
            header=header.path if header else None,
        )
        user_id = current(request).user_id
        assert user_id is not None  # a member's token is its user's
        await profiles.update_profile(
            request.app[POOL], request.app[URLS], member_id(request), user_id, update, store
        )
    return json_response(await _credential_account(request))


@routes.delete("/api/v1/profile/avatar")
@routes.delete("/api/v1/profile/header")
@authenticated("write:accounts")
async def delete_profile_image(request: web.Request) -> web.Response:
    """Mastodon 4.2's removal of the avatar or the header; answers the credential account."""
    store = media_store(request)
    purpose = request.path.rsplit("/", 1)[1]
    await profiles.remove_image(
        request.app[POOL], request.app[URLS], store, member_id(request), purpose
    )
    return json_response(await _credential_account(request))


# -- relationships and follow requests -----------------------------------------------------------


@routes.get("/api/v1/accounts/relationships")
@authenticated("read:follows")
async def relationships(request: web.Request) -> web.Response:
    params = await read_params(request)
    ids = [parse_id(value) for value in params.list("id")]
    wanted = list(dict.fromkeys(i for i in ids if i is not None))[:RELATIONSHIPS_MAX]
    rows = await follow_store.relationships(
        request.app[POOL],
        member_id(request),
        wanted,
        with_suspended=params.bool("with_suspended", False),
    )
    return json_response([render_relationship(row) for row in rows])


@routes.get("/api/v1/follow_requests")
@authenticated("read:follows")
async def follow_requests(request: web.Request) -> web.Response:
    params = await read_params(request)
    page = page_from(params, default=ACCOUNTS_DEFAULT_LIMIT, maximum=ACCOUNTS_MAX_LIMIT)
    rows = await follow_store.list_follow_requests(request.app[POOL], member_id(request), page)
    return _accounts_response(request, rows)


@routes.post("/api/v1/follow_requests/{id}/authorize")
@authenticated("write:follows")
async def authorize_follow_request(request: web.Request) -> web.Response:
    requester_id = path_id(request)
    await follows.authorize_follow_request(request.app[POOL], member_id(request), requester_id)
    return await _relationship(request, requester_id)


@routes.post("/api/v1/follow_requests/{id}/reject")
@authenticated("write:follows")
async def reject_follow_request(request: web.Request) -> web.Response:
    requester_id = path_id(request)
    await follows.reject_follow_request(request.app[POOL], member_id(request), requester_id)
    return await _relationship(request, requester_id)


# -- profiles ------------------------------------------------------------------------------------


@routes.get("/api/v1/accounts/lookup")
@optional_auth("read:accounts")
async def lookup(request: web.Request) -> web.Response:
    """A local account by `user` or `user@this.domain`, or a remote one by `user@domain`.

    Remote accounts are resolved (WebFinger, then the actor) only for signed-in callers, as
    Mastodon's search does: anonymous requests must not make the server contact arbitrary hosts.
    """
    params = await read_params(request)
    username, _, domain = (params.str("acct") or "").strip().removeprefix("@").partition("@")
    urls = request.app[URLS]
    if domain.lower() == urls.domain.lower():
        domain = ""
    pool = request.app[POOL]
    account = None
    if domain and username and viewer_id(request) is not None:
        # The account is stored under its actor's host, which may differ from `domain`.
        resolved_id = await _resolve_remote(request, username, domain)
        if resolved_id is not None:
            account = await account_store.get_visible_account(pool, resolved_id)
    if account is None and username:
        account = await account_store.get_visible_account_by_username(
            pool, username, domain or None
        )
    if account is None:
        raise not_found()
    return json_response(render_account(account, urls))


async def _resolve_remote(request: web.Request, username: str, domain: str) -> int | None:
    """The id of `username@domain`, fetched when unknown or stale; None when unresolvable."""
    try:
        row = await remote_accounts.resolve_acct(request.app[FEDERATION], username, domain)
    except FetchError:
        return None
    return row["id"]


@routes.get("/api/v1/accounts/{id}")
@optional_auth("read:accounts")
async def show(request: web.Request) -> web.Response:
    account = await _visible_account(request)
    return json_response(render_account(account, request.app[URLS]))


@routes.get("/api/v1/accounts/{id}/statuses")
@optional_auth("read:statuses")
async def statuses(request: web.Request) -> web.Response:
    account = await _visible_account(request)
    params = await read_params(request)
    page = page_from(params)
    # Kith has no pinned statuses or media yet, so those filters match nothing.
    if params.bool("pinned", False) or params.bool("only_media", False):
        return json_response([])
    pool, viewer = request.app[POOL], viewer_id(request)
    rows = await account_store.list_account_statuses(
        pool,
        account["id"],
        viewer,
        page,
        exclude_replies=params.bool("exclude_replies", False),
        exclude_reblogs=params.bool("exclude_reblogs", False),
        exclude_sensitive=params.bool("exclude_sensitive", False),
        tagged=params.str("tagged") or None,
    )
    entities = await render_statuses(pool, rows, request.app[URLS], viewer)
    if entities:  # the Link header still pages by every row read, as the timelines do
        matcher = await filtering.load_matcher(pool, viewer, "account")
        entities = filtering.apply(entities, matcher)
    return json_response(entities, headers=link_header(request, [row["id"] for row in rows]))


async def _collection_hidden(request: web.Request, account: asyncpg.Record) -> bool:
    """Mastodon hides a profile's followers and follows from everyone but the owner when
    `hide_collections` is set, and from anyone the owner blocks."""
    viewer = viewer_id(request)
    if viewer == account["id"]:
        return False
    if account["hide_collections"]:
        return True
    return viewer is not None and await follow_store.is_blocking(
        request.app[POOL], account["id"], viewer
    )


async def _collection(request: web.Request, lister: AccountLister) -> web.Response:
    account = await _visible_account(request)
    params = await read_params(request)
    if await _collection_hidden(request, account):
        return json_response([])
    page = page_from(params, default=ACCOUNTS_DEFAULT_LIMIT, maximum=ACCOUNTS_MAX_LIMIT)
    return _accounts_response(request, await lister(request.app[POOL], account["id"], page))


@routes.get("/api/v1/accounts/{id}/followers")
@optional_auth("read:accounts")
async def followers(request: web.Request) -> web.Response:
    return await _collection(request, follow_store.list_followers)


@routes.get("/api/v1/accounts/{id}/following")
@optional_auth("read:accounts")
async def following(request: web.Request) -> web.Response:
    return await _collection(request, follow_store.list_following)


# -- following -----------------------------------------------------------------------------------


@routes.post("/api/v1/accounts/{id}/follow")
@authenticated("write:follows")
async def follow(request: web.Request) -> web.Response:
    account = await _visible_account(request)
    params = await read_params(request)
    await follows.follow(
        request.app[POOL],
        member_id(request),
        account["id"],
        reblogs=params.bool("reblogs"),
        notify=params.bool("notify"),
        languages=_strings(params, "languages") if "languages" in params else None,
    )
    return await _relationship(request, account["id"])


@routes.post("/api/v1/accounts/{id}/unfollow")
@authenticated("write:follows")
async def unfollow(request: web.Request) -> web.Response:
    account = await _visible_account(request)
    await follows.unfollow(request.app[POOL], member_id(request), account["id"])
    return await _relationship(request, account["id"])


# -- sign-up -------------------------------------------------------------------------------------


@routes.post("/api/v1/accounts")
@authenticated("write:accounts", user=False)
async def register(request: web.Request) -> web.Response:
    """Sign up through an app (`server.usecases.sign_up`: its rules, by registration mode);
    returns the new member's token with the app's scopes. In approval mode the token is refused
    until a moderator approves the account.

    Every attempt counts against the client's address (`SIGN_UP_PER_IP`), failed ones too.
    """
    pool, auth = request.app[POOL], current(request)
    await spend(pool, SIGN_UP_PER_IP, client_address(request))
    params = await read_params(request)
    form = SignUpForm(
        username=params.str("username") or "",
        email=params.str("email") or "",
        password=params.str("password") or "",
        agreement=params.bool("agreement", False),
        locale=params.str("locale") or "en",
        reason=params.str("reason") or "",
        invite_code=params.str("invite_code", max_length=INVITE_CODE_MAX) or None,
    )
    user = await sign_up(pool, request.app[URLS], form, by=Actor.system())

    app = (
        await oauth_store.get_application(pool, auth.application_id)
        if auth.application_id is not None
        else None
    )
    scopes = list(app["scopes"]) if app is not None else sorted(auth.scopes)
    access_token = secrets.token_urlsafe(32)
    token = await oauth_store.create_token(
        pool,
        token_hash=hash_secret(access_token),
        application_id=auth.application_id,
        user_id=user["id"],
        scopes=scopes,
    )
    return json_response(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "created_at": int(token["created_at"].timestamp()),
        }
    )
