"""What an inbox does before answering: the order Fedify follows.

1. refuse bodies over `MAX_BODY_BYTES` (413), then anything that is not a JSON object or is
   nested deeper than any activity (400);
   then pass the federation gate (`federation.gate`) with the actor's host and the signing key's
   host, before any key is fetched: a suspended domain, or one the allowlist does not cover, is
   refused with 403 and nothing of it is stored or fetched. 403 rather than Mastodon-style
   silent 202: the sender learns it is refused, and a 4xx other than 429 is a permanent failure
   for Mastodon, Fedify and Kith's own delivery, so it causes no retries;
2. verify the HTTP signature (401, or 400 when it is malformed);
3. validate the envelope against `schemas/activitypub/activity.json` (400, quoting at most an
   excerpt of the offending value);
4. check that the key's owner is the actor. When it is not (a reply forwarded by the owner of the
   thread), the object is trusted only as refetched from its own origin, and the activity is
   stored as refused when that fails;
5. de-duplicate by activity id; store and enqueue in one transaction; answer 202.

One exception to step 2: an unknown actor's Delete of itself cannot be verified (its key is gone)
and is acknowledged without being stored.

Processing happens later, in the worker (`federation.inbox.process`), so a burst of deliveries
never holds an inbox up, and nothing a peer sends can make the inbox answer 500.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from federation import gate, remote_accounts
from federation.context import Federation
from federation.fetch import FetchError, fetch_object
from federation.parse.actors import authority
from federation.parse.notes import attributed_to, reference
from federation.parse.schema import MAX_DEPTH, first_error, too_deep
from federation.signatures import SignatureError, claimed_key_ids, verify_request
from storage import inbox as inbox_store
from storage import remote_accounts as remote_account_store

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
QUEUE = "inbox"
# Only these carry an object whose refetched version stands for the activity's meaning.
REFETCHABLE = frozenset({"Create", "Update"})
FORWARD_UNVERIFIED = "refused: forwarded, could not verify"
REFUSED_DOMAIN = "Your domain is not allowed to federate with this instance"


class Rejected(Exception):
    """The delivery is refused; `status` and `message` are sent back."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def receive(fed: Federation, request: web.Request) -> None:
    """Verify, check and store one delivery; raises `Rejected` for anything refused."""
    body = await _read_body(request)
    activity = _parse(body)
    await _pass_gate(fed, request, activity)
    try:
        verified = await verify_request(
            request.method,
            f"{fed.urls.base_url}{request.path_qs}",
            request.headers,
            body,
            keys=fed.keys,
            load_key=lambda key_id, refresh: remote_accounts.load_key(fed, key_id, refresh),
        )
    except SignatureError as exc:
        if await _deletion_of_a_stranger(fed, activity):
            return
        raise Rejected(exc.status, exc.reason) from None
    error = first_error("activity", activity)
    if error is not None:
        raise Rejected(400, f"invalid activity: {error}")
    actor = reference(activity["actor"])
    if actor is None:  # the schema's URI pattern lets through what http_url refuses (a bad port)
        raise Rejected(400, "invalid activity: actor is not an http(s) URL")
    outcome = None
    if verified.owner_uri != actor:
        outcome = await _adopt_forwarded(fed, activity, actor, verified.owner_uri)
    await _store(fed, activity, actor, verified.key_id, outcome)


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise Rejected(413, "Request entity too large")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Rejected(413, "Request entity too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _deletion_of_a_stranger(fed: Federation, activity: dict[str, Any]) -> bool:
    """A deleted actor's farewell that cannot be verified (its key went with it), from an actor
    Kith never knew: there is nothing to delete, so it is acknowledged rather than refused, as
    Mastodon does; a 401 would only make its server retry for days."""
    actor = reference(activity.get("actor"))
    if (
        activity.get("type") != "Delete"
        or actor is None
        or reference(activity.get("object")) != actor
    ):
        return False
    if await remote_account_store.get_account_by_uri(fed.pool, actor) is not None:
        return False
    log.info("inbox: unverifiable Delete of unknown actor %s acknowledged", actor)
    return True


async def _pass_gate(fed: Federation, request: web.Request, activity: dict[str, Any]) -> None:
    """Refuse (403) when the actor's host or the signing key's host may not federate with us.

    Both are taken unverified, which is safe: this can only refuse, and a forger naming a
    blocked host gets refused rather than let in."""
    urls = [reference(activity.get("actor")), *claimed_key_ids(request.headers)]
    try:
        await gate.check_origins(fed.gate, fed.pool, urls, local_host=fed.urls.domain)
    except gate.Refused as exc:
        log.info("inbox: refused %s: %s", activity.get("id"), exc.reason)
        raise Rejected(403, REFUSED_DOMAIN) from None


def _parse(body: bytes) -> dict[str, Any]:
    if b"\\u0000" in body:  # PostgreSQL cannot store NUL in text or jsonb
        raise Rejected(400, "body contains NUL characters")
    try:
        activity = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Rejected(400, "body is not JSON") from None
    if not isinstance(activity, dict):
        raise Rejected(400, "body is not a JSON object")
    if too_deep(activity):
        raise Rejected(400, f"body is nested more than {MAX_DEPTH} levels deep")
    return activity


async def _adopt_forwarded(
    fed: Federation, activity: dict[str, Any], actor: str, signer: str
) -> str | None:
    """Replace a forwarded activity's object by the version its origin serves.

    Returns None when the refetched object vouches for the activity (it is attributed to the
    actor, and served from its own id's host), else the refusal to record.
    """
    object_ = activity.get("object")
    if activity["type"] not in REFETCHABLE or object_ is None or isinstance(object_, list):
        log.info("inbox: %s signed by %s for %s: not verifiable", activity["id"], signer, actor)
        return FORWARD_UNVERIFIED
    object_id = reference(object_)
    if object_id is None:
        return FORWARD_UNVERIFIED
    try:
        fetched = await fetch_object(fed, object_id)
    except FetchError as exc:
        log.info("inbox: forwarded %s: refetching %s failed: %s", activity["id"], object_id, exc)
        return FORWARD_UNVERIFIED
    author = attributed_to(fetched)
    if author is None or authority(author) != authority(object_id) or author != actor:
        log.info("inbox: forwarded %s: refetched object is not the actor's", activity["id"])
        return FORWARD_UNVERIFIED
    activity["object"] = fetched
    return None


async def _store(
    fed: Federation,
    activity: dict[str, Any],
    actor: str,
    key_id: str,
    outcome: str | None,
) -> None:
    """Store the activity, queued for the worker, or with the `outcome` it was refused with."""
    fields = {
        "activity_uri": activity["id"],
        "actor_uri": actor,
        "signer_key_id": key_id,
        "type": activity["type"],
        "payload": activity,
    }
    if outcome is None:
        stored_id = await inbox_store.accept_activity(fed.pool, **fields, queue=QUEUE)
    else:
        stored_id = await inbox_store.insert_activity(fed.pool, **fields, outcome=outcome)
    if stored_id is None:
        log.info("inbox: %s already received", activity["id"])
