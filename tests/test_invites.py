"""Invites: creating, listing and expiring them (`/api/v1/invites`), who may, and signing up
with `invite_code` in each registration mode, including concurrent use of the last use."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from server.state import POOL
from storage.settings import set_setting
from tests.cli import kith_env, run_kith
from tests.schemas import assert_matches
from tests.test_accounts import SIGN_UP, app_token, next_link, ok

PATH = "/api/v1/invites"
INVITE_KEYS = {"id", "code", "url", "uses", "max_uses", "expires_at", "created_at"}


async def _settings(client, **values) -> None:
    for key, value in values.items():
        await set_setting(client.server.app[POOL], key, value)


async def _invite(client, member, **body) -> dict:
    invite = await ok(await client.post(PATH, json=body, headers=member.headers))
    assert set(invite) == INVITE_KEYS
    return invite


def _sign_up(n: int, **extra) -> dict:
    return {**SIGN_UP, "username": f"new{n}", "email": f"new{n}@example.org", **extra}


async def _user(client, username: str):
    return await client.server.app[POOL].fetchrow(
        "SELECT u.approved, u.invite_id, u.sign_up_reason FROM users u"
        " JOIN accounts a ON a.id = u.account_id WHERE a.username = $1",
        username,
    )


async def test_staff_create_list_and_expire_invites(client, make_member):
    admin = await make_member("boss", role="admin")
    first = await _invite(client, admin, max_uses=5, expires_in=3600)
    assert (first["uses"], first["max_uses"]) == (0, 5)
    assert first["url"].endswith(f"/invite/{first['code']}")
    expires = datetime.fromisoformat(first["expires_at"].replace("Z", "+00:00"))
    assert 3500 < (expires - datetime.now(UTC)).total_seconds() <= 3600
    second = await _invite(client, admin)
    assert (second["max_uses"], second["expires_at"]) == (None, None)
    assert second["code"] != first["code"]

    response = await client.get(PATH, params={"limit": 1}, headers=admin.headers)
    assert [i["id"] for i in await ok(response)] == [second["id"]]
    assert [
        i["id"] for i in await ok(await client.get(next_link(response), headers=admin.headers))
    ] == [first["id"]]
    # Nobody else sees them.
    other = await make_member("other")
    assert await ok(await client.get(PATH, headers=other.headers)) == []

    expired = await ok(await client.delete(f"{PATH}/{second['id']}", headers=admin.headers))
    assert expired["id"] == second["id"] and expired["expires_at"] is not None
    headers = await app_token(client)
    response = await client.post(
        "/api/v1/accounts", json=_sign_up(1, invite_code=second["code"]), headers=headers
    )
    assert response.status == 422


async def test_members_invite_only_when_allowed(client, make_member):
    alice = await make_member("alice")
    response = await client.post(PATH, json={}, headers=alice.headers)
    assert response.status == 403 and "error" in await response.json()
    await _settings(client, members_may_invite=True)
    invite = await _invite(client, alice, max_uses=1)
    # Another member cannot expire alice's invite; staff can.
    bob = await make_member("bob")
    assert (await client.delete(f"{PATH}/{invite['id']}", headers=bob.headers)).status == 404
    mod = await make_member("mod", role="moderator")
    assert (await client.delete(f"{PATH}/{invite['id']}", headers=mod.headers)).status == 200


async def test_invite_bad_input(client, make_member):
    admin = await make_member("boss", role="admin")
    reader = await make_member("reader", scopes=("read",))
    assert (await client.get(PATH)).status == 401
    assert (await client.post(PATH, json={}, headers=reader.headers)).status == 403
    for body in (
        {"max_uses": 0},
        {"max_uses": -1},
        {"max_uses": "many"},
        {"expires_in": 0},
        {"expires_in": 10**9},
        {"max_uses": [1]},
    ):
        response = await client.post(PATH, json=body, headers=admin.headers)
        assert response.status == 422, (body, await response.text())
        assert "error" in await response.json()
    for path in (f"{PATH}/123", f"{PATH}/nope"):
        response = await client.delete(path, headers=admin.headers)
        assert response.status == 404 and "error" in await response.json()


@pytest.mark.parametrize("mode", ["open", "approval", "invite"])
async def test_sign_up_with_an_invite_is_approved(client, make_member, mode):
    admin = await make_member("boss", role="admin", scopes=("read", "write", "admin:read"))
    await _settings(client, registrations_mode=mode)
    invite = await _invite(client, admin, max_uses=2)
    headers = await app_token(client)
    body = _sign_up(1, invite_code=invite["code"], reason="")
    token = await ok(await client.post("/api/v1/accounts", json=body, headers=headers))
    member = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await client.get("/api/v1/accounts/verify_credentials", headers=member)).status == 200
    user = await _user(client, "new1")
    assert (user["approved"], user["invite_id"]) == (True, int(invite["id"]))
    listed = await ok(await client.get(PATH, headers=admin.headers))
    assert listed[0]["uses"] == 1
    # Staff see who invited whom.
    accounts = await ok(
        await client.get(
            "/api/v2/admin/accounts", params={"invited_by": admin.account_id}, headers=admin.headers
        )
    )
    for account in accounts:
        assert_matches("admin_account", account)
    assert [(a["username"], a["invited_by_account_id"]) for a in accounts] == [
        ("new1", str(admin.account_id))
    ]


@pytest.mark.parametrize("mode", ["open", "approval", "invite"])
async def test_sign_up_with_an_unusable_invite_fails(client, make_member, mode):
    admin = await make_member("boss", role="admin")
    await _settings(client, registrations_mode=mode)
    used = await _invite(client, admin, max_uses=1)
    expired = await _invite(client, admin)
    await client.delete(f"{PATH}/{expired['id']}", headers=admin.headers)
    # An invite from a member who was suspended since stops working.
    await _settings(client, members_may_invite=True)
    suspended = await make_member("gone")
    suspended_invite = await _invite(client, suspended)
    await client.server.app[POOL].execute(
        "UPDATE accounts SET suspended_at = now() WHERE id = $1", suspended.account_id
    )
    headers = await app_token(client)
    await ok(
        await client.post(
            "/api/v1/accounts", json=_sign_up(1, invite_code=used["code"]), headers=headers
        )
    )
    codes = (used["code"], expired["code"], suspended_invite["code"], "unknown")
    for n, code in enumerate(codes, start=2):
        response = await client.post(
            "/api/v1/accounts", json=_sign_up(n, invite_code=code), headers=headers
        )
        assert response.status == 422, await response.text()
        assert await response.json() == {
            "error": "Validation failed: Invite code is invalid",
            "details": {"invite_code": [{"error": "ERR_INVALID", "description": "is invalid"}]},
        }
        assert await _user(client, f"new{n}") is None


async def test_invite_mode_needs_a_code_and_closed_takes_none(client, make_member):
    admin = await make_member("boss", role="admin")
    invite = await _invite(client, admin)
    headers = await app_token(client)
    await _settings(client, registrations_mode="invite")
    response = await client.post("/api/v1/accounts", json=_sign_up(1), headers=headers)
    assert response.status == 422
    assert (await response.json())["details"]["invite_code"][0]["error"] == "ERR_BLANK"
    # NodeInfo, like the instance entity, calls invite-only sign-ups closed, as Mastodon does.
    response = await client.get("/nodeinfo/2.1")
    assert (await response.json())["openRegistrations"] is False
    await _settings(client, registrations_mode="closed")
    response = await client.post(
        "/api/v1/accounts", json=_sign_up(2, invite_code=invite["code"]), headers=headers
    )
    assert response.status == 403 and "error" in await response.json()


async def test_approval_mode_needs_a_reason_that_staff_see(client, make_member):
    admin = await make_member("boss", role="admin", scopes=("admin:read",))
    await _settings(client, registrations_mode="approval")
    headers = await app_token(client)
    response = await client.post("/api/v1/accounts", json=_sign_up(1, reason=" "), headers=headers)
    assert response.status == 422
    assert (await response.json())["details"]["reason"][0]["error"] == "ERR_BLANK"
    await ok(
        await client.post(
            "/api/v1/accounts", json=_sign_up(2, reason="I know alice"), headers=headers
        )
    )
    pending = await ok(
        await client.get(
            "/api/v1/admin/accounts", params={"pending": "true"}, headers=admin.headers
        )
    )
    assert [(a["username"], a["invite_request"]) for a in pending] == [("new2", "I know alice")]


async def test_the_last_use_goes_to_one_sign_up_only(client, make_member):
    admin = await make_member("boss", role="admin")
    await _settings(client, registrations_mode="invite")
    invite = await _invite(client, admin, max_uses=1)
    headers = await app_token(client)
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/accounts", json=_sign_up(n, invite_code=invite["code"]), headers=headers
            )
            for n in range(4)
        )
    )
    assert sorted(r.status for r in responses) == [200, 422, 422, 422]
    row = await client.server.app[POOL].fetchrow(
        "SELECT uses, (SELECT count(*) FROM users WHERE invite_id = $1) AS users"
        " FROM invites WHERE id = $1",
        int(invite["id"]),
    )
    assert (row["uses"], row["users"]) == (1, 1)


async def test_admins_set_registrations(client, make_member):
    admin = await make_member(
        "boss", role="admin", scopes=("read", "write", "admin:read", "admin:write")
    )
    mod = await make_member("mod", role="moderator", scopes=("admin:read", "admin:write"))
    alice = await make_member("alice")
    path = "/api/v1/admin/registrations"
    assert await ok(await client.get(path, headers=admin.headers)) == {
        "mode": "open",
        "members_may_invite": False,
    }
    body = {"mode": "invite", "members_may_invite": True}
    assert await ok(await client.put(path, json=body, headers=admin.headers)) == body
    instance = await ok(await client.get("/api/v1/instance"))
    assert (instance["registrations"], instance["invites_enabled"]) == (False, True)
    await _invite(client, alice)  # members may invite now
    assert await ok(await client.put(path, json={"mode": "approval"}, headers=admin.headers)) == {
        "mode": "approval",
        "members_may_invite": True,
    }
    rows = await client.server.app[POOL].fetch("SELECT action, detail FROM audit_log ORDER BY id")
    assert [(r["action"], r["detail"]) for r in rows] == [
        ("instance_setting.registrations_mode", {"from": "open", "to": "invite"}),
        ("instance_setting.members_may_invite", {"from": False, "to": True}),
        ("instance_setting.registrations_mode", {"from": "invite", "to": "approval"}),
    ]

    for who, method, body, status in (
        (mod, "GET", None, 403),
        (mod, "PUT", {"mode": "open"}, 403),
        (alice, "GET", None, 403),
        (admin, "PUT", {}, 422),
        (admin, "PUT", {"mode": "sometimes"}, 422),
        (admin, "PUT", {"members_may_invite": "perhaps"}, 422),
    ):
        response = await client.request(method, path, json=body, headers=who.headers)
        assert response.status == status, (who, body, await response.text())
        assert "error" in await response.json()
    assert (await client.get(path)).status == 401


async def test_cli_sets_and_shows_registrations_audited(tmp_path: Path, db_dsn: str):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    code, out, _ = await run_kith("registrations", "show", env=env)
    assert (code, out) == (0, "mode: open\nmembers may invite: off\n")
    code, out, _ = await run_kith("registrations", "mode", "invite", env=env)
    assert (code, out.splitlines()[0]) == (0, "mode: invite")
    code, out, _ = await run_kith("registrations", "members-may-invite", "on", env=env)
    assert (code, out.splitlines()[1]) == (0, "members may invite: on")
    conn = await asyncpg.connect(db_dsn)
    try:
        audited = await conn.fetch(
            "SELECT action, account_id, reason FROM audit_log ORDER BY created_at"
        )
    finally:
        await conn.close()
    assert [tuple(row) for row in audited] == [
        ("instance_setting.registrations_mode", None, "cli"),
        ("instance_setting.members_may_invite", None, "cli"),
    ]
    code, _, err = await run_kith("registrations", "mode", "sometimes", env=env)
    assert code != 0 and "invalid choice" in err
