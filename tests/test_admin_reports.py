"""Mastodon's admin reports API, the audit log it leaves, and reading that log through the API
and the `kith audit-log` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server.state import POOL
from tests.api import api
from tests.cli import kith_env, run_kith
from tests.schemas import assert_matches
from tests.test_admin_accounts import pages
from tests.test_reports import report
from tests.test_statuses import post


async def admin_report(client, who, method: str, path: str, **params: Any) -> dict[str, Any]:
    body = await api(client, who, method, f"/api/v1/admin/reports{path}", json=params or None)
    assert_matches("admin_report", body)
    return body


async def reports_list(client, who, **filters: Any) -> list[str]:
    body = await api(client, who, "GET", "/api/v1/admin/reports", params=filters)
    for item in body:
        assert_matches("admin_report", item)
    return [item["id"] for item in body]


async def audit_entries(client, who, **params: Any) -> list[dict[str, Any]]:
    body = await api(client, who, "GET", "/api/v1/admin/audit_log", params=params)
    for item in body:
        assert_matches("audit_log_entry", item)
    return body


async def filed(client, make_member) -> tuple[Any, Any, Any, str, str]:
    """A moderator, alice who reports bob's status, and the report's and status's ids."""
    mod = await make_member("mod", role="moderator", scopes=("admin:read", "admin:write"))
    alice, bob = await make_member("alice"), await make_member("bob")
    status = await post(client, bob, "awful")
    body = await report(
        client, alice, account_id=str(bob.account_id), status_ids=[status["id"]], comment="look"
    )
    return mod, alice, bob, body["id"], status["id"]


async def test_assign_resolve_reopen(client, make_member):
    mod, alice, bob, report_id, status_id = await filed(client, make_member)
    body = await admin_report(client, mod, "GET", f"/{report_id}")
    assert body["account"]["id"] == str(alice.account_id)
    assert body["target_account"]["id"] == str(bob.account_id)
    assert [s["id"] for s in body["statuses"]] == [status_id]
    assert body["assigned_account"] is None and body["action_taken"] is False

    body = await admin_report(client, mod, "POST", f"/{report_id}/assign_to_self")
    assert body["assigned_account"]["id"] == str(mod.account_id)
    body = await admin_report(client, mod, "POST", f"/{report_id}/unassign")
    assert body["assigned_account"] is None

    assert await reports_list(client, mod) == [report_id]
    assert await reports_list(client, mod, target_account_id=str(alice.account_id)) == []
    body = await admin_report(client, mod, "POST", f"/{report_id}/resolve")
    assert body["action_taken"] is True
    assert body["action_taken_by_account"]["id"] == str(mod.account_id)
    assert await reports_list(client, mod) == []
    assert await reports_list(client, mod, resolved="true") == [report_id]

    body = await admin_report(client, mod, "POST", f"/{report_id}/reopen")
    assert body["action_taken"] is False and body["action_taken_at"] is None
    await api(client, mod, "POST", "/api/v1/admin/reports/999/resolve", expect=404)
    await api(client, alice, "GET", "/api/v1/admin/reports", expect=403)

    entries = await audit_entries(client, mod)
    assert [(e["action"], e["target_id"]) for e in entries] == [
        ("report.reopen", report_id),
        ("report.resolve", report_id),
        ("report.unassign", report_id),
        ("report.assign", report_id),
    ]
    assert all(e["account"]["id"] == str(mod.account_id) for e in entries)
    assert [e["action"] for e in await audit_entries(client, mod, action="report.resolve")] == [
        "report.resolve"
    ]


async def test_an_action_can_resolve_its_report(client, make_member):
    mod, _, bob, report_id, _ = await filed(client, make_member)
    path = f"/api/v1/admin/accounts/{bob.account_id}/action"
    await api(
        client,
        mod,
        "POST",
        path,
        json={"type": "silence", "report_id": report_id, "text": "calm down"},
    )
    body = await admin_report(client, mod, "GET", f"/{report_id}")
    assert body["action_taken"] is True and body["target_account"]["silenced"] is True
    entries = await audit_entries(client, mod)
    assert [(e["action"], e["reason"]) for e in entries] == [
        ("report.resolve", ""),
        ("account.silence", "calm down"),
    ]
    assert entries[1]["detail"] == {"username": "bob", "domain": None}


async def test_audit_log_command(client, make_member, tmp_path: Path, db_dsn: str):
    mod, _, bob, report_id, _ = await filed(client, make_member)
    await admin_report(client, mod, "POST", f"/{report_id}/resolve")
    path = f"/api/v1/admin/accounts/{bob.account_id}/action"
    await api(client, mod, "POST", path, json={"type": "suspend", "text": "enough"})

    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn, KITH_DOMAIN="kith.test")
    code, out, err = await run_kith("audit-log", env=env)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert "\tmod\taccount.suspend\taccount:" in lines[0] and "\tenough" in lines[0]
    assert f"\tmod\treport.resolve\treport:{report_id}" in lines[1]

    code, out, err = await run_kith("audit-log", "--action", "report.resolve", env=env)
    assert code == 0, err
    assert len(out.splitlines()) == 1 and "report.resolve" in out
    code, out, _ = await run_kith("audit-log", "--action", "nothing.such", "--limit", "5", env=env)
    assert out.strip() == "no entries"
    assert await client.server.app[POOL].fetchval("SELECT count(*) FROM audit_log") == 2


async def test_reports_paginate_with_link_headers(client, make_member):
    mod = await make_member("mod", role="moderator", scopes=("admin:read",))
    alice, bob = await make_member("alice"), await make_member("bob")
    ids = [
        (await report(client, alice, account_id=str(bob.account_id), comment=str(n)))["id"]
        for n in range(5)
    ]
    newest_first = ids[::-1]
    assert await pages(client, mod, "/api/v1/admin/reports", "id", limit=2) == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:],
    ]
    assert await reports_list(client, mod, min_id=ids[0], limit=2) == [ids[2], ids[1]]
    assert await reports_list(client, mod, since_id=ids[0], limit=2) == [ids[4], ids[3]]
    assert await reports_list(client, mod, max_id=ids[3], since_id=ids[0]) == [ids[2], ids[1]]
