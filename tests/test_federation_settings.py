"""How an instance federates: the admin API (`/api/v1/admin/federation`), allowlist mode across
real instances, and `kith federation` / `kith domain-allow`."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.cli import assert_one_line_error, kith_env, run_kith
from tests.federation_harness import Instance
from tests.inbox_peer import Peer, make_local
from tests.members import create_member
from tests.test_domain_blocks import admin_of
from tests.test_federation_e2e import UnexpectedStatus, User, follow_remote, member, relationship

URL = "/api/v1/admin/federation"


async def audit_entries(db: asyncpg.Pool | asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM audit_log WHERE action LIKE 'instance_setting.%' ORDER BY id"
    )


# -- the admin API --------------------------------------------------------------------------------


async def test_show_and_change_the_federation_settings(network):
    kith = await network.start("kith.test")
    root = await admin_of(kith)
    assert await root.get(URL) == {
        "mode": "open",
        "authorized_fetch": False,
        "authorized_fetch_effective": False,
        "domain_allows": 0,
        "remote_media": "link",
    }

    changed = await root.call("PUT", URL, json={"mode": "allowlist"})
    assert changed == {
        "mode": "allowlist",
        "authorized_fetch": False,
        "authorized_fetch_effective": True,
        "domain_allows": 0,
        "remote_media": "link",
    }
    changed = await root.call("PUT", URL, data={"authorized_fetch": "true", "mode": "open"})
    assert changed["mode"] == "open" and changed["authorized_fetch"] is True
    assert await root.get(URL) == changed
    # Setting what is already set changes (and records) nothing.
    await root.call("PUT", URL, json={"authorized_fetch": True})

    entries = await audit_entries(kith.pool)
    assert [(e["action"], e["detail"], e["account_id"]) for e in entries] == [
        ("instance_setting.federation_mode", {"from": "open", "to": "allowlist"}, root.account_id),
        ("instance_setting.federation_mode", {"from": "allowlist", "to": "open"}, root.account_id),
        ("instance_setting.authorized_fetch", {"from": False, "to": True}, root.account_id),
    ]
    assert {e["target_type"] for e in entries} == {"instance_setting"}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"mode": "closed"}, "Mode must be one of open, allowlist"),
        ({"mode": ["open"]}, "mode must be a string"),
        ({"mode": "x" * 100}, "mode is too long"),
        ({"authorized_fetch": "maybe"}, "authorized_fetch must be a boolean"),
        ({"authorized_fetch": None}, "mode, authorized_fetch or remote_media must be given"),
        ({}, "mode, authorized_fetch or remote_media must be given"),
    ],
)
async def test_bad_input_is_422_and_changes_nothing(network, body, needle):
    kith = await network.start("kith.test")
    root = await admin_of(kith)
    with pytest.raises(UnexpectedStatus) as refused:
        await root.call("PUT", URL, json=body)
    assert " 422, " in str(refused.value) and needle in str(refused.value)
    assert (await root.get(URL))["mode"] == "open"
    assert await audit_entries(kith.pool) == []


async def test_only_admins_may_see_or_change_it(network):
    kith = await network.start("kith.test")
    scopes = ["read", "write", "admin:read", "admin:write"]
    moderator, token = await create_member(kith.app, "mod", role="moderator", scopes=scopes)
    mod = User(kith.client, kith.host, "mod", moderator["account_id"], token)
    user, token = await create_member(kith.app, "user", scopes=scopes)
    plain = User(kith.client, kith.host, "user", user["account_id"], token)
    for who in (mod, plain):
        body = await who.get(URL, expect=403)
        assert "error" in body
        await who.call("PUT", URL, json={"mode": "allowlist"}, expect=403)
    async with kith.client.get(URL) as response:
        assert response.status == 401
        assert "error" in await response.json()
    assert await audit_entries(kith.pool) == []
    assert (await (await admin_of(kith)).get(URL))["mode"] == "open"


# -- allowlist mode across instances --------------------------------------------------------------


async def test_allowlist_mode_set_through_the_api_refuses_others_and_admits_allowed(network):
    kith = await network.start("kith.test")
    peer = await Peer.start(network)
    try:
        local = await make_local(kith, "alice")
        root = await admin_of(kith)
        await root.call("PUT", URL, json={"mode": "allowlist"})

        status, body = await peer.deliver(kith, peer.activity("Follow", local.uri))
        assert status == 403
        assert body == {"error": "Your domain is not allowed to federate with this instance"}
        assert peer.server.requests_to("/users/ana") == []

        allow = await root.post("/api/v1/admin/domain_allows", domain="peer.test")
        assert allow["domain"] == "peer.test"
        assert (await root.get(URL))["domain_allows"] == 1
        status, _ = await peer.deliver(kith, peer.activity("Follow", local.uri))
        assert status == 202
    finally:
        await peer.server.close()


async def test_an_allowlisted_instance_federates_and_another_is_cut_off(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    gamma = await network.start("gamma.test")
    alice, bob, carol = (
        await member(alpha, "alice"),
        await member(beta, "bob"),
        await member(gamma, "carol"),
    )
    root = await admin_of(alpha)
    await root.post("/api/v1/admin/domain_allows", domain="beta.test")
    await root.call("PUT", URL, json={"mode": "allowlist"})

    remote = await follow_remote(network, bob, alice)
    assert (await relationship(bob, remote["id"]))["following"] is True
    # gamma cannot even fetch alice's actor: alpha refuses its signed GET.
    with pytest.raises(UnexpectedStatus):
        await carol.get("/api/v1/accounts/lookup", acct=alice.acct)


# -- the command line -----------------------------------------------------------------------------


async def test_cli_federation_and_domain_allow(tmp_path: Path, db_dsn: str):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    code, out, err = await run_kith("federation", "show", env=env)
    assert code == 0, err
    assert out.splitlines() == [
        "mode: open",
        "authorized fetch: off",
        "allowed domains: 0",
        "remote media: link",
    ]

    code, out, err = await run_kith("federation", "mode", "allowlist", env=env)
    assert code == 0, err
    assert "mode: allowlist" in out
    assert "authorized fetch: off (on while in allowlist mode)" in out
    assert "warning: allowlist mode with no allowed domain" in err

    code, out, err = await run_kith("domain-allow", "add", "Friends.EXAMPLE", env=env)
    assert code == 0, err
    assert out.strip() == "allowed friends.example"
    code, out, _ = await run_kith("domain-allow", "add", "pals.example", env=env)
    code, out, _ = await run_kith("domain-allow", "list", env=env)
    assert out.splitlines() == ["friends.example", "pals.example"]
    code, out, err = await run_kith("federation", "authorized-fetch", "on", env=env)
    assert code == 0, err
    assert "authorized fetch: on" in out.splitlines() and "warning" not in err

    code, out, err = await run_kith("domain-allow", "remove", "pals.example", env=env)
    assert code == 0 and out.strip() == "removed pals.example" and "warning" not in err
    code, out, err = await run_kith("domain-allow", "remove", "friends.example", env=env)
    assert code == 0 and "warning: allowlist mode with no allowed domain" in err
    code, out, _ = await run_kith("domain-allow", "list", env=env)
    assert out.strip() == "no allowed domains"
    code, out, err = await run_kith("federation", "mode", "open", env=env)
    assert code == 0 and "mode: open" in out and "warning" not in err

    conn = await asyncpg.connect(db_dsn)
    try:
        rows = await conn.fetch(
            "SELECT action, target_id, account_id, reason FROM audit_log ORDER BY id"
        )
    finally:
        await conn.close()
    assert [(row["action"], row["target_id"]) for row in rows] == [
        ("instance_setting.federation_mode", "federation_mode"),
        ("domain_allow.create", "friends.example"),
        ("domain_allow.create", "pals.example"),
        ("instance_setting.authorized_fetch", "authorized_fetch"),
        ("domain_allow.destroy", "pals.example"),
        ("domain_allow.destroy", "friends.example"),
        ("instance_setting.federation_mode", "federation_mode"),
    ]
    assert {(row["account_id"], row["reason"]) for row in rows} == {(None, "cli")}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("domain-allow", "remove", "nope.example"), "kith: nope.example is not allowed"),
        (("domain-allow", "remove", "not a domain"), "kith: Domain is not a valid domain name"),
        (("domain-allow", "add", "bad_domain!"), "kith: Domain is not a valid domain name"),
    ],
)
async def test_cli_bad_input_is_one_line(tmp_path: Path, db_dsn: str, args, needle):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    code, _, err = await run_kith(*args, env=env)
    assert_one_line_error(code, err)
    assert needle in err


@pytest.mark.parametrize(
    "args",
    [
        ("federation", "mode", "closed"),
        ("federation", "authorized-fetch", "maybe"),
        ("federation",),
        ("domain-allow", "add"),
    ],
)
async def test_cli_usage_errors(tmp_path: Path, args):
    env = kith_env(tmp_path)
    code, _, err = await run_kith(*args, env=env)
    assert code == 2
    assert "Traceback" not in err
    assert "error:" in err.splitlines()[-1]


async def test_cli_duplicate_allow(tmp_path: Path, db_dsn: str):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    code, _, err = await run_kith("domain-allow", "add", "friends.example", env=env)
    assert code == 0, err
    code, _, err = await run_kith("domain-allow", "add", "friends.example", env=env)
    assert_one_line_error(code, err, "already been taken")


async def test_the_api_sees_what_the_cli_set(network, tmp_path: Path):
    kith: Instance = await network.start("kith.test")
    env = kith_env(tmp_path, KITH_DATABASE_URL=kith.dsn)
    code, _, err = await run_kith("federation", "authorized-fetch", "on", env=env)
    assert code == 0, err
    assert (await (await admin_of(kith)).get(URL))["authorized_fetch"] is True
