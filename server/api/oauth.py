"""OAuth 2 as Mastodon speaks it: server metadata, the authorization page, tokens, revocation.

The token and revocation endpoints answer in OAuth's error shape (`error` is a code such as
`invalid_grant`, `error_description` says what it means). A bad authorization request is shown to
the person in the browser as an HTML page, never redirected to a URI that did not check out.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus, urlencode

import asyncpg
from aiohttp import web

from federation.errors import KithError
from server.api.apps import OOB_URI
from server.auth import hash_secret
from server.json import json_response
from server.params import Params, read_params
from server.rate_limits import RateLimited, spend_sign_in, take_back
from server.scopes import ALL_SCOPES, covers, parse_scopes
from server.state import CONFIG, POOL
from server.usecases.passwords import hash_password, verify_password
from storage import accounts as account_store
from storage import oauth as oauth_store
from web.render import render, render_message

routes = web.RouteTableDef()

CODE_LIFETIME = timedelta(minutes=10)
GRANT_TYPES = ("authorization_code", "password", "client_credentials")
RESPONSE_MODES = ("query", "fragment", "form_post")
CSRF_COOKIE = "kith_oauth_csrf"
# RFC 6749 §5.1: responses carrying tokens or codes must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# base64url(sha256(verifier)) without padding is always 43 characters.
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")

_SCOPE_DESCRIPTIONS = {
    "read": "Read all your account's data",
    "write": "Modify all your account's data",
    "follow": "Modify account relationships",
    "push": "Receive your push notifications",
    "profile": "Read only your account's profile information",
    "admin:read": "Read all data on the server",
    "admin:write": "Modify all data on the server",
}

INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
INVALID_SCOPE = "The requested scope is invalid, unknown, or malformed."


def oauth_error(status: int, error: str, description: str) -> KithError:
    return KithError(status, error, description=description)


def _missing(name: str) -> KithError:
    return oauth_error(400, "invalid_request", f"Missing required parameter: {name}.")


@routes.get("/.well-known/oauth-authorization-server")
async def server_metadata(request: web.Request) -> web.Response:
    """RFC 8414 metadata; Mastodon.py reads the grant types and endpoints from it."""
    base = request.app[CONFIG].base_url
    return json_response(
        {
            "issuer": f"{base}/",
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "app_registration_endpoint": f"{base}/api/v1/apps",
            "scopes_supported": sorted(ALL_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": list(RESPONSE_MODES),
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": list(GRANT_TYPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
    )


# --- Who is asking: the client, and the person signing in -------------------------------------


def _client_credentials(request: web.Request, params: Params) -> tuple[str | None, str | None]:
    """`client_id` and `client_secret` from HTTP Basic auth, else from the parameters."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return params.str("client_id"), params.str("client_secret")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except ValueError:
        return None, None
    client_id, _, secret = decoded.partition(":")
    # RFC 6749 §2.3.1: both are form-encoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


async def _authenticate_client(request: web.Request, params: Params) -> asyncpg.Record | None:
    """The application whose credentials the request carries; None when absent or wrong."""
    client_id, secret = _client_credentials(request, params)
    if not client_id or not secret:
        return None
    app = await oauth_store.get_application_by_client_id(request.app[POOL], client_id)
    if app is None or not hmac.compare_digest(app["client_secret"], hash_secret(secret)):
        return None
    return app


@functools.cache
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


async def _check_login(pool: asyncpg.Pool, login: str, password: str) -> asyncpg.Record | None:
    """The user with this e-mail or username and password, or None.

    An unknown login still costs one password check, so timing does not tell which logins exist.
    """
    user = await account_store.get_user_by_login(pool, login) if login else None
    password_hash = user["password_hash"] if user is not None else _decoy_hash()
    matches = await asyncio.to_thread(verify_password, password_hash, password)
    return user if matches and user is not None else None


async def _sign_in(request: web.Request, login: str, password: str) -> asyncpg.Record | None:
    """`_check_login` behind the sign-in rate limits (`server/rate_limits.py`).

    Raises RateLimited before the password is hashed; a right password takes its hits back.
    """
    pool = request.app[POOL]
    hits = await spend_sign_in(request, login)
    user = await _check_login(pool, login, password)
    if user is not None:
        await take_back(pool, hits)
    return user


