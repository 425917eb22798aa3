"""Instance domain blocks and allows: their effects across real instances, the admin API, the
public list and the `kith domain-block` command line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncpg

from server.state import POOL
from tests.cli import kith_env, run_kith
from tests.federation_harness import Instance
from tests.inbox_peer import Peer
from tests.members import create_member
from tests.test_federation_e2e import (
    User,
    alice_follows_bob,
    follow_remote,
    home,
    member,
    notifications,
    post,
)

ADMIN_SCOPES = ["read", "write", "follow", "admin:read", "admin:write"]


async def admin_of(instance: Instance, username: str = "root") -> User:
    user, token = await create_member(instance.app, username, role="admin", scopes=ADMIN_SCOPES)
    return User(instance.client, instance.host, username, user["account_id"], token)


async def allowlist_mode(instance: Instance) -> None:
    await instance.pool.execute(
        "INSERT INTO instance_settings (key, value) "
        "VALUES ('federation_mode', to_jsonb('allowlist'::text))"
    )


async def count(instance: Instance, sql: str, *args) -> int:
    return await instance.pool.fetchval(f"SELECT count(*) FROM {sql}", *args)


# -- across instances -----------------------------------------------------------------------------


async def test_suspending_a_domain_severs_it_and_refuses_everything_it_sends(network):
    alpha, beta, alice, bob, bob_on_alpha = await alice_follows_bob(network)
    await follow_remote(network, bob, alice)
    before = await post(bob, "before the block")
    await network.drain()
    assert before["uri"] in [s["uri"] for s in await home(alice)]

    root = await admin_of(alpha)
    block = await root.post("/api/v1/admin/domain_blocks", domain="beta.test", severity="suspend")
    assert block["severity"] == "suspend"

    graph = "follows WHERE account_id = $1 OR target_account_id = $1"
    assert await count(alpha, graph, int(bob_on_alpha)) == 0
    assert (
        await count(alpha, "accounts WHERE id = $1 AND suspended_at IS NOT NULL", int(bob_on_alpha))
        == 1
    )
    assert before["uri"] not in [s["uri"] for s in await home(alice)]
    assert await count(alpha, "statuses WHERE uri = $1 AND deleted_at IS NULL", before["uri"]) == 0
    audit = await alpha.pool.fetchrow("SELECT * FROM audit_log WHERE action LIKE 'domain_block%'")
    assert (audit["account_id"], audit["action"], audit["target_id"]) == (
        root.account_id,
        "domain_block.create",
        "beta.test",
    )

    # beta still thinks alice follows bob: what it delivers is refused and nothing is stored.
    stored = await count(alpha, "inbox_activities")
    await post(bob, "after the block")
    await network.drain()
    assert await count(alpha, "inbox_activities") == stored
    assert (
        await beta.pool.fetchval("SELECT last_status FROM deliveries ORDER BY id DESC LIMIT 1")
        == 403
    )

    # and alpha sends beta nothing, even what beta's members would be addressed in.
    sent = await count(alpha, "deliveries WHERE host = 'beta.test'")
    await post(alice, f"hello @{bob.acct}")
    await network.drain()
    assert await count(alpha, "deliveries WHERE host = 'beta.test'") == sent
    await alice.get("/api/v1/accounts/lookup", expect=404, acct="carol@beta.test")


async def test_a_silenced_domain_stays_out_of_public_timelines_and_strangers_notifications(
    network,
):
    alpha, _, alice, bob, _ = await alice_follows_bob(network)
    carol = await member(alpha, "carol")  # follows nobody on beta

    async def federated(user: User) -> list[str]:
        return [s["uri"] for s in await user.get("/api/v1/timelines/public", limit=40)]

    loud = await post(bob, "before the silence")
    await network.drain()
    assert loud["uri"] in await federated(carol)

    root = await admin_of(alpha)
    await root.post("/api/v1/admin/domain_blocks", domain="beta.test", severity="silence")
    quiet = await post(bob, "after the silence @alice@alpha.test @carol@alpha.test")
    await network.drain()

    assert quiet["uri"] not in await federated(carol)
    assert loud["uri"] not in await federated(carol)  # earlier posts leave public timelines too
    assert quiet["uri"] in [s["uri"] for s in await home(alice)]  # followers still see it

    def mentions(items: list[dict]) -> list[str]:
        return [n["status"]["uri"] for n in items if n["type"] == "mention"]

    assert quiet["uri"] in mentions(await notifications(alice))  # alice follows bob
    assert quiet["uri"] not in mentions(await notifications(carol))  # carol does not


async def test_allowlist_mode_refuses_every_other_domain_in_and_out(network):
    alpha, beta, alice, bob, _ = await alice_follows_bob(network)
    await follow_remote(network, bob, alice)
    gamma = await network.start("gamma.test")
    carol = await member(gamma, "carol")
    dave = await member(beta, "dave")
    root = await admin_of(alpha)
    allow = await root.post("/api/v1/admin/domain_allows", domain="gamma.test")
    assert allow["domain"] == "gamma.test"
    await allowlist_mode(alpha)

    # fetching: gamma resolves, beta does not
    assert (await alice.get("/api/v1/accounts/lookup", acct=carol.acct))["acct"] == carol.acct
    await alice.get("/api/v1/accounts/lookup", expect=404, acct=dave.acct)

    # delivering: bob still follows alice, but alice's posts are not sent to beta
    deliveries = await count(alpha, "deliveries WHERE host = 'beta.test'")
    await post(alice, "only for friends")
    await network.drain()
    assert await count(alpha, "deliveries WHERE host = 'beta.test'") == deliveries

    # receiving: bob's posts are refused
    stored = await count(alpha, "inbox_activities")
    await post(bob, "let me in")
    await network.drain()
    assert await count(alpha, "inbox_activities") == stored


async def test_a_subdomain_of_a_suspended_domain_is_refused_before_its_key_is_fetched(network):
    kith = await network.start("kith.test")
    peer = await Peer.start(network, "social.evil.test")
    try:
        root = await admin_of(kith)
        await root.post("/api/v1/admin/domain_blocks", domain="evil.test", severity="suspend")
        activity = peer.activity("Follow", kith.federation.urls.actor("root"))
        status, body = await peer.deliver(kith, activity)
        assert status == 403, body
        assert "error" in body
        assert peer.server.requests_to("/users/ana") == []
        assert await count(kith, "inbox_activities") == 0
        assert await count(kith, "accounts WHERE domain IS NOT NULL") == 0
    finally:
        await peer.server.close()


# -- the admin API --------------------------------------------------------------------------------

BLOCK_KEYS = {
    "id",
    "domain",
    "digest",
    "created_at",
    "severity",
    "reject_media",
    "reject_reports",
    "private_comment",
    "public_comment",
    "obfuscate",
    "origin",
}


async def test_admin_domain_block_crud(client, make_member):
    admin = await make_member("root", role="admin", scopes=("admin:read", "admin:write"))
    headers = admin.headers
    response = await client.post(
        "/api/v1/admin/domain_blocks",
        json={
            "domain": "Spam.Example.",
            "severity": "silence",
            "reject_media": True,
            "private_comment": "staff only",
            "public_comment": "spam",
        },
        headers=headers,
    )
    assert response.status == 200, await response.text()
    block = await response.json()
    assert set(block) == BLOCK_KEYS
    assert block["domain"] == "spam.example"
    assert block["digest"] == hashlib.sha256(b"spam.example").hexdigest()
    assert (block["severity"], block["reject_media"], block["obfuscate"]) == (
        "silence",
        True,
        False,
    )

    listed = await (await client.get("/api/v1/admin/domain_blocks", headers=headers)).json()
    assert [b["id"] for b in listed] == [block["id"]]
    path = f"/api/v1/admin/domain_blocks/{block['id']}"
    assert (await (await client.get(path, headers=headers)).json()) == block

    response = await client.put(path, json={"severity": "suspend"}, headers=headers)
    updated = await response.json()
    assert (updated["severity"], updated["public_comment"]) == ("suspend", "spam")

    response = await client.delete(path, headers=headers)
    assert response.status == 200
    assert (await client.get(path, headers=headers)).status == 404
    actions = await client.server.app[POOL].fetch(
        "SELECT action, target_id, account_id FROM audit_log ORDER BY id"
    )
    assert [tuple(a) for a in actions] == [
        (f"domain_block.{verb}", "spam.example", admin.account_id)
        for verb in ("create", "update", "destroy")
    ]


async def test_admin_domain_allow_crud(client, make_member):
    admin = await make_member("root", role="admin", scopes=("admin:read", "admin:write"))
    response = await client.post(
        "/api/v1/admin/domain_allows", json={"domain": "friends.example"}, headers=admin.headers
    )
    allow = await response.json()
    assert set(allow) == {"id", "domain", "created_at"}
    listed = await (await client.get("/api/v1/admin/domain_allows", headers=admin.headers)).json()
    assert listed == [allow]
    path = f"/api/v1/admin/domain_allows/{allow['id']}"
    assert (await client.delete(path, headers=admin.headers)).status == 200
    assert (await client.get(path, headers=admin.headers)).status == 404


async def test_admin_api_refuses_bad_input(client, make_member):
    admin = await make_member("root", role="admin", scopes=("admin:read", "admin:write"))

    async def create(body: dict) -> tuple[int, dict]:
        response = await client.post(
            "/api/v1/admin/domain_blocks", json=body, headers=admin.headers
        )
        return response.status, await response.json()

    assert (await create({"domain": "dup.example"}))[0] == 200
    assert await create({"domain": "DUP.example"}) == (
        422,
        {"error": "Validation failed: Domain has already been taken"},
    )
    for body in (
        {},
        {"domain": "not a domain"},
        {"domain": "-bad.example"},
        {"domain": "ok.example", "severity": "ban"},
        {"domain": "ok.example", "reject_media": "perhaps"},
    ):
        status, error = await create(body)
        assert status == 422, body
        assert "error" in error
    response = await client.put(
        "/api/v1/admin/domain_blocks/1", json={"severity": "noop"}, headers=admin.headers
    )
    assert response.status == 404


async def test_admin_api_is_for_admins_with_the_scope(client, make_member):
    moderator = await make_member("mod", role="moderator", scopes=("admin:read", "admin:write"))
    user = await make_member("user", scopes=("admin:read", "admin:write"))
    reader = await make_member("reader", role="admin", scopes=("admin:read:domain_blocks",))
    path = "/api/v1/admin/domain_blocks"
    assert (await client.get(path)).status == 401
    for member_ in (moderator, user):
        assert (await client.get(path, headers=member_.headers)).status == 403
    assert (await client.get(path, headers=reader.headers)).status == 200
    response = await client.post(path, json={"domain": "x.example"}, headers=reader.headers)
    assert response.status == 403
    assert (await client.get("/api/v1/admin/domain_allows", headers=reader.headers)).status == 403


async def test_public_list_shows_limitations_with_obfuscation(client, make_member):
    admin = await make_member("root", role="admin", scopes=("admin:write",))
    for body in (
        {"domain": "hidden-spam.example", "severity": "suspend", "obfuscate": True},
        {"domain": "loud.example", "severity": "silence", "public_comment": "too loud"},
        {"domain": "quiet.example", "severity": "noop"},
        {"domain": "media.example", "severity": "noop", "reject_media": True},
    ):
        response = await client.post(
            "/api/v1/admin/domain_blocks", json=body, headers=admin.headers
        )
        assert response.status == 200
    response = await client.get("/api/v1/instance/domain_blocks")
    assert response.status == 200
    shown = {b["digest"]: b for b in await response.json()}
    assert len(shown) == 3

    def entry(domain: str) -> dict:
        return shown[hashlib.sha256(domain.encode()).hexdigest()]

    assert entry("hidden-spam.example") == {
        "domain": "hidde******.***mple",
        "digest": hashlib.sha256(b"hidden-spam.example").hexdigest(),
        "severity": "suspend",
        "comment": None,
    }
    assert entry("loud.example")["domain"] == "loud.example"
    assert entry("loud.example")["comment"] == "too loud"
    assert entry("media.example")["severity"] == "noop"


# -- the command line -----------------------------------------------------------------------------


async def test_cli_add_list_remove_export_import(tmp_path: Path, db_dsn: str):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    code, out, err = await run_kith(
        "domain-block", "add", "evil.example", "--public-comment", "spam, lots", env=env
    )
    assert code == 0, err
    assert "blocked evil.example (suspend)" in out
    code, out, err = await run_kith(
        "domain-block", "add", "loud.example", "--severity", "silence", "--obfuscate", env=env
    )
    assert code == 0, err
    code, out, _ = await run_kith("domain-block", "add", "evil.example", env=env)
    assert code == 1 and "already been taken" in _

    code, out, _ = await run_kith("domain-block", "list", env=env)
    assert out.splitlines() == [
        "evil.example\tsuspend\tlocal\t\tspam, lots",
        "loud.example\tsilence\tlocal\tobfuscate\t",
    ]

    code, exported, _ = await run_kith("domain-block", "export", env=env)
    assert exported.splitlines() == [
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate,#origin",
        'evil.example,suspend,false,false,"spam, lots",false,local',
        "loud.example,silence,false,false,,true,local",
    ]

    for domain in ("evil.example", "loud.example"):
        code, out, err = await run_kith("domain-block", "remove", domain, env=env)
        assert code == 0, err
    code, out, _ = await run_kith("domain-block", "list", env=env)
    assert out.strip() == "no domain blocks"
    code, _, err = await run_kith("domain-block", "remove", "evil.example", env=env)
    assert code == 1 and "kith: evil.example is not blocked" in err

    csv_file = tmp_path / "blocks.csv"
    csv_file.write_text(exported)
    code, out, err = await run_kith("domain-block", "import", str(csv_file), env=env)
    assert code == 0, err
    assert "2 created, 0 updated, 0 unchanged, 0 skipped" in out
    code, again, _ = await run_kith("domain-block", "export", env=env)
    assert again == exported
    code, out, _ = await run_kith("domain-block", "import", str(csv_file), env=env)
    assert "0 created, 0 updated, 2 unchanged" in out

    code, out, err = await run_kith(
        "domain-block", "import", "-", env=env, stdin="loud.example\nnew.example\n"
    )
    assert code == 0, err
    assert "1 created, 1 updated, 0 unchanged, 0 skipped" in out

    rows = await _audit(db_dsn)
    assert {row["reason"] for row in rows} == {"cli"}
    assert {row["account_id"] for row in rows} == {None}


async def test_cli_import_reports_bad_lines_and_keeps_the_good_ones(tmp_path: Path, db_dsn: str):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    text = (
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
        "good.example,silence,true,false,,false\n"
        "bad domain,suspend,false,false,,false\n"
        "worse.example,ban,false,false,,false\n"
        "\n"
        "odd.example,suspend,maybe,false,,false\n"
    )
    code, out, err = await run_kith("domain-block", "import", "-", env=env, stdin=text)
    assert code == 0, err
    assert "1 created, 0 updated, 0 unchanged, 3 skipped" in out
    errors = [line for line in err.splitlines() if line.startswith("kith: line")]
    assert [line.split(":")[1].strip() for line in errors] == ["line 3", "line 4", "line 6"]
    assert "not a valid domain" in errors[0] and "Severity" in errors[1]
    assert "Traceback" not in err

    code, out, err = await run_kith("domain-block", "import", "-", env=env, stdin="not valid\n")
    assert code == 1
    assert "kith: no line could be imported" in err


async def _audit(dsn: str) -> list:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch("SELECT * FROM audit_log WHERE target_type = 'domain'")
    finally:
        await conn.close()


async def test_silence_marks_the_domains_accounts_and_lifting_it_unmarks_only_those(
    client, make_member
):
    admin = await make_member("root", role="admin", scopes=("admin:read", "admin:write"))
    pool = client.server.app[POOL]
    ids = {}
    for name, domain in (("a", "loud.example"), ("b", "x.loud.example"), ("c", "quiet.example")):
        ids[name] = await pool.fetchval(
            "INSERT INTO accounts (username, domain, uri) VALUES ($1, $2, $3) RETURNING id",
            name,
            domain,
            f"https://{domain}/users/{name}",
        )
    await pool.execute(
        "INSERT INTO accounts (username, domain, uri, silenced_at) "
        "VALUES ('own', 'loud.example', 'https://loud.example/users/own', now() - interval '1 day')"
    )

    async def limited(column: str) -> set[str]:
        rows = await pool.fetch(f"SELECT username FROM accounts WHERE {column} IS NOT NULL")
        return {row["username"] for row in rows}

    response = await client.post(
        "/api/v1/admin/domain_blocks",
        json={"domain": "loud.example", "severity": "silence"},
        headers=admin.headers,
    )
    path = f"/api/v1/admin/domain_blocks/{(await response.json())['id']}"
    assert await limited("silenced_at") == {"a", "b", "own"}
    await client.put(path, json={"severity": "suspend"}, headers=admin.headers)
    assert (await limited("silenced_at"), await limited("suspended_at")) == (
        {"own"},
        {"a", "b", "own"},
    )
    await client.put(path, json={"public_comment": "still suspended"}, headers=admin.headers)
    assert await limited("suspended_at") == {"a", "b", "own"}
    await client.delete(path, headers=admin.headers)
    assert (await limited("silenced_at"), await limited("suspended_at")) == ({"own"}, set())
