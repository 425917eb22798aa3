"""The audience gate for GETs: who is asking for an ActivityPub document, and may they have it.

Every ActivityPub GET route is declared on a `GatedRoutes` table, whose `get` wraps the handler
in this gate, so no route can serve around it. In order, for each request:

1. a browser on a route that sends browsers to an HTML page (`html=True`) is not an ActivityPub
   client and passes untouched;
2. the host of every `keyId` the request names (draft-cavage `Signature`, RFC 9421
   `Signature-Input`) passes `federation.gate.check_incoming` before any key is fetched: a
   suspended domain, or one the allowlist does not cover, gets 403, whatever the mode;
3. the signature is verified as the inbox verifies it (`federation.signatures`, keys through
   `federation.keycache` and `services.remote_accounts.load_key`); the key's owner becomes the
   requester, whose reads `storage.outbox.servable` widens to what its domain was delivered.

Authorized fetch (Mastodon's AUTHORIZED_FETCH, "secure mode") is `instance_settings`
`authorized_fetch`, and is implied by allowlist mode as in Mastodon. With it on, an unsigned
request gets 401 and a bad signature 401 (400 when malformed). With it off, unsigned requests
are served as before and a bad signature is ignored (served as unsigned), as Mastodon does.

Two kinds of route stay open to unsigned requests, so that keys can always be fetched and two
instances in secure mode can verify each other: the instance actor (`access=OPEN`: never
verified, since verifying would mean fetching the requester's key, whose server may need ours
first) and members' actors (`access=KEY`: an unsigned request gets the minimal document).

Every answer of a gated route varies with `Signature` as well as `Accept`, always (mode on or
off), so a cache never hands a signed reader's document to another; sending it unconditionally
keeps responses the same whatever the mode.
"""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from federation import gate, remote_accounts
from federation.context import Federation
from federation.endpoints.app_state import federation_of
from federation.negotiation import wants_activitypub
from federation.signatures import SignatureError, claimed_key_ids, verify_request
from storage import remote_accounts as remote_account_store
from storage import settings

log = logging.getLogger(__name__)

VARY = "Accept, Signature"
REFUSED_DOMAIN = "Your domain is not allowed to federate with this instance"
NOT_SIGNED = "Request not signed"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Access(enum.Enum):
    """What a route asks of a request in authorized-fetch mode."""

    OPEN = "open"  # anyone; signatures are not even verified (the instance actor)
    KEY = "key"  # anyone; unsigned requests get less (members' actors: the minimal document)
    SIGNED = "signed"  # a valid signature (everything else)


@dataclass(frozen=True)
class Requester:
    """Who asked: the verified signer's account, or nobody (`account_id` None)."""

    account_id: int | None = None
    uri: str | None = None
    # Authorized fetch was in force for this request.
    secure: bool = False

    @property
    def signed(self) -> bool:
        return self.account_id is not None


_REQUESTER = web.RequestKey("fetch_gate.requester", Requester)
ANONYMOUS = Requester()


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def requester(request: web.Request) -> Requester:
    """The requester the gate found (anonymous for a browser sent to HTML)."""
    return request.get(_REQUESTER, ANONYMOUS)


class GatedRoutes(web.RouteTableDef):
    """A route table whose GET routes all pass the gate."""

    def get(
        self, path: str, *, access: Access = Access.SIGNED, html: bool = False, **kwargs: Any
    ) -> Callable[[Handler], Handler]:
        register = super().get(path, **kwargs)

        def decorator(handler: Handler) -> Handler:
            register(gated(handler, access=access, html=html))
            return handler

        return decorator

    def route(self, method: str, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        if method != "GET":
            raise TypeError("a gated route table serves GET (and so HEAD) routes only")
        return super().route(method, path, **kwargs)


def gated(handler: Handler, *, access: Access, html: bool) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if html and not wants_activitypub(request):
            return await handler(request)
        try:
            request[_REQUESTER] = await _identify(request, access)
        except _Refused as exc:
            return web.json_response(
                {"error": exc.message}, status=exc.status, headers={"Vary": VARY}
            )
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers["Vary"] = VARY
            raise
        response.headers["Vary"] = VARY
        return response

    return wrapper


async def _identify(request: web.Request, access: Access) -> Requester:
    fed = federation_of(request)
    await _pass_gate(fed, claimed_key_ids(request.headers))
    if access is Access.OPEN:
        return ANONYMOUS
    mode, authorized_fetch = await settings.federation_settings(fed.pool)
    secure = authorized_fetch or mode == "allowlist"
    if "Signature" not in request.headers:
        if secure and access is Access.SIGNED:
            raise _Refused(401, NOT_SIGNED)
        return Requester(secure=secure)
    try:
        verified = await verify_request(
            request.method,
            f"{fed.urls.base_url}{request.path_qs}",
            request.headers,
            None,
            keys=fed.keys,
            load_key=lambda key_id, refresh: remote_accounts.load_key(fed, key_id, refresh),
        )
    except SignatureError as exc:
        if secure:
            raise _Refused(exc.status, exc.reason) from None
        log.info("fetch: ignoring a bad signature on GET %s: %s", request.path, exc.reason)
        return Requester()
    await _pass_gate(fed, [verified.owner_uri])
    account = await remote_account_store.get_account_by_uri(fed.pool, verified.owner_uri)
    if account is None or account["domain"] is None:
        raise _Refused(401, "key owner is not a known remote account")
    if account["suspended_at"] is not None:
        raise _Refused(403, "Your account is suspended on this instance")
    return Requester(account["id"], account["uri"], secure)


async def _pass_gate(fed: Federation, urls: list[str]) -> None:
    try:
        await gate.check_origins(fed.gate, fed.pool, urls, local_host=fed.urls.domain)
    except gate.Refused as exc:
        log.info("fetch: refused a signed GET: %s", exc.reason)
        raise _Refused(403, REFUSED_DOMAIN) from None
