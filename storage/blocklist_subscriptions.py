"""Block-list subscriptions, the entries each list contributes, and the changes held for review.

An entry keeps the severity its list gives; the subscription's `max_severity` caps it when the
effective blocks are computed (`effective_entries`), so changing the cap needs no refetch.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from storage.db import Conn, Executor, fetch_one

ENTRY_FIELDS = ("severity", "reject_media", "reject_reports", "obfuscate", "public_comment")
SETTINGS = ("max_severity", "mode", "interval_hours")

_WITH_COUNTS = """
    SELECT s.*,
           (SELECT count(*) FROM blocklist_entries e WHERE e.subscription_id = s.id)
               AS entries_count,
           (SELECT count(*) FROM blocklist_changes c
            WHERE c.subscription_id = s.id AND c.state = 'pending') AS pending_count
    FROM blocklist_subscriptions s
"""


# -- subscriptions --------------------------------------------------------------------------------


async def insert_subscription(
    db: Executor, url: str, settings: dict[str, Any], token: str
) -> asyncpg.Record | None:
    """The new subscription (first refresh due now), or None when `url` is already subscribed."""
    return await db.fetchrow(
        """
        INSERT INTO blocklist_subscriptions
            (url, max_severity, mode, interval_hours, schedule_token, next_refresh_at)
        VALUES ($1, $2, $3, $4, $5, now())
        ON CONFLICT (url) DO NOTHING
        RETURNING *
        """,
        url,
        settings["max_severity"],
        settings["mode"],
        settings["interval_hours"],
        token,
    )


async def list_subscriptions(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(f"{_WITH_COUNTS} ORDER BY s.id")


async def get_subscription(db: Executor, subscription_id: int) -> asyncpg.Record | None:
    """The subscription with its `entries_count` and `pending_count`."""
    return await db.fetchrow(f"{_WITH_COUNTS} WHERE s.id = $1", subscription_id)


async def lock_subscription(conn: Conn, subscription_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM blocklist_subscriptions WHERE id = $1 FOR UPDATE", subscription_id
    )


async def update_settings(
    db: Executor, subscription_id: int, settings: dict[str, Any]
) -> asyncpg.Record:
    columns = [name for name in SETTINGS if name in settings]
    assignments = "".join(f"{c} = ${i}, " for i, c in enumerate(columns, start=2))
    return await fetch_one(
        db,
        f"""
        UPDATE blocklist_subscriptions SET {assignments}updated_at = now()
        WHERE id = $1 RETURNING *
        """,
        subscription_id,
        *(settings[c] for c in columns),
    )


async def delete_subscription(conn: Conn, subscription_id: int) -> list[str]:
    """Delete the subscription with its entries and changes; the domains it listed."""
    rows = await conn.fetch(
        "SELECT domain FROM blocklist_entries WHERE subscription_id = $1", subscription_id
    )
    await conn.execute("DELETE FROM blocklist_subscriptions WHERE id = $1", subscription_id)
    return [row["domain"] for row in rows]


async def record_failure(db: Executor, subscription_id: int, error: str) -> None:
    await db.execute(
        """
        UPDATE blocklist_subscriptions SET last_fetched_at = now(), last_error = $2
        WHERE id = $1
        """,
        subscription_id,
        error,
    )


async def record_success(db: Executor, subscription_id: int, summary: dict[str, Any]) -> None:
    """A good copy was fetched: `summary` has its format and listed/obfuscated/invalid counts."""
    await db.execute(
        """
        UPDATE blocklist_subscriptions
        SET last_fetched_at = now(), last_success_at = now(), last_error = NULL,
            format = $2, listed_count = $3, obfuscated_count = $4, invalid_count = $5
        WHERE id = $1
        """,
        subscription_id,
        summary["format"],
        summary["listed"],
        summary["obfuscated"],
        summary["invalid"],
    )


async def reschedule(
    db: Executor, subscription_id: int, old_token: str | None, new_token: str
) -> asyncpg.Record | None:
    """Move the refresh chain on: a new token and the next refresh one interval from now. Only
    when the current token is `old_token` (None: whatever it is); None when it was not."""
    return await db.fetchrow(
        """
        UPDATE blocklist_subscriptions
        SET schedule_token = $3, next_refresh_at = now() + make_interval(hours => interval_hours)
        WHERE id = $1 AND ($2::text IS NULL OR schedule_token = $2)
        RETURNING *
        """,
        subscription_id,
        old_token,
        new_token,
    )


# -- entries --------------------------------------------------------------------------------------


async def entries(db: Executor, subscription_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM blocklist_entries WHERE subscription_id = $1 ORDER BY domain",
        subscription_id,
    )


async def count_entries(db: Executor, subscription_id: int) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM blocklist_entries WHERE subscription_id = $1", subscription_id
    )


async def put_entries(
    db: Executor, subscription_id: int, rows: list[tuple[str, dict[str, Any]]]
) -> None:
    """Insert or replace entries given as (domain, fields with every ENTRY_FIELDS)."""
    if not rows:
        return
    await db.execute(
        """
        INSERT INTO blocklist_entries
            (subscription_id, domain, severity, reject_media, reject_reports, obfuscate,
             public_comment)
        SELECT $1::bigint, * FROM unnest($2::text[], $3::text[], $4::boolean[], $5::boolean[],
                                 $6::boolean[], $7::text[])
        ON CONFLICT (subscription_id, domain) DO UPDATE
        SET severity = excluded.severity, reject_media = excluded.reject_media,
            reject_reports = excluded.reject_reports, obfuscate = excluded.obfuscate,
            public_comment = excluded.public_comment, updated_at = now()
        """,
        subscription_id,
        [domain for domain, _ in rows],
        *([fields[name] for _, fields in rows] for name in ENTRY_FIELDS),
    )


async def delete_entries(db: Executor, subscription_id: int, domains: list[str]) -> None:
    await db.execute(
        "DELETE FROM blocklist_entries WHERE subscription_id = $1 AND domain = ANY($2::text[])",
        subscription_id,
        domains,
    )


async def effective_entries(db: Executor, domains: list[str]) -> list[asyncpg.Record]:
    """Every subscription's entry on these domains, its severity capped by the subscription's
    `max_severity` (`listed_severity` is the uncapped one)."""
    return await db.fetch(
        """
        SELECT e.*, e.severity AS listed_severity,
               CASE WHEN array_position(ARRAY['noop', 'silence', 'suspend'], e.severity)
                         > array_position(ARRAY['noop', 'silence', 'suspend'], s.max_severity)
                    THEN s.max_severity ELSE e.severity END AS capped_severity
        FROM blocklist_entries e JOIN blocklist_subscriptions s ON s.id = e.subscription_id
        WHERE e.domain = ANY($1::text[])
        ORDER BY e.domain, e.subscription_id
        """,
        domains,
    )


async def entry_domains_under(db: Executor, domain: str) -> list[str]:
    """The domains any subscription lists that are `domain` or one of its subdomains."""
    rows = await db.fetch(
        """
        SELECT DISTINCT domain FROM blocklist_entries
        WHERE domain = $1 OR right(domain, length($1) + 1) = '.' || $1
        """,
        domain,
    )
    return [row["domain"] for row in rows]


# -- changes held for review ----------------------------------------------------------------------


async def changes(
    db: Executor, subscription_id: int, *, state: str | None = None
) -> list[asyncpg.Record]:
    """The subscription's changes (of one `state`, or all), with the accepted entry's severity
    as `previous_severity`."""
    return await db.fetch(
        """
        SELECT c.*, e.severity AS previous_severity
        FROM blocklist_changes c
        LEFT JOIN blocklist_entries e
               ON e.subscription_id = c.subscription_id AND e.domain = c.domain
        WHERE c.subscription_id = $1 AND ($2::text IS NULL OR c.state = $2)
        ORDER BY c.domain
        """,
        subscription_id,
        state,
    )


async def lock_change(conn: Conn, subscription_id: int, change_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT * FROM blocklist_changes WHERE id = $1 AND subscription_id = $2 FOR UPDATE
        """,
        change_id,
        subscription_id,
    )


