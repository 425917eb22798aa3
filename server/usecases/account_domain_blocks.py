"""A member blocking a whole domain for themselves (Mastodon's `/api/v1/domain_blocks`).

The block hides the domain's accounts from the member's timelines (`storage.timelines`) and stops
their notifications (`storage.notifications.notify`). Blocking also severs the graph with that
domain, as Mastodon does: the member's notifications from it are dropped, the member unfollows
its accounts (Undo Follow), and its followers and pending requesters are removed (Reject Follow),
all in the transaction that records the block.

The block holds afterwards: `services.follows.follow` answers a new Follow from the domain with a
Reject and refuses the member's own follows of its accounts, and `storage.deliveries` leaves the
domain out of every audience of what the member publishes, whatever follow rows exist.
"""

from __future__ import annotations

import asyncpg

from federation import outbox
from federation.domains import normalize_domain
from storage import account_domain_blocks as store
from storage import follows as follow_store
from storage import home_feed


async def block_domain(pool: asyncpg.Pool, account_id: int, domain: str) -> None:
    """Block `domain` for `account_id` (idempotent); `KithError` 422 for a bad domain."""
    domain = normalize_domain(domain)
    async with pool.acquire() as conn, conn.transaction():
        await store.insert(conn, account_id, domain)
        await store.forget_notifications_from(conn, account_id, domain)
        ties = await store.ties_with(conn, account_id, domain)
        for target_id in ties["followed"]:
            removed = await follow_store.delete_follow(conn, account_id, target_id)
            if removed is not None:
                await home_feed.remove_author(conn, account_id, target_id)
                await outbox.unfollowed(conn, account_id, target_id, removed["uri"])
        for follower_id in ties["followers"]:
            removed = await follow_store.delete_follow(conn, follower_id, account_id)
            if removed is not None:
                await outbox.follow_rejected(conn, follower_id, account_id, removed["uri"])
        for requester_id in ties["requesters"]:
            request = await follow_store.delete_follow_request(conn, requester_id, account_id)
            if request is not None:
                await outbox.follow_rejected(conn, requester_id, account_id, request["uri"])


async def unblock_domain(pool: asyncpg.Pool, account_id: int, domain: str) -> None:
    """Lift the member's block of `domain`; nothing severed comes back (as in Mastodon)."""
    await store.delete(pool, account_id, normalize_domain(domain))
