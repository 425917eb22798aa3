"""The instance actor: an `Application` that signs fetches and reports for the server itself.

Like Mastodon's, it is an account row named after the domain, with its own key pair, made the
first time the server starts.
"""

from __future__ import annotations

import asyncio

import asyncpg

from federation.keys import generate_rsa_keypair
from federation.urls import LocalUrls
from storage import accounts as account_store
from storage.db import MissingRow


async def ensure_instance_actor(pool: asyncpg.Pool, urls: LocalUrls) -> asyncpg.Record:
    """The instance actor's account row (with keys), created when missing."""
    existing = await account_store.get_local_account_by_uri(pool, urls.instance_actor())
    if existing is not None:
        return existing
    private_pem, public_pem = await asyncio.to_thread(generate_rsa_keypair)
    actor = urls.instance_actor()
    await account_store.insert_local_account(
        pool,
        username=urls.domain,
        uri=actor,
        url=f"{urls.base_url}/about",
        urls={
            "inbox": f"{actor}/inbox",
            "outbox": f"{actor}/outbox",
            "shared_inbox": f"{urls.base_url}/inbox",
            "followers": f"{actor}/followers",
            "following": f"{actor}/following",
            "featured": f"{actor}/collections/featured",
        },
        public_key_id=f"{actor}#main-key",
        public_key_pem=public_pem,
        private_key_pem=private_pem,
        actor_type="Application",
        on_conflict_do_nothing=True,
    )
    created = await account_store.get_local_account_by_uri(pool, actor)
    if created is None:
        raise MissingRow(f"no local account {actor} after creating the instance actor")
    return created
