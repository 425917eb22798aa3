"""What Kith remembers about each remote server: the signature scheme it accepted, and whether
it has been failing for so long that it counts as unavailable.

A run of failures starts at `first_failure_at` and ends with any success. A gap of more than a
day without failures also starts a new run, so a host that failed once last week and once today
has not been "failing for days".
"""

from __future__ import annotations

from datetime import timedelta

from storage.db import Executor

# Longer than the job queue's longest backoff (8 h), so retries of one outage stay one run.
RUN_GAP = timedelta(days=1)


def success_upsert(domain: str, scheme: str) -> str:
    """SQL ending a host's run of failures and remembering the signature scheme that worked (a
    NULL scheme keeps the one remembered), with the placeholders of its two parameters; for
    `storage.deliveries.record_delivered` to run in the same statement as its other writes."""
    return f"""
        INSERT INTO hosts (domain, signature_scheme, last_success_at)
        VALUES ({domain}, {scheme}, now())
        ON CONFLICT (domain) DO UPDATE
        SET signature_scheme = coalesce(excluded.signature_scheme, hosts.signature_scheme),
            last_success_at = now(),
            first_failure_at = NULL, last_failure_at = NULL, unavailable_since = NULL
    """


async def record_failure(db: Executor, domain: str, unavailable_after: timedelta) -> bool:
    """The host could not be reached (or answered 5xx); return whether it is now unavailable,
    i.e. its current run of failures started more than `unavailable_after` ago."""
    return await db.fetchval(
        """
        INSERT INTO hosts AS h (domain, first_failure_at, last_failure_at)
        VALUES ($1, now(), now())
        ON CONFLICT (domain) DO UPDATE
        SET first_failure_at = CASE
                WHEN h.first_failure_at IS NULL OR h.last_failure_at < now() - $3::interval
                THEN now() ELSE h.first_failure_at END,
            last_failure_at = now(),
            unavailable_since = CASE
                WHEN h.unavailable_since IS NOT NULL THEN h.unavailable_since
                WHEN h.first_failure_at < now() - $2::interval
                     AND h.last_failure_at >= now() - $3::interval THEN now()
                END
        RETURNING unavailable_since IS NOT NULL
        """,
        domain,
        unavailable_after,
        RUN_GAP,
    )


async def unavailable_domains(db: Executor, domains: list[str]) -> set[str]:
    rows = await db.fetch(
        "SELECT domain FROM hosts WHERE domain = ANY($1::text[]) AND unavailable_since IS NOT NULL",
        domains,
    )
    return {row["domain"] for row in rows}
