"""Records to Mastodon's admin entities: `Admin::Account` and `Admin::Report`.

A report page is rendered in batches: the accounts, statuses and rules of all its reports are
loaded with one query each.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from federation.urls import LocalUrls
from server.entities.accounts import _ROLES, render_account
from server.entities.common import iso
from server.entities.statuses import render_statuses
from storage import admin_accounts as admin_store
from storage import reports as report_store
from storage import statuses as status_store
from storage.db import Executor


def render_admin_account(row: asyncpg.Record, urls: LocalUrls) -> dict[str, Any]:
    """An account with its user; remote accounts have no e-mail, role, IP or locale."""
    local = row["user_id"] is not None
    return {
        "id": str(row["id"]),
        "username": row["username"],
        "domain": row["domain"],
        "created_at": iso(row["created_at"]),
        "email": row["email"] if local else None,
        "ip": row["ip"] if local else None,
        "ips": [],
        "role": _ROLES[row["role"]] if local else None,
        "confirmed": row["confirmed_at"] is not None if local else False,
        "suspended": row["suspended_at"] is not None,
        "silenced": row["silenced_at"] is not None,
        "sensitized": row["sensitized_at"] is not None,
        "disabled": bool(row["disabled"]) if local else False,
        "approved": bool(row["approved"]) if local else True,
        "locale": row["locale"] if local else None,
        "invite_request": (row["sign_up_reason"] or None) if local else None,
        "invited_by_account_id": (
            str(row["invited_by_account_id"]) if row["invited_by_account_id"] else None
        ),
        "account": render_account(row, urls),
    }


async def render_admin_reports(
    db: Executor, reports: list[asyncpg.Record], urls: LocalUrls, viewer_id: int
) -> list[dict[str, Any]]:
    if not reports:
        return []
    account_ids = [
        r[key]
        for r in reports
        for key in ("account_id", "target_account_id", "assigned_account_id", "action_taken_by")
        if r[key] is not None
    ]
    accounts = {
        i: render_admin_account(row, urls)
        for i, row in (await admin_store.get_admin_accounts(db, account_ids)).items()
    }
    status_rows = await status_store.get_statuses(db, [s for r in reports for s in r["status_ids"]])
    rendered = await render_statuses(db, list(status_rows.values()), urls, viewer_id)
    statuses = {int(entity["id"]): entity for entity in rendered}
    rules = {
        row["id"]: {"id": str(row["id"]), "text": row["text"], "hint": row["hint"]}
        for row in await report_store.get_rules(db, [i for r in reports for i in r["rule_ids"]])
    }
    return [
        {
            "id": str(r["id"]),
            "action_taken": r["action_taken_at"] is not None,
            "action_taken_at": iso(r["action_taken_at"]),
            "category": r["category"],
            "comment": r["comment"],
            "forwarded": r["forwarded"],
            "created_at": iso(r["created_at"]),
            "updated_at": iso(r["updated_at"]),
            "account": accounts[r["account_id"]],
            "target_account": accounts[r["target_account_id"]],
            "assigned_account": accounts.get(r["assigned_account_id"]),
            "action_taken_by_account": accounts.get(r["action_taken_by"]),
            "statuses": [statuses[s] for s in r["status_ids"] if s in statuses],
            "rules": [rules[i] for i in r["rule_ids"] if i in rules],
        }
        for r in reports
    ]
