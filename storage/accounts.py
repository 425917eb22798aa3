"""Accounts (local and remote) and the users that sign in to local ones."""

from __future__ import annotations

from typing import Any

import asyncpg

from storage.db import Executor, fetch_one
from storage.pagination import Page
from storage.statuses import STATUS_COLUMNS
from storage.visibility import readable_by

# Columns a client-facing entity or a relationship needs; keys stay out of list queries.
ACCOUNT_COLUMNS = """
    a.id, a.username, a.domain, a.display_name, a.note, a.note_source, a.fields, a.uri, a.url,
    a.actor_type, a.avatar_url, a.header_url, a.locked, a.bot, a.discoverable, a.indexable,
    a.hide_collections, a.followers_count, a.following_count, a.statuses_count,
    a.last_status_at, a.moved_to_account_id, a.silenced_at, a.suspended_at, a.created_at,
    a.followers_url
"""


async def insert_local_account(
    db: Executor,
    *,
    username: str,
    uri: str,
    url: str,
    urls: dict[str, str],
    public_key_id: str,
    public_key_pem: str,
    private_key_pem: str,
    actor_type: str = "Person",
    on_conflict_do_nothing: bool = False,
) -> asyncpg.Record | None:
    """Insert a local actor; with `on_conflict_do_nothing`, None when it already exists."""
    conflict = "ON CONFLICT DO NOTHING" if on_conflict_do_nothing else ""
    return await db.fetchrow(
        f"""
        INSERT INTO accounts (username, domain, uri, url, actor_type, inbox_url, outbox_url,
                              shared_inbox_url, followers_url, following_url, featured_url,
                              public_key_id, public_key_pem, private_key_pem)
        VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        {conflict}
        RETURNING *
        """,
        username,
        uri,
        url,
        actor_type,
        urls["inbox"],
        urls["outbox"],
        urls["shared_inbox"],
        urls["followers"],
        urls["following"],
        urls["featured"],
        public_key_id,
        public_key_pem,
        private_key_pem,
    )


async def insert_user(
    db: Executor,
    *,
    account_id: int,
    email: str,
    password_hash: str,
    role: str,
    approved: bool,
    sign_up_reason: str = "",
    locale: str = "en",
    invite_id: int | None = None,
) -> asyncpg.Record:
    return await fetch_one(
        db,
        """
        INSERT INTO users (account_id, email, password_hash, role, approved, sign_up_reason,
                           locale, invite_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING *
        """,
        account_id,
        email,
        password_hash,
        role,
        approved,
        sign_up_reason,
        locale,
        invite_id,
    )


async def username_taken(db: Executor, username: str) -> bool:
    return await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE lower(username) = lower($1)"
        " AND domain IS NULL)",
        username,
    )


async def email_taken(db: Executor, email: str) -> bool:
    return await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))", email
    )


async def get_account(db: Executor, account_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = $1", account_id
    )


async def get_accounts(db: Executor, account_ids: list[int]) -> dict[int, asyncpg.Record]:
    rows = await db.fetch(
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = ANY($1::bigint[])",
        list(set(account_ids)),
    )
    return {row["id"]: row for row in rows}


async def get_account_by_username(
    db: Executor, username: str, domain: str | None = None
) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT {ACCOUNT_COLUMNS} FROM accounts a
        WHERE lower(a.username) = lower($1) AND coalesce(lower(a.domain), '') = lower($2)
        """,
        username,
        domain or "",
    )


async def get_local_account_with_keys(db: Executor, account_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM accounts WHERE id = $1 AND domain IS NULL", account_id)


async def get_local_account_by_uri(db: Executor, uri: str) -> asyncpg.Record | None:
    """A local actor with its keys, by ActivityPub id."""
    return await db.fetchrow("SELECT * FROM accounts WHERE uri = $1 AND domain IS NULL", uri)


async def get_user_by_login(db: Executor, login: str) -> asyncpg.Record | None:
    """A user by e-mail or by local username (clients send either as `username`)."""
    return await db.fetchrow(
        """
        SELECT u.*, a.username, a.suspended_at
        FROM users u JOIN accounts a ON a.id = u.account_id
        WHERE lower(u.email) = lower($1) OR (lower(a.username) = lower($1) AND a.domain IS NULL)
        ORDER BY lower(u.email) = lower($1) DESC
        LIMIT 1
        """,
        login,
    )


async def get_user(db: Executor, user_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT u.*, a.username FROM users u JOIN accounts a ON a.id = u.account_id"
        " WHERE u.id = $1",
        user_id,
    )


async def get_user_by_account(db: Executor, account_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM users WHERE account_id = $1", account_id)


async def list_local_users(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(
        """
        SELECT a.id AS account_id, a.username, u.email, u.role, u.approved, u.disabled,
               u.created_at
        FROM users u JOIN accounts a ON a.id = u.account_id
        ORDER BY a.id
        """
    )


async def update_account(db: Executor, account_id: int, changes: dict[str, Any]) -> None:
    """Set the given columns (names come from code, never from a request)."""
    if not changes:
        return
    columns = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(columns, start=2))
    await db.execute(
        f"UPDATE accounts SET {assignments}, updated_at = now() WHERE id = $1",
        account_id,
        *changes.values(),
    )


async def update_user(db: Executor, user_id: int, changes: dict[str, Any]) -> None:
    """Set the given columns (names come from code, never from a request)."""
    if not changes:
        return
    columns = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(columns, start=2))
    await db.execute(f"UPDATE users SET {assignments} WHERE id = $1", user_id, *changes.values())


async def count_local_users(db: Executor) -> int:
    return await db.fetchval("SELECT count(*) FROM users")


# Accounts others may see: not suspended and, when local, approved (Mastodon hides members
# awaiting approval as if they did not exist).
_VISIBLE = """
    a.suspended_at IS NULL
    AND (a.domain IS NOT NULL
         OR coalesce((SELECT u.approved FROM users u WHERE u.account_id = a.id), true))
