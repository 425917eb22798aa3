"""Mastodon's admin accounts API: listing with filters, approval, rejection and actions, each
recorded in the audit log; staff only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from server.state import POOL
from tests.api import api
from tests.members import create_member
from tests.schemas import assert_matches


async def admin_account(client, who, method: str, path: str, **params: Any) -> dict[str, Any]:
    body = await api(client, who, method, f"/api/v1/admin/accounts{path}", json=params or None)
    assert_matches("admin_account", body)
    return body


async def listing(client, who, **filters: Any) -> list[str]:
    body = await api(client, who, "GET", "/api/v1/admin/accounts", params=filters)
    for item in body:
        assert_matches("admin_account", item)
    return [item["username"] for item in body]


async def pending_member(client, username: str) -> dict[str, str]:
    """A member waiting for approval, and the headers of a token they already hold."""
    user, token = await create_member(
        client.server.app, username, scopes=["read", "write"], approved=False, reason="let me in"
    )
    return {"id": str(user["account_id"]), "Authorization": f"Bearer {token}"}


async def me_status(client, headers: dict[str, str]) -> int:
    response = await client.get("/api/v1/accounts/verify_credentials", headers=headers)
    return response.status


async def audit_actions(client) -> list[tuple[str, str]]:
    rows = await client.server.app[POOL].fetch(
        "SELECT action, target_id FROM audit_log ORDER BY id"
    )
    return [(row["action"], row["target_id"]) for row in rows]


async def test_list_and_filter(client, make_member):
    admin = await make_member("boss", role="admin", scopes=("admin:read", "admin:write"))
    await make_member("alice")
    await make_member("mod", role="moderator")
    await pending_member(client, "newbie")

    assert set(await listing(client, admin)) == {"boss", "alice", "mod", "newbie"}
    assert await listing(client, admin, pending="true") == ["newbie"]
    assert set(await listing(client, admin, staff="true")) == {"boss", "mod"}
    assert await listing(client, admin, username="ali") == ["alice"]
    assert await listing(client, admin, email="mod@") == ["mod"]
    assert await listing(client, admin, remote="true") == []
    assert await listing(client, admin, limit=2) == ["newbie", "mod"]

    body = await admin_account(client, admin, "GET", "/" + str(admin.account_id))
    assert body["role"]["name"] == "Admin" and body["email"] == "boss@example.org"
    await api(client, admin, "GET", "/api/v1/admin/accounts/999", expect=404)


async def test_approve_lets_a_pending_member_in(client, make_member):
    mod = await make_member("mod", role="moderator", scopes=("admin:write:accounts",))
    newbie = await pending_member(client, "newbie")
    headers = {"Authorization": newbie["Authorization"]}
    assert await me_status(client, headers) == 403

    body = await admin_account(client, mod, "POST", f"/{newbie['id']}/approve")
    assert body["approved"] is True and body["invite_request"] == "let me in"
    assert await me_status(client, headers) == 200
    await api(client, mod, "POST", f"/api/v1/admin/accounts/{newbie['id']}/approve", expect=422)
    assert await audit_actions(client) == [("account.approve", newbie["id"])]


async def test_reject_deletes_the_pending_account(client, make_member):
    admin = await make_member("boss", role="admin", scopes=("admin:read", "admin:write"))
    newbie = await pending_member(client, "newbie")
    body = await admin_account(client, admin, "POST", f"/{newbie['id']}/reject")
    assert body["username"] == "newbie"
    assert await listing(client, admin) == ["boss"]
    assert await audit_actions(client) == [("account.reject", newbie["id"])]


async def test_suspend_disables_the_members_login(client, make_member):
    admin = await make_member("boss", role="admin", scopes=("admin:read", "admin:write"))
    alice = await make_member("alice")
    assert await me_status(client, alice.headers) == 200

    path = f"/api/v1/admin/accounts/{alice.account_id}"
    assert (
        await api(client, admin, "POST", f"{path}/action", json={"type": "suspend", "text": "bye"})
        == {}
    )
    # As in Mastodon, the token stays valid but every use of it is refused.
    for request_path in ("/api/v1/accounts/verify_credentials", "/api/v1/timelines/public"):
        response = await client.get(request_path, headers=alice.headers)
        assert response.status == 403
        assert await response.json() == {"error": "Your login is currently disabled"}
    body = await admin_account(client, admin, "GET", f"/{alice.account_id}")
    assert body["suspended"] is True

    body = await admin_account(client, admin, "POST", f"/{alice.account_id}/unsuspend")
    assert body["suspended"] is False
    assert await me_status(client, alice.headers) == 200
    rows = await client.server.app[POOL].fetch("SELECT action, reason FROM audit_log ORDER BY id")
    assert [(r["action"], r["reason"]) for r in rows] == [
        ("account.suspend", "bye"),
        ("account.unsuspend", ""),
    ]


async def test_disable_refuses_the_token_until_enabled(client, make_member):
    admin = await make_member("boss", role="admin", scopes=("admin:write",))
    alice = await make_member("alice")
    path = f"/api/v1/admin/accounts/{alice.account_id}"
    await api(client, admin, "POST", f"{path}/action", json={"type": "disable"})
    assert await me_status(client, alice.headers) == 403
    body = await admin_account(client, admin, "POST", f"/{alice.account_id}/enable")
    assert body["disabled"] is False
    assert await me_status(client, alice.headers) == 200


async def test_silence_and_sensitive(client, make_member):
    admin = await make_member("boss", role="admin", scopes=("admin:read", "admin:write"))
    alice = await make_member("alice")
    path = f"/api/v1/admin/accounts/{alice.account_id}"
    await api(client, admin, "POST", f"{path}/action", json={"type": "silence"})
    await api(client, admin, "POST", f"{path}/action", json={"type": "sensitive"})
    assert await listing(client, admin, silenced="true") == ["alice"]
    body = await admin_account(client, admin, "GET", f"/{alice.account_id}")
    assert (body["silenced"], body["sensitized"]) == (True, True)
    assert body["account"]["limited"] is True

    await admin_account(client, admin, "POST", f"/{alice.account_id}/unsilence")
    body = await admin_account(client, admin, "POST", f"/{alice.account_id}/unsensitive")
    assert (body["silenced"], body["sensitized"]) == (False, False)
    assert [a for a, _ in await audit_actions(client)] == [
        "account.silence",
        "account.sensitive",
        "account.unsilence",
        "account.unsensitive",
    ]


async def test_who_may_moderate(client, make_member):
    member = await make_member("plain", scopes=("admin:read", "admin:write"))
    mod = await make_member("mod", role="moderator", scopes=("admin:read", "admin:write"))
    other_mod = await make_member("mod2", role="moderator")
    admin = await make_member("boss", role="admin", scopes=("read",))
    alice = await make_member("alice")
    path = f"/api/v1/admin/accounts/{alice.account_id}"

    await api(client, member, "GET", "/api/v1/admin/accounts", expect=403)
    await api(client, member, "POST", f"{path}/action", expect=403, json={"type": "silence"})
    await api(client, admin, "GET", "/api/v1/admin/accounts", expect=403)  # scope missing
    await api(client, mod, "POST", f"{path}/action", expect=422, json={"type": "explode"})
    # A moderator may not act on other staff.
    other = f"/api/v1/admin/accounts/{other_mod.account_id}/action"
    await api(client, mod, "POST", other, expect=403, json={"type": "suspend"})
    own = f"/api/v1/admin/accounts/{mod.account_id}/action"
    await api(client, mod, "POST", own, expect=403, json={"type": "disable"})
    assert await api(client, mod, "POST", f"{path}/action", json={"type": "silence"}) == {}
    assert await audit_actions(client) == [("account.silence", str(alice.account_id))]


async def pages(client, who, path: str, key: str, **query: Any) -> list[list[str]]:
    """Every page of an admin list, following `rel="next"` until a page comes back empty; each
    page is also read back through its `rel="prev"` link."""
    seen: list[list[str]] = []
    url = path
    params: dict[str, Any] | None = query
    while True:
        response = await client.get(url, params=params, headers=who.headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        if not body:
            assert "Link" not in response.headers
            return seen
        seen.append([item[key] for item in body])
        links = dict(
            (rel.split('"')[1], link.strip("<>"))
            for link, rel in (p.split("; ") for p in response.headers["Link"].split(", "))
        )
        # The page before this one (nothing before the first).
        prev = urlsplit(links["prev"])
        before = await client.get(f"{prev.path}?{prev.query}", headers=who.headers)
        assert [item[key] for item in await before.json()] == (seen[-2] if len(seen) > 1 else [])
        parts = urlsplit(links["next"])
        url, params = f"{parts.path}?{parts.query}", None


async def test_lists_paginate_with_link_headers(client, make_member):
    admin = await make_member("boss", role="admin", scopes=("admin:read",))
    for name in ("alice", "bob", "carol", "dave"):
        await make_member(name)
    for path in ("/api/v1/admin/accounts", "/api/v2/admin/accounts"):
        assert await pages(client, admin, path, "username", limit=2) == [
            ["dave", "carol"],
            ["bob", "alice"],
            ["boss"],
        ]
    ids = {
        a["username"]: a["id"] for a in await api(client, admin, "GET", "/api/v1/admin/accounts")
    }
    newer = await api(
        client, admin, "GET", "/api/v1/admin/accounts", params={"min_id": ids["alice"], "limit": 2}
    )
    assert [a["username"] for a in newer] == ["carol", "bob"]
    newest = await api(
        client,
        admin,
        "GET",
        "/api/v2/admin/accounts",
        params={"since_id": ids["alice"], "limit": 2},
    )
    assert [a["username"] for a in newest] == ["dave", "carol"]
    between = await api(
        client,
        admin,
        "GET",
        "/api/v1/admin/accounts",
        params={"max_id": ids["dave"], "since_id": ids["alice"]},
    )
    assert [a["username"] for a in between] == ["carol", "bob"]


async def test_v2_filters(client, make_member):
    admin = await make_member("boss", role="admin", scopes=("admin:read", "admin:write"))
    await make_member("alice")
    await make_member("mod", role="moderator")
    await pending_member(client, "newbie")
    path = "/api/v2/admin/accounts"

    async def names(**query: Any) -> list[str]:
        body = await api(client, admin, "GET", path, params=query)
        for item in body:
            assert_matches("admin_account", item)
        return [item["username"] for item in body]

    assert await names(status="pending") == ["newbie"]
    assert await names(permissions="staff") == ["mod", "boss"]
    assert await names(origin="remote") == []
    assert await names(origin="local", username="al") == ["alice"]
    assert await names(by_domain="elsewhere.example") == []
    assert await names(invited_by="nope") == []
    for bad in ({"origin": "mars"}, {"status": "sleepy"}, {"permissions": "all"}):
        await api(client, admin, "GET", path, expect=422, params=bad)
