"""Remote accounts: found by id, by `user@domain` or by key id, fetched when unknown or stale.

The database is a cache of what other servers say about their actors. A row younger than a day
is used as it is; an older one is refreshed, and kept when the refresh fails (a server that is
down for an hour should not make its members vanish). Local accounts are never fetched.

Everything that cannot be resolved raises `FetchError`, whose reason says why (network, origin
check, or an actor document that `parse_actor` refuses).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from federation.context import Federation
from federation.fetch import FetchError, fetch_object
from federation.parse.actors import ACTOR_TYPES, RemoteActor, authority, http_url, parse_actor
from federation.policies.domain_block import media_rejected
from federation.webfinger_client import webfinger
from storage import domain_blocks as domain_store
from storage import remote_accounts as store

STALE_AFTER = timedelta(days=1)


def is_local(fed: Federation, url: str) -> bool:
    """Whether `url` (an absolute http(s) URL) is on this instance's host."""
    return authority(url) == fed.urls.domain.lower()


def is_actor(doc: dict[str, Any]) -> bool:
    kind = doc.get("type")
    types = kind if isinstance(kind, list) else [kind]
    return any(t in ACTOR_TYPES for t in types)


def is_stale(row: asyncpg.Record) -> bool:
    if row["domain"] is None:
        return False
    fetched = row["fetched_at"]
    return fetched is None or datetime.now(UTC) - fetched > STALE_AFTER


async def resolve_actor(fed: Federation, uri: str, *, refresh: bool = False) -> asyncpg.Record:
    """The account of actor `uri`, fetched when unknown, stale, or when `refresh` is asked."""
    if http_url(uri) is None:
        raise FetchError(f"{uri!r} is not an http(s) URL")
    if is_local(fed, uri):
        row = await store.get_account_by_uri(fed.pool, uri)
        if row is None:
            raise FetchError(f"no local actor {uri}")
        return row
    row = await store.get_account_by_uri(fed.pool, uri)
    if row is not None and not refresh and not is_stale(row):
        return row
    try:
        return await store_actor(fed, await fetch_object(fed, uri))
    except FetchError as exc:
        # A stale copy beats nothing, but not when asked to refresh or told the actor is gone.
        if row is not None and not refresh and exc.status != 410:
            return row
        raise


async def resolve_acct(fed: Federation, username: str, domain: str) -> asyncpg.Record:
    """The account `username@domain`: local, known and fresh, or found by WebFinger.

    The account is stored under its actor's own host, which WebFinger's answer may not be: the
    actor document is the authority, so a WebFinger server cannot attach a name to another
    server's actor.
    """
    if not domain or domain.lower() == fed.urls.domain.lower():
        row = await store.get_account_by_acct(fed.pool, username, None)
        if row is None:
            raise FetchError(f"no local account {username}")
        return row
    row = await store.get_account_by_acct(fed.pool, username, domain)
    if row is not None and not is_stale(row):
        return row
    try:
        return await resolve_actor(fed, await webfinger(fed, username, domain), refresh=True)
    except FetchError as exc:
        if row is not None and exc.status != 410:
            return row
        raise


async def load_key(fed: Federation, key_id: str, refresh: bool) -> tuple[str, str] | None:
    """(owner actor id, public key PEM) for signature verification, or None.

    Known keys come from the database unless `refresh` (the signature failed with the stored
    key: it may have been rotated). Otherwise the key id is fetched without its fragment: that
    is the actor itself for Mastodon's `actor#main-key`, or a key document naming its `owner`,
    whose actor document must then list the key as its own.
    """
    if not refresh:
        row = await store.get_account_by_key_id(fed.pool, key_id)
        if row is not None and row["public_key_pem"]:
            return row["uri"], row["public_key_pem"]
    if http_url(key_id) is None or is_local(fed, key_id):
        return None
    try:
        doc = await fetch_object(fed, key_id.split("#", 1)[0])
        if is_actor(doc):
            row = await store_actor(fed, doc)
        elif owner := http_url(doc.get("owner")):
            row = await resolve_actor(fed, owner, refresh=True)
        else:
            return None
    except FetchError:
        return None
    if row["public_key_id"] != key_id or not row["public_key_pem"]:
        return None
    return row["uri"], row["public_key_pem"]


async def store_actor(fed: Federation, doc: dict[str, Any]) -> asyncpg.Record:
    """Store actor document `doc` (already fetched from its origin) and return the account."""
    try:
        actor = parse_actor(doc)
    except ValueError as exc:
        raise FetchError(f"unusable actor: {exc}") from exc
    if is_local(fed, actor.uri):
        raise FetchError(f"{actor.uri} is a local actor")
    if await media_rejected(fed, authority(actor.uri)):
        actor = dataclasses.replace(actor, avatar=None, header=None)
    row = await _upsert(fed, actor)
    if row is None:
        raise FetchError(f"{actor.uri} is a local account")
    if row["silenced_at"] is None and await domain_store.limit_new_account(
        fed.pool, row["id"], actor.domain
    ):
        limited = await store.get_account_by_uri(fed.pool, actor.uri)
        if limited is None:
            raise FetchError(f"{actor.uri} was deleted while being stored")
        row = limited
    return row


async def _upsert(fed: Federation, actor: RemoteActor) -> asyncpg.Record | None:
    """Insert or update the account. Two resolutions of one new actor can race: the upsert
    arbitrates on `uri`, so the loser may trip over the winner's `(username, domain)` instead;
    a second try then finds the row by `uri` and updates it. A violation that persists means
    another actor holds the name."""
    columns = _columns(actor)

    async def upsert() -> asyncpg.Record | None:
        return await store.upsert_remote_account(
            fed.pool, columns, moved_to_uri=actor.moved_to, published=actor.published
        )

    try:
        return await upsert()
    except asyncpg.UniqueViolationError:
        pass  # perhaps the race above: try once more, as an update
    try:
        return await upsert()
    except asyncpg.UniqueViolationError as exc:
        taken = f"{actor.username}@{actor.domain}"
        raise FetchError(f"{taken} already belongs to another actor") from exc


def _columns(actor: RemoteActor) -> dict[str, Any]:
    return {
        "username": actor.username,
        "domain": actor.domain,
        "display_name": actor.display_name,
        "note": actor.note,
        "fields": actor.fields,
        "uri": actor.uri,
        "url": actor.url,
        "actor_type": actor.actor_type,
        "inbox_url": actor.inbox,
        "outbox_url": actor.outbox,
        "shared_inbox_url": actor.shared_inbox,
        "followers_url": actor.followers,
        "following_url": actor.following,
        "featured_url": actor.featured,
        "public_key_id": actor.public_key_id,
        "public_key_pem": actor.public_key_pem,
        "avatar_url": actor.avatar,
        "header_url": actor.header,
        "locked": actor.locked,
        "bot": actor.bot,
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
    }
