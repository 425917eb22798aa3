"""Filing reports and staff's work on them (assign, resolve, reopen), each with its audit record.

`file_report` is the one place a member's report is made. With `forward`, a report about a remote
account is also sent to that account's server as a `Flag` from the instance actor, never from the
member, so the other server's staff learn what was reported but not who reported it.
"""

from __future__ import annotations

import asyncpg

from federation.delivery import audience, deliver
from federation.errors import KithError, invalid, not_found
from federation.render import activities
from federation.urls import LocalUrls
from storage import accounts as account_store
from storage import audit
from storage import notifications as notification_store
from storage import reports as report_store
from storage.db import Conn, Executor, Row

CATEGORIES = ("spam", "legal", "violation", "other")
MAX_COMMENT = 1000


async def file_report(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    *,
    reporter_id: int,
    target_id: int,
    status_ids: list[int],
    comment: str,
    category: str,
    rule_ids: list[int],
    forward: bool,
) -> asyncpg.Record:
    """Record a report and tell staff; raise 404 for an unknown target, 422 for bad content."""
    if category not in CATEGORIES:
        raise invalid(f"category must be one of {', '.join(CATEGORIES)}")
    if len(comment) > MAX_COMMENT:
        raise invalid(f"comment is too long (max {MAX_COMMENT})")
    if category != "violation":
        rule_ids = []
    async with pool.acquire() as conn, conn.transaction():
        target = await account_store.get_account(conn, target_id)
        if target is None:
            raise not_found()
        if target_id == reporter_id:
            raise invalid("you cannot report yourself")
        statuses = await report_store.statuses_of(conn, target_id, status_ids)
        if len(statuses) != len(set(status_ids)):
            raise invalid("statuses must belong to the reported account")
        if category == "violation" and (
            not rule_ids or await report_store.existing_rule_ids(conn, rule_ids) != set(rule_ids)
        ):
            raise invalid("rule_ids must name the instance's rules")
        forwarded = forward and target["domain"] is not None
        report = await record_report(
            conn,
            reporter_id=reporter_id,
            target_id=target_id,
            status_ids=[s["id"] for s in statuses],
            rule_ids=sorted(set(rule_ids)),
            comment=comment,
            category=category,
            forwarded=forwarded,
        )
        if forwarded:
            await _send_flag(conn, urls, report, target, [s["uri"] for s in statuses])
    return report


async def record_report(
    conn: Conn,
    *,
    reporter_id: int,
    target_id: int,
    status_ids: list[int],
    comment: str,
    category: str = "other",
    rule_ids: list[int] | None = None,
    forwarded: bool = False,
    uri: str | None = None,
) -> asyncpg.Record:
    """Store a checked report and notify staff: the step a member's report and a `Flag` from
    another server share. `uri` is the Flag's id."""
    report = await report_store.insert_report(
        conn,
        account_id=reporter_id,
        target_account_id=target_id,
        status_ids=status_ids,
        rule_ids=rule_ids or [],
        comment=comment,
        category=category,
        forwarded=forwarded,
        uri=uri,
    )
    for staff_id in await account_store.staff_account_ids(conn):
        await notification_store.notify(
            conn,
            account_id=staff_id,
            from_account_id=reporter_id,
            type="admin.report",
            report_id=report["id"],
        )
    return report


async def _send_flag(
    conn: Conn,
    urls: LocalUrls,
    report: Row,
    target: Row,
    status_uris: list[str],
) -> None:
    instance = await account_store.get_local_account_by_uri(conn, urls.instance_actor())
    if instance is None:
        raise KithError(503, "The instance actor is missing")
    activity = activities.flag(
        f"{instance['uri']}#reports/{report['id']}",
        instance["uri"],
        target["uri"],
        status_uris,
        report["comment"],
    )
    await deliver(
        conn,
        actor_id=instance["id"],
        activity=activity,
        inboxes=await audience.account(conn, target["id"]),
    )


async def assign(
    pool: asyncpg.Pool, *, actor_id: int, report_id: int, assignee_id: int | None
) -> asyncpg.Record:
    """Assign a report to `assignee_id` (staff taking it), or unassign it (None)."""
    action = "report.assign" if assignee_id is not None else "report.unassign"
    async with pool.acquire() as conn, conn.transaction():
        await _locked(conn, report_id)
        report = await report_store.set_assigned(conn, report_id, assignee_id)
        await audit.record(
            conn, actor_id=actor_id, action=action, target_type="report", target_id=report_id
        )
    return report


async def set_resolved(
    pool: Executor, *, actor_id: int, report_id: int, resolved: bool
) -> asyncpg.Record:
    """Resolve (or reopen) a report; on a connection, inside the caller's transaction."""
    if isinstance(pool, asyncpg.Pool):
        async with pool.acquire() as conn, conn.transaction():
            return await set_resolved(
                conn, actor_id=actor_id, report_id=report_id, resolved=resolved
            )
    await _locked(pool, report_id)
    report = await report_store.set_resolved(pool, report_id, actor_id if resolved else None)
    await audit.record(
        pool,
        actor_id=actor_id,
        action="report.resolve" if resolved else "report.reopen",
        target_type="report",
        target_id=report_id,
    )
    return report


async def _locked(conn: Conn, report_id: int) -> asyncpg.Record:
    report = await report_store.lock_report(conn, report_id)
    if report is None:
        raise not_found()
    return report
