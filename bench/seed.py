"""Bulk data for the benchmarks, written with COPY (the streaming triggers are switched off while
seeding, so seeding a million statuses does not notify a million times).

Members that sign in are made through the real service (`create_local_account`) with a token;
the crowds around them (authors, followers, statuses) are COPYed.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass

import asyncpg

from federation.urls import LocalUrls
from server.auth import hash_secret
from server.usecases.accounts import create_local_account
from storage import oauth as oauth_store
from storage.db import create_pool


@dataclass(frozen=True)
class Member:
    account_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def member(dsn: str, base_url: str, username: str) -> Member:
    """A local account with a full-scope token, made as the API would make it."""
    pool = await create_pool(dsn)
    try:
        user = await create_local_account(
            pool,
            LocalUrls(base_url),
            username=username,
            email=f"{username}@example.org",
            password="correct horse battery staple",
        )
        token = uuid.uuid4().hex
        await oauth_store.create_token(
            pool,
            token_hash=hash_secret(token),
            application_id=None,
            user_id=user["id"],
            scopes=["read", "write", "follow", "push"],
        )
    finally:
        await pool.close()
    return Member(user["account_id"], token)


_sequence = itertools.count()


def snowflakes(count: int) -> list[int]:
    """`count` increasing ids shaped like `kith_id()` (milliseconds << 16 | a sequence), one
    millisecond apart and ending a second ago; the sequence runs on across calls, so two calls
    in the same millisecond do not collide."""
    now_ms = int(time.time() * 1000) - 1000
    return [(now_ms - (count - n)) << 16 | (next(_sequence) & 0xFFFF) for n in range(count)]


async def accounts(
    conn: asyncpg.Connection,
    count: int,
    *,
    prefix: str,
    base_url: str,
    remote_hosts: int = 0,
    inbox_of_host=None,
) -> list[int]:
    """COPY `count` accounts: local ones (domain NULL) under `base_url`, or remote ones spread over
    `remote_hosts` hosts, whose shared inbox is `inbox_of_host(n)`; returns their ids."""
    ids = snowflakes(count)
    records = []
    for n, account_id in enumerate(ids):
        name = f"{prefix}{n}"
        if remote_hosts:
            host_n = n % remote_hosts
            host = f"{prefix}{host_n}.example"
            shared = inbox_of_host(host_n)
            uri = f"{shared.rsplit('/', 1)[0]}/users/{name}"
            records.append((account_id, name, host, uri, f"{uri}/inbox", shared))
        else:
            records.append((account_id, name, None, f"{base_url}/users/{name}", None, None))
    await conn.copy_records_to_table(
        "accounts",
        records=records,
        columns=["id", "username", "domain", "uri", "inbox_url", "shared_inbox_url"],
    )
    return ids


async def follows(conn: asyncpg.Connection, pairs: list[tuple[int, int]]) -> None:
    """COPY (follower, followed) pairs."""
    ids = snowflakes(len(pairs))
    await conn.copy_records_to_table(
        "follows",
        records=[(i, a, b) for i, (a, b) in zip(ids, pairs, strict=True)],
        columns=["id", "account_id", "target_account_id"],
    )


async def statuses(
    conn: asyncpg.Connection, authors: list[int], count: int, *, base_url: str
) -> list[tuple[int, int]]:
    """COPY `count` public statuses spread round-robin over `authors`; returns (id, author)."""
    ids = snowflakes(count)
    made = [(status_id, authors[n % len(authors)]) for n, status_id in enumerate(ids)]
    await conn.execute("ALTER TABLE statuses DISABLE TRIGGER USER")
    try:
        await conn.copy_records_to_table(
            "statuses",
            records=(
                (sid, f"{base_url}/statuses/{sid}", author, False, "public", f"<p>status {sid}</p>")
                for sid, author in made
            ),
            columns=["id", "uri", "account_id", "local", "visibility", "content"],
        )
    finally:
        await conn.execute("ALTER TABLE statuses ENABLE TRIGGER USER")
    return made


async def home_feed(conn: asyncpg.Connection, reader: int, made: list[tuple[int, int]]) -> None:
    await conn.execute("ALTER TABLE home_feed DISABLE TRIGGER USER")
    try:
        await conn.copy_records_to_table(
            "home_feed",
            records=((reader, sid, author) for sid, author in made),
            columns=["account_id", "status_id", "author_account_id"],
        )
    finally:
        await conn.execute("ALTER TABLE home_feed ENABLE TRIGGER USER")