"""


async def get_visible_account(db: Executor, account_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = $1 AND {_VISIBLE}", account_id
    )


async def get_visible_account_by_username(
    db: Executor, username: str, domain: str | None = None
) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT {ACCOUNT_COLUMNS} FROM accounts a
        WHERE lower(a.username) = lower($1) AND coalesce(lower(a.domain), '') = lower($2)
          AND {_VISIBLE}
        """,
        username,
        domain or "",
    )


async def staff_account_ids(db: Executor) -> list[int]:
    """Admins and moderators who can sign in (they are told about new sign-ups)."""
    rows = await db.fetch(
        """
        SELECT u.account_id FROM users u JOIN accounts a ON a.id = u.account_id
        WHERE u.role IN ('admin', 'moderator') AND u.approved AND NOT u.disabled
          AND a.suspended_at IS NULL
        """
    )
    return [row["account_id"] for row in rows]


async def list_account_statuses(
    db: Executor,
    account_id: int,
    viewer_id: int | None,
    page: Page,
    *,
    exclude_replies: bool = False,
    exclude_reblogs: bool = False,
    exclude_sensitive: bool = False,
    tagged: str | None = None,
) -> list[asyncpg.Record]:
    """A profile's statuses the viewer may read, newest first.

    `exclude_replies` keeps self-replies (threads), as Mastodon does.
    """
    where, args = page.where("s.id", 8)
    rows = await db.fetch(
        f"""
        SELECT {STATUS_COLUMNS} FROM statuses s
        WHERE s.account_id = $1 AND {readable_by("$2")} AND {where}
          AND (NOT $4 OR s.in_reply_to_id IS NULL OR s.in_reply_to_account_id = s.account_id)
          AND (NOT $5 OR s.reblog_of_id IS NULL)
          AND (NOT $6 OR NOT s.sensitive)
          AND ($7::text IS NULL OR EXISTS (
              SELECT 1 FROM statuses_tags st JOIN tags t ON t.id = st.tag_id
              WHERE st.status_id = s.id AND lower(t.name) = lower($7)))
        ORDER BY {page.order("s.id")}
        LIMIT $3
        """,
        account_id,
        viewer_id,
        page.limit,
        exclude_replies,
        exclude_reblogs,
        exclude_sensitive,
        tagged,
        *args,
    )
    return page.newest_first(rows)


def like_prefix(text: str) -> str:
    """A LIKE pattern matching strings that start with `text` (its wildcards escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search_accounts(
    db: Executor, query: str, domain: str | None, *, limit: int, offset: int
) -> list[asyncpg.Record]:
    """Visible accounts whose username or display name starts with `query` (and, given
    `domain`, whose domain starts with it): exact usernames first, then local, then popular."""
    return await db.fetch(
        f"""
        SELECT {ACCOUNT_COLUMNS} FROM accounts a
        WHERE {_VISIBLE}
          AND (a.username ILIKE $2 OR ($3::text IS NULL AND a.display_name ILIKE $2))
          AND ($3::text IS NULL OR a.domain ILIKE $3)
        ORDER BY lower(a.username) = lower($1) DESC, a.domain IS NULL DESC,
                 a.followers_count DESC, a.id
        LIMIT $4 OFFSET $5
        """,
        query,
        like_prefix(query),
        like_prefix(domain) if domain is not None else None,
        limit,
        offset,
    )