async def insert_changes(
    db: Executor, subscription_id: int, rows: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """Queue pending changes given as (domain, action, fields); a removal's fields are empty."""
    if not rows:
        return
    await db.execute(
        """
        INSERT INTO blocklist_changes
            (subscription_id, domain, action, severity, reject_media, reject_reports, obfuscate,
             public_comment)
        SELECT $1::bigint, * FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[],
                                 $6::boolean[], $7::boolean[], $8::text[])
        """,
        subscription_id,
        [domain for domain, _, _ in rows],
        [action for _, action, _ in rows],
        [fields.get("severity") for _, _, fields in rows],
        *(
            [fields.get(name, False) for _, _, fields in rows]
            for name in ("reject_media", "reject_reports", "obfuscate")
        ),
        [fields.get("public_comment", "") for _, _, fields in rows],
    )


async def delete_changes(db: Executor, change_ids: list[int]) -> None:
    await db.execute("DELETE FROM blocklist_changes WHERE id = ANY($1::bigint[])", change_ids)


async def clear_changes(db: Executor, subscription_id: int) -> None:
    await db.execute("DELETE FROM blocklist_changes WHERE subscription_id = $1", subscription_id)


async def reject_change(db: Executor, change_id: int) -> None:
    await db.execute("UPDATE blocklist_changes SET state = 'rejected' WHERE id = $1", change_id)