def _refusal(user: asyncpg.Record) -> str | None:
    """Why this user, though the password was right, may not sign in (None: they may)."""
    if user["disabled"] or user["suspended_at"] is not None:
        return "Your login is currently disabled"
    if not user["approved"]:
        return "Your login is currently pending approval"
    if user["confirmed_at"] is None:
        return "You need to confirm your e-mail address before you can sign in"
    return None


def _requested_scopes(value: object, app: asyncpg.Record) -> list[str] | None:
    """The scopes asked for (default `read`), or None when unknown or beyond the app's own."""
    if value is not None and not isinstance(value, str | list):
        return None
    try:
        scopes = parse_scopes(value)
    except ValueError:
        return None
    if not all(covers(app["scopes"], scope) for scope in scopes):
        return None
    return scopes


# --- The authorization page ----------------------------------------------------------------


class InvalidAuthorization(Exception):
    """An authorization request that cannot go on; the message is shown to the user."""


@dataclass(frozen=True)
class Authorization:
    """A checked authorization request: which app asks for what, and where the answer goes."""

    app: asyncpg.Record
    redirect_uri: str
    scopes: list[str]
    state: str | None
    code_challenge: str | None
    response_mode: str

    def hidden_fields(self) -> dict[str, str]:
        """The request, carried through the sign-in form (and checked again on submit)."""
        fields = {
            "client_id": self.app["client_id"],
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": " ".join(self.scopes),
            "response_mode": self.response_mode,
        }
        if self.state is not None:
            fields["state"] = self.state
        if self.code_challenge is not None:
            fields["code_challenge"] = self.code_challenge
            fields["code_challenge_method"] = "S256"
        return fields


async def _authorization(request: web.Request, params: Params) -> Authorization:
    """Check an authorization request; `force_login` and `lang` are accepted and ignored."""
    client_id = params.str("client_id")
    app = None
    if client_id:
        app = await oauth_store.get_application_by_client_id(request.app[POOL], client_id)
    if app is None:
        raise InvalidAuthorization("This application is not known to this server.")
    redirect_uri = params.str("redirect_uri")
    if redirect_uri is None or redirect_uri not in app["redirect_uris"]:
        raise InvalidAuthorization(
            "The redirect URI is not one this application registered with this server."
        )
    if params.str("response_type") != "code":
        raise InvalidAuthorization("The authorization server does not support this response type.")
    scopes = _requested_scopes(params.raw("scope"), app)
    if scopes is None:
        raise InvalidAuthorization(INVALID_SCOPE)
    challenge = params.str("code_challenge") or None
    if challenge is not None:
        if params.str("code_challenge_method") != "S256":
            raise InvalidAuthorization("The code challenge method must be S256.")
        if not _S256_CHALLENGE.match(challenge):
            raise InvalidAuthorization("The code challenge is malformed.")
    response_mode = params.str("response_mode") or "query"
    if response_mode not in RESPONSE_MODES:
        raise InvalidAuthorization("The response mode is not supported.")
    return Authorization(
        app=app,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=params.str("state") or None,
        code_challenge=challenge,
        response_mode=response_mode,
    )


def _describe_scope(scope: str) -> str:
    if scope in _SCOPE_DESCRIPTIONS:
        return _SCOPE_DESCRIPTIONS[scope]
    prefix, _, resource = scope.rpartition(":")
    verb = "Read" if prefix.endswith("read") else "Modify"
    whose = "the server's" if prefix.startswith("admin") else "your"
    return f"{verb} {whose} {resource.replace('_', ' ')}"


