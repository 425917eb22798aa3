"""Who is asking: bearer-token authentication and per-endpoint scope checks.

Handlers declare what they need with `@authenticated(scope)` (a signed-in member) or
`@optional_auth(scope)` (public data; a token, when sent, must still be valid). The resolved token
is cached on the request as `request[AUTH]`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from federation.errors import KithError
from server.scopes import covers
from server.state import POOL
from storage import oauth as oauth_store


@dataclass(frozen=True)
class Auth:
    token_id: int
    application_id: int | None
    scopes: frozenset[str]
    user_id: int | None
    account_id: int | None
    role: str | None

    @property
    def is_staff(self) -> bool:
        return self.role in ("admin", "moderator")


# None once resolved for a request that sent no token.
AUTH = web.RequestKey[Auth | None]("auth")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = request.query.get("access_token")
    return token or None


async def resolve_auth(request: web.Request) -> Auth | None:
    """The request's token, or None when it sent none; an invalid token raises 401."""
    if AUTH in request:
        return request[AUTH]
    token = _bearer(request)
    auth = None
    if token is not None:
        row = await oauth_store.get_active_token(request.app[POOL], hash_secret(token))
        if row is None:
            raise KithError(401, "The access token is invalid")
        if row["user_id"] is not None:
            if row["disabled"] or row["suspended_at"] is not None:
                raise KithError(403, "Your login is currently disabled")
            if not row["approved"]:
                raise KithError(403, "Your login is currently pending approval")
        auth = Auth(
            token_id=row["id"],
            application_id=row["application_id"],
            scopes=frozenset(row["scopes"]),
            user_id=row["user_id"],
            account_id=row["account_id"],
            role=row["role"],
        )
    request[AUTH] = auth
    return auth


def _check_scope(auth: Auth, scope: str | None) -> None:
    if scope is not None and not covers(auth.scopes, scope):
        raise KithError(403, "This action is outside the authorized scopes")


def authenticated(
    scope: str | None, *, user: bool = True, staff: bool = False
) -> Callable[[Handler], Handler]:
    """Require a valid token carrying `scope`; with `user`, one that belongs to a member."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            auth = await resolve_auth(request)
            if auth is None:
                raise KithError(401, "The access token is invalid")
            if user and auth.account_id is None:
                raise KithError(422, "This method requires an authenticated user")
            _check_scope(auth, scope)
            if staff and not auth.is_staff:
                raise KithError(403, "This action is not allowed")
            return await handler(request)

        return wrapper

    return decorate


def optional_auth(scope: str | None = None) -> Callable[[Handler], Handler]:
    """Allow anonymous requests; a token, if present, must be valid and carry `scope`."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            auth = await resolve_auth(request)
            if auth is not None:
                _check_scope(auth, scope)
            return await handler(request)

        return wrapper

    return decorate


def current(request: web.Request) -> Auth:
    """The resolved auth of a handler wrapped in `@authenticated`."""
    auth = request.get(AUTH)
    if auth is None:
        raise KithError(401, "The access token is invalid")
    return auth


def member_id(request: web.Request) -> int:
    """The signed-in member's account id, in a handler wrapped in `@authenticated` with `user`
    (the default), which has already refused tokens that belong to no member."""
    account_id = current(request).account_id
    if account_id is None:
        raise KithError(422, "This method requires an authenticated user")
    return account_id


def admin_id(request: web.Request) -> int:
    """The acting admin's account id, in a handler wrapped in `@authenticated` with `staff`;
    403 for moderators."""
    if current(request).role != "admin":
        raise KithError(403, "This action is not allowed")
    return member_id(request)


def staff_role(request: web.Request) -> str:
    """The signed-in member's role, in a handler wrapped in `@authenticated` with `staff`, which
    has already refused everyone else."""
    role = current(request).role
    if role is None:
        raise KithError(403, "This action is not allowed")
    return role


def viewer_id(request: web.Request) -> int | None:
    """The signed-in member's account id, or None for anonymous requests."""
    auth = request.get(AUTH)
    return auth.account_id if auth is not None else None
