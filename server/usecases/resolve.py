"""What a URL pasted into search names: an account or a status, known here or fetched.

It lives apart from `remote_accounts` and `remote_statuses` because it needs both (and
`remote_statuses` already depends on `remote_accounts`). One fetch serves either kind: the
document's type decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from federation import remote_accounts
from federation.context import Federation
from federation.fetch import FetchError, fetch_object
from federation.parse.actors import http_url
from server.usecases import remote_statuses
from storage import remote_accounts as account_store
from storage import remote_statuses as status_store


@dataclass(frozen=True)
class Resolved:
    account: asyncpg.Record | None = None
    status: asyncpg.Record | None = None


async def known_url(fed: Federation, url: str) -> Resolved:
    """The account (by id or profile URL) or status (by id) `url` names, from the database."""
    account = await account_store.get_account_by_url(fed.pool, url)
    if account is not None:
        return Resolved(account=account)
    return Resolved(status=await status_store.get_status_by_uri(fed.pool, url))


async def resolve_url(fed: Federation, url: str) -> Resolved:
    """What `url` names, fetched from its server when unknown (or an account gone stale).

    Raises `FetchError` when it cannot be fetched, or is neither an actor nor a post. Local URLs
    are only looked up: this server is the authority on its own objects.
    """
    if http_url(url) is None:
        raise FetchError(f"{url!r} is not an http(s) URL")
    known = await known_url(fed, url)
    if known.status is not None or remote_accounts.is_local(fed, url):
        return known
    if known.account is not None and not remote_accounts.is_stale(known.account):
        return known
    doc = await fetch_object(fed, url)
    if remote_accounts.is_actor(doc):
        return Resolved(account=await remote_accounts.store_actor(fed, doc))
    try:
        return Resolved(status=await remote_statuses.store_fetched_note(fed, doc))
    except ValueError as exc:
        raise FetchError(f"{url} is neither an actor nor a post: {exc}") from exc