def _sign_in_page(
    request: web.Request,
    authorization: Authorization,
    *,
    error: str | None = None,
    login: str = "",
    status: int = 200,
) -> web.Response:
    """The sign-in and consent form, with a double-submit CSRF token (cookie + hidden field)."""
    csrf_token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        "oauth_authorize.html",
        status=status,
        headers=NO_STORE,
        app_name=authorization.app["name"],
        app_website=authorization.app["website"],
        scopes=[(scope, _describe_scope(scope)) for scope in authorization.scopes],
        hidden={**authorization.hidden_fields(), "csrf_token": csrf_token},
        error=error,
        login=login,
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token,
        path="/oauth",
        max_age=3600,
        httponly=True,
        samesite="Lax",
        secure=request.app[CONFIG].scheme == "https",
    )
    return response


def _too_many_sign_ins(
    request: web.Request, authorization: Authorization, login: str, retry_after: int
) -> web.Response:
    """The sign-in form again, saying when to try again (429 with Retry-After)."""
    minutes = math.ceil(retry_after / 60)
    error = (
        "Too many sign-in attempts. Please try again in "
        f"{minutes} minute{'s' if minutes > 1 else ''}."
    )
    response = _sign_in_page(request, authorization, error=error, login=login, status=429)
    response.headers["Retry-After"] = str(retry_after)
    return response


def _csrf_ok(request: web.Request, params: Params) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = params.str("csrf_token")
    if not cookie or not sent:
        return False
    return hmac.compare_digest(cookie, sent)


def _respond(authorization: Authorization, result: dict[str, str]) -> web.Response:
    """Hand `result` (a code or an error) back to the client the way it asked for it."""
    fields = dict(result)
    if authorization.state is not None:
        fields["state"] = authorization.state
    name = authorization.app["name"]
    uri = authorization.redirect_uri
    if uri == OOB_URI:
        if "code" not in fields:
            return render_message("Authorization denied", f"{name} was not given access.")
        return render(
            "oauth_code.html", headers=NO_STORE, app_name=name, fields=fields, post_to=None
        )
    if authorization.response_mode == "form_post":
        return render(
            "oauth_code.html", headers=NO_STORE, app_name=name, fields=fields, post_to=uri
        )
    # Registered redirect URIs carry no fragment, so appending is exact for any scheme.
    if authorization.response_mode == "fragment":
        location = f"{uri}#{urlencode(fields)}"
    else:
        location = f"{uri}{'&' if '?' in uri else '?'}{urlencode(fields)}"
    raise web.HTTPFound(location, headers=NO_STORE)


@routes.get("/oauth/authorize")
@routes.get("/oauth/authorize/")
async def authorize_page(request: web.Request) -> web.Response:
    params = await read_params(request)
    try:
        authorization = await _authorization(request, params)
    except InvalidAuthorization as exc:
        return render_message("Authorization failed", str(exc), status=400)
    return _sign_in_page(request, authorization)


@routes.post("/oauth/authorize")
@routes.post("/oauth/authorize/")
async def authorize(request: web.Request) -> web.Response:
    params = await read_params(request)
    try:
        authorization = await _authorization(request, params)
    except InvalidAuthorization as exc:
        return render_message("Authorization failed", str(exc), status=400)
    login = params.str("login", "")
    if not _csrf_ok(request, params):
        error = "Your session expired. Please try again."
        return _sign_in_page(request, authorization, error=error, login=login, status=403)
    if params.str("decision") == "deny":
        return _respond(
            authorization,
            {
                "error": "access_denied",
                "error_description": "The resource owner denied the request.",
            },
        )

    try:
        user = await _sign_in(request, login, params.str("password", ""))
    except RateLimited as exc:
        return _too_many_sign_ins(request, authorization, login, exc.retry_after)
    if user is None:
        error = "Invalid e-mail address, username or password."
        return _sign_in_page(request, authorization, error=error, login=login, status=401)
    refusal = _refusal(user)
    if refusal is not None:
        return _sign_in_page(request, authorization, error=refusal, login=login, status=403)

    code = secrets.token_urlsafe(32)
    await oauth_store.create_authorization_code(
        request.app[POOL],
        code_hash=hash_secret(code),
        application_id=authorization.app["id"],
        user_id=user["id"],
        redirect_uri=authorization.redirect_uri,
        scopes=authorization.scopes,
        code_challenge=authorization.code_challenge,
        code_challenge_method="S256" if authorization.code_challenge else None,
        expires_at=datetime.now(UTC) + CODE_LIFETIME,
    )
    return _respond(authorization, {"code": code})


