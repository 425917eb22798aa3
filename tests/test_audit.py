"""The audit log's storage: entries in order, filtered by action, paginated."""

from __future__ import annotations

from storage import audit
from storage.db import connect
from storage.pagination import Page


async def test_entries_are_listed_newest_first_and_filtered(db_dsn: str):
    async with connect(db_dsn) as conn:
        await audit.record(
            conn,
            actor_id=None,
            action="domain_block.create",
            target_type="domain",
            target_id="bad.example",
            detail={"severity": "suspend"},
            reason="spam",
        )
        await audit.record(
            conn, actor_id=None, action="report.resolve", target_type="report", target_id=7
        )
        everything = await audit.list_entries(conn, Page(limit=10))
        assert [e["action"] for e in everything] == ["report.resolve", "domain_block.create"]
        blocks = await audit.list_entries(conn, Page(limit=10), action="domain_block.create")
        assert [(e["target_id"], e["detail"], e["reason"]) for e in blocks] == [
            ("bad.example", {"severity": "suspend"}, "spam")
        ]
        older = await audit.list_entries(conn, Page(max_id=everything[0]["id"], limit=10))
        assert [e["action"] for e in older] == ["domain_block.create"]
