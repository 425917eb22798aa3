"""Notification records to Mastodon `Notification` entities, rendered a page at a time.

The senders, the statuses and the reports (with their target accounts) of a whole page are
loaded and rendered in one batch each. An `admin.report` carries the `Report` entity, as in
Mastodon.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from federation.urls import LocalUrls
from server.entities.accounts import render_account
from server.entities.common import iso
from server.entities.reports import render_report
from server.entities.statuses import render_statuses
from storage import accounts as account_store
from storage import reports as report_store
from storage import statuses as status_store
from storage.db import Executor


async def render_notifications(
    db: Executor, rows: list[asyncpg.Record], urls: LocalUrls, viewer_id: int
) -> list[dict[str, Any]]:
    """Render `rows` in order; one whose status vanished meanwhile is left out."""
    if not rows:
        return []
    senders = await account_store.get_accounts(db, [r["from_account_id"] for r in rows])
    status_ids = [r["status_id"] for r in rows if r["status_id"] is not None]
    status_rows = await status_store.get_statuses(db, status_ids) if status_ids else {}
    rendered = await render_statuses(db, list(status_rows.values()), urls, viewer_id)
    statuses = {int(entity["id"]): entity for entity in rendered}
    reports = await _reports(db, [r["report_id"] for r in rows if r["report_id"] is not None], urls)

    result = []
    for row in rows:
        status = statuses.get(row["status_id"]) if row["status_id"] is not None else None
        if row["status_id"] is not None and status is None:
            continue
        result.append(
            {
                "id": str(row["id"]),
                "type": row["type"],
                "group_key": f"ungrouped-{row['id']}",
                "created_at": iso(row["created_at"]),
                "account": render_account(senders[row["from_account_id"]], urls),
                "status": status,
                "report": reports.get(row["report_id"]),
            }
        )
    return result


async def _reports(db: Executor, report_ids: list[int], urls: LocalUrls) -> dict[int, Any]:
    if not report_ids:
        return {}
    rows = await report_store.get_reports(db, report_ids)
    targets = await account_store.get_accounts(db, [r["target_account_id"] for r in rows.values()])
    return {
        report_id: render_report(row, render_account(targets[row["target_account_id"]], urls))
        for report_id, row in rows.items()
        if row["target_account_id"] in targets
    }