# --- Tokens --------------------------------------------------------------------------------


def _pkce_ok(code: asyncpg.Record, verifier: str | None) -> bool:
    """RFC 7636 S256; a verifier for a code issued without a challenge is refused too."""
    if code["code_challenge"] is None:
        return verifier is None
    if verifier is None:
        return False
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(expected, code["code_challenge"])


async def _code_grant(
    pool: asyncpg.Pool, app: asyncpg.Record, params: Params
) -> tuple[int, list[str]]:
    """(user id, scopes) for a valid authorization code.

    The code is spent before it is checked, so a wrong verifier or redirect URI burns it and
    cannot be retried.
    """
    code = params.str("code")
    if not code:
        raise _missing("code")
    grant = await oauth_store.consume_authorization_code(pool, hash_secret(code), app["id"])
    if (
        grant is None
        or grant["redirect_uri"] != params.str("redirect_uri")
        or not _pkce_ok(grant, params.str("code_verifier") or None)
    ):
        raise oauth_error(400, "invalid_grant", INVALID_GRANT)
    return grant["user_id"], list(grant["scopes"])


async def _password_grant(
    request: web.Request, app: asyncpg.Record, params: Params
) -> tuple[int, list[str]]:
    """(user id, scopes) for a right login (e-mail or username) and password.

    Raises RateLimited when the sign-in limits are used up.
    """
    login = params.str("username")
    password = params.str("password")
    if not login:
        raise _missing("username")
    if not password:
        raise _missing("password")
    scopes = _requested_scopes(params.raw("scope"), app)
    if scopes is None:
        raise oauth_error(400, "invalid_scope", INVALID_SCOPE)
    user = await _sign_in(request, login, password)
    if user is None:
        raise oauth_error(400, "invalid_grant", INVALID_GRANT)
    refusal = _refusal(user)
    if refusal is not None:
        raise KithError(403, refusal)
    return user["id"], scopes


@routes.post("/oauth/token")
async def token(request: web.Request) -> web.Response:
    params = await read_params(request)
    grant_type = params.str("grant_type")
    if not grant_type:
        raise _missing("grant_type")
    if grant_type not in GRANT_TYPES:
        raise oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )
    app = await _authenticate_client(request, params)
    if app is None:
        raise oauth_error(401, "invalid_client", INVALID_CLIENT)

    pool = request.app[POOL]
    if grant_type == "authorization_code":
        user_id, scopes = await _code_grant(pool, app, params)
    elif grant_type == "password":
        user_id, scopes = await _password_grant(request, app, params)
    else:
        user_id = None
        requested = _requested_scopes(params.raw("scope"), app)
        if requested is None:
            raise oauth_error(400, "invalid_scope", INVALID_SCOPE)
        scopes = requested

    access_token = secrets.token_urlsafe(32)
    row = await oauth_store.create_token(
        pool,
        token_hash=hash_secret(access_token),
        application_id=app["id"],
        user_id=user_id,
        scopes=scopes,
    )
    if user_id is not None:
        await account_store.update_user(pool, user_id, {"last_sign_in_at": row["created_at"]})
    return json_response(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "created_at": int(row["created_at"].timestamp()),
        },
        headers=NO_STORE,
    )


@routes.post("/oauth/revoke")
async def revoke(request: web.Request) -> web.Response:
    """RFC 7009: an unknown or already revoked token is not an error; another app's token is."""
    params = await read_params(request)
    unauthorized = oauth_error(
        403, "unauthorized_client", "You are not authorized to revoke this token."
    )
    app = await _authenticate_client(request, params)
    if app is None:
        raise unauthorized
    token_value = params.str("token")
    if token_value:
        pool = request.app[POOL]
        token_hash = hash_secret(token_value)
        row = await oauth_store.get_token(pool, token_hash)
        if row is not None and row["revoked_at"] is None:
            if row["application_id"] not in (None, app["id"]):
                raise unauthorized
            await oauth_store.revoke_token(pool, token_hash, row["application_id"])
    return json_response({})
