"""Report records to Mastodon's `Report` entity (what the reporting member sees)."""

from __future__ import annotations

from typing import Any

import asyncpg

from server.entities.common import iso


def render_report(report: asyncpg.Record, target_account: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(report["id"]),
        "action_taken": report["action_taken_at"] is not None,
        "action_taken_at": iso(report["action_taken_at"]),
        "category": report["category"],
        "comment": report["comment"],
        "forwarded": report["forwarded"],
        "created_at": iso(report["created_at"]),
        "status_ids": [str(i) for i in report["status_ids"]] or None,
        "rule_ids": [str(i) for i in report["rule_ids"]] or None,
        "target_account": target_account,
    }
