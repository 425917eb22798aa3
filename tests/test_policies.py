"""The policy pipeline's admin surface (API and `kith policy`), its NodeInfo publication, the
fetched-object path and the guard that keeps posts from being stored unscreened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from federation import remote_accounts
from federation.errors import KithError
from federation.parse.notes import parse_note
from federation.policies.pipeline import Unscreened
from server.state import POOL
from server.usecases import domain_blocks, remote_statuses
from server.usecases import policies as admin
from tests.api import api
from tests.cli import assert_one_line_error, kith_env, run_kith
from tests.inbox_peer import PUBLIC, Peer, kith_fixture, make_local, peer_fixture, process  # noqa: F401
from tests.members import create_member

ADMIN_SCOPES = ("read", "write", "admin:read", "admin:write")
POLICY_KEYS = {"id", "kind", "config", "position", "enabled", "dry_run", "created_at", "updated_at"}


async def call(client: Any, method: str, path: str, headers: dict, *, expect: int, **kw) -> Any:
    return await api(client, None, method, path, expect=expect, headers=headers, **kw)


# -- admin API ------------------------------------------------------------------------------------


async def test_admin_api_creates_orders_updates_and_deletes_policies(client, make_member):
    root = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    h = root.headers
    base = "/api/v1/admin/policies"
    keyword = await call(
        client,
        "POST",
        base,
        h,
        expect=200,
        json={"kind": "keyword", "config": {"patterns": ["spam"], "action": "reject"}},
    )
    assert set(keyword) == POLICY_KEYS
    assert (keyword["position"], keyword["enabled"], keyword["dry_run"]) == (1, True, False)
    media = await call(
        client,
        "POST",
        base,
        h,
        expect=200,
        json={"kind": "media_removal", "config": {"domains": ["a.example"]}},
    )
    # A form sends the config as JSON text; position 1 puts it first.
    tag = await call(
        client,
        "POST",
        base,
        h,
        expect=200,
        data={
            "kind": "hashtag",
            "config": '{"hashtags": ["nsfw"], "action": "sensitive"}',
            "position": "1",
            "dry_run": "true",
        },
    )
    assert tag["dry_run"] is True
    listed = await call(client, "GET", base, h, expect=200)
    assert [(p["id"], p["position"]) for p in listed] == [
        (tag["id"], 1),
        (keyword["id"], 2),
        (media["id"], 3),
    ]

    path = f"{base}/{media['id']}"
    updated = await call(
        client,
        "PUT",
        path,
        h,
        expect=200,
        json={"config": {"domains": ["b.example"]}, "enabled": False, "position": 1},
    )
    assert (updated["config"], updated["enabled"], updated["position"]) == (
        {"domains": ["b.example"]},
        False,
        1,
    )
    assert await call(client, "GET", path, h, expect=200) == updated
    await call(client, "DELETE", f"{base}/{tag['id']}", h, expect=200)
    listed = await call(client, "GET", base, h, expect=200)
    assert [(p["id"], p["position"]) for p in listed] == [(media["id"], 1), (keyword["id"], 2)]
    actions = await client.server.app[POOL].fetch(
        "SELECT action, account_id FROM audit_log ORDER BY id"
    )
    assert [tuple(a) for a in actions] == [
        (f"policy.{verb}", root.account_id)
        for verb in ("create", "create", "create", "update", "destroy")
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "nope", "config": {}}, "unknown policy kind 'nope'"),
        ({"config": {"domains": ["a.example"]}}, "kind can't be blank"),
        (
            {"kind": "keyword", "config": {"patterns": ["(unclosed"], "action": "reject"}},
            "bad regular expression",
        ),
        ({"kind": "keyword", "config": {"patterns": ["x"], "action": "explode"}}, "config/action"),
        ({"kind": "keyword", "config": {"patterns": []}}, "config"),
        ({"kind": "media_removal", "config": {"domains": ["not a domain"]}}, "not a valid domain"),
        ({"kind": "media_removal", "config": {"domains": ["a.example"], "x": 1}}, "config"),
        ({"kind": "mention_limit", "config": {"max_mentions": "ten"}}, "config/max_mentions"),
        ({"kind": "object_age", "config": {"max_age_days": 0}}, "config/max_age_days"),
        ({"kind": "hold_links"}, "config must be a JSON object"),
        ({"kind": "keyword", "config": "{not json"}, "config is not valid JSON"),
        ({"kind": "keyword", "config": ["x"]}, "config must be a JSON object"),
        (
            {"kind": "media_removal", "config": {"domains": ["a.example"]}, "position": 0},
            "position must be between",
        ),
        (
            {"kind": "media_removal", "config": {"domains": ["a.example"]}, "dry_run": "maybe"},
            "dry_run must be a boolean",
        ),
    ],
)
async def test_admin_api_refuses_bad_policies_with_422(client, make_member, body, message):
    root = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    error = await call(
        client, "POST", "/api/v1/admin/policies", root.headers, expect=422, json=body
    )
    assert message in error["error"]
    assert await client.server.app[POOL].fetchval("SELECT count(*) FROM policies") == 0


async def test_admin_api_unknown_ids_bad_updates_and_non_admins(client, make_member):
    root = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    h = root.headers
    for method, path in [
        ("GET", "/api/v1/admin/policies/123"),
        ("PUT", "/api/v1/admin/policies/123"),
        ("DELETE", "/api/v1/admin/policies/123"),
        ("GET", "/api/v1/admin/policies/nope"),
        ("POST", "/api/v1/admin/held_activities/123/release"),
        ("POST", "/api/v1/admin/held_activities/123/discard"),
    ]:
        assert (await call(client, method, path, h, expect=404))["error"] == "Record not found"
    policy = await call(
        client,
        "POST",
        "/api/v1/admin/policies",
        h,
        expect=200,
        json={"kind": "keyword", "config": {"patterns": ["x"], "action": "reject"}},
    )
    path = f"/api/v1/admin/policies/{policy['id']}"
    bad = {"config": {"patterns": ["[z-a]"], "action": "reject"}}
    assert (
        "bad regular expression"
        in (await call(client, "PUT", path, h, expect=422, json=bad))["error"]
    )
    assert (
        "enabled"
        in (await call(client, "PUT", path, h, expect=422, json={"enabled": "hm"}))["error"]
    )

    moderator = await make_member("mod", role="moderator", scopes=ADMIN_SCOPES)
    member = await make_member("amy")
    for who in (moderator, member):
        for method, where in [
            ("GET", "/api/v1/admin/policies"),
            ("POST", "/api/v1/admin/policies"),
            ("PUT", path),
            ("DELETE", path),
            ("POST", "/api/v1/admin/held_activities/123/release"),
        ]:
            await call(client, method, where, who.headers, expect=403)
    # What the pipeline decided and holds is readable by all staff.
    for where in ("/api/v1/admin/policy_decisions", "/api/v1/admin/held_activities"):
        assert await call(client, "GET", where, moderator.headers, expect=200) == []
        await call(client, "GET", where, member.headers, expect=403)
    assert (await call(client, "GET", path, h, expect=200))["config"]["patterns"] == ["x"]


# -- the review queue through the API -------------------------------------------------------------


def spam(peer: Peer, amy_uri: str, n: int) -> dict[str, Any]:
    actor = peer.actor()
    return peer.activity(
        "Create",
        {
            "id": f"{actor}/statuses/{n}",
            "type": "Note",
            "attributedTo": actor,
            "content": f'<p>hi amy, <a href="https://shop.example/{n}">deals</a></p>',
            "to": [PUBLIC],
            "cc": [amy_uri],
            "tag": [{"type": "Mention", "href": amy_uri, "name": "@amy"}],
        },
    )


async def test_held_activities_are_listed_released_and_discarded_by_an_admin(kith, peer):
    amy = await make_local(kith, "amy")
    _, token = await create_member(kith.app, "root", role="admin", scopes=ADMIN_SCOPES)
    h = {"Authorization": f"Bearer {token}"}
    await admin.create_policy(kith.pool, "hold_links", {"max_account_age_hours": 2}, actor_id=None)
    first, second = spam(peer, amy.uri, 1), spam(peer, amy.uri, 2)
    for activity in (first, second):
        assert (await process(kith, peer, activity)).startswith("ignored: held for review")
    held = await call(kith.client, "GET", "/api/v1/admin/held_activities", h, expect=200)
    assert [(x["activity_uri"], x["state"]) for x in held] == [
        (second["id"], "held"),
        (first["id"], "held"),
    ]
    assert held[0]["activity"]["object"]["id"] == second["object"]["id"]
    decided = await call(kith.client, "GET", "/api/v1/admin/policy_decisions", h, expect=200)
    assert [(d["policy_kind"], d["action"]) for d in decided] == [("hold_links", "hold")] * 2

    by_id = {x["activity_uri"]: x["id"] for x in held}
    base = "/api/v1/admin/held_activities"
    await call(kith.client, "POST", f"{base}/{by_id[first['id']]}/release", h, expect=200)
    await call(kith.client, "POST", f"{base}/{by_id[second['id']]}/discard", h, expect=200)
    await call(kith.client, "POST", f"{base}/{by_id[second['id']]}/release", h, expect=404)
    await kith.drain()
    async with kith.client.get("/api/v1/timelines/home", headers=amy.headers) as response:
        timeline = await response.json()
    async with kith.client.get("/api/v1/notifications", headers=amy.headers) as response:
        notifications = await response.json()
    uris = [s["uri"] for s in timeline] + [n["status"]["uri"] for n in notifications]
    assert first["object"]["id"] in uris and second["object"]["id"] not in uris
    assert await call(kith.client, "GET", base, h, expect=200) == []
    actions = await kith.pool.fetch(
        "SELECT action FROM audit_log WHERE action LIKE 'policy.%' ORDER BY id"
    )
    assert [a["action"] for a in actions] == ["policy.create", "policy.release", "policy.discard"]


# -- the fetched-object path ----------------------------------------------------------------------


async def test_a_fetched_post_passes_the_pipeline_before_it_is_stored(kith, peer):
    actor = peer.actor()
    doc = {
        "id": f"{actor}/statuses/9",
        "type": "Note",
        "attributedTo": actor,
        "content": "<p>buy crypto now</p>",
        "to": [PUBLIC],
    }
    peer.serve(doc)
    await admin.create_policy(
        kith.pool, "keyword", {"patterns": ["crypto"], "action": "reject"}, actor_id=None
    )
    with pytest.raises(Exception, match="rejected by policy keyword"):
        await remote_statuses.store_fetched_note(kith.federation, doc)
    assert await kith.pool.fetchval("SELECT count(*) FROM statuses WHERE uri = $1", doc["id"]) == 0
    decision = await kith.pool.fetchrow("SELECT * FROM policy_decisions")
    assert (decision["activity_uri"], decision["action"], decision["source"]) == (
        doc["id"],
        "reject",
        "fetch",
    )

    await kith.pool.execute("DELETE FROM policies")
    await admin.create_policy(
        kith.pool, "federated_timeline_removal", {"domains": ["peer.test"]}, actor_id=None
    )
    status = await remote_statuses.store_fetched_note(kith.federation, doc)
    assert status["visibility"] == "unlisted"


async def test_a_post_cannot_be_stored_around_the_pipeline(kith, peer):
    actor = peer.actor()
    doc = {"id": f"{actor}/statuses/1", "type": "Note", "attributedTo": actor, "content": "x"}
    await remote_accounts.resolve_actor(kith.federation, actor)
    # Neither a new post nor an edit can be given to the use cases unscreened.
    with pytest.raises(Unscreened):
        remote_statuses.Delivered(parse_note(doc))
    assert await kith.pool.fetchval("SELECT count(*) FROM statuses WHERE uri = $1", doc["id"]) == 0


async def test_a_create_naming_its_post_by_id_is_screened_as_fetched(kith, peer):
    amy = await make_local(kith, "amy")
    actor = peer.actor()
    doc = {
        "id": f"{actor}/statuses/5",
        "type": "Note",
        "attributedTo": actor,
        "content": "<p>hello @amy, buy crypto</p>",
        "to": [PUBLIC, amy.uri],
    }
    peer.serve(doc)
    await admin.create_policy(
        kith.pool, "keyword", {"patterns": ["crypto"], "action": "reject"}, actor_id=None
    )
    outcome = await process(kith, peer, peer.activity("Create", doc["id"]))
    assert outcome == "refused: rejected by policy keyword: matches 'crypto'"
    assert await kith.pool.fetchval("SELECT count(*) FROM statuses WHERE uri = $1", doc["id"]) == 0


async def test_a_reject_media_domain_keeps_no_avatar_or_header(kith, peer):
    images = {
        "icon": {"type": "Image", "url": f"{peer.base_url}/avatar.png"},
        "image": {"type": "Image", "url": f"{peer.base_url}/header.png"},
    }
    shown = await remote_accounts.resolve_actor(
        kith.federation, peer.actor("/users/shown", **images)
    )
    assert (shown["avatar_url"], shown["header_url"]) == (
        images["icon"]["url"],
        images["image"]["url"],
    )
    await kith.pool.execute(
        "INSERT INTO media_attachments (account_id, type, remote_url) VALUES ($1, 'image', $2)",
        shown["id"],
        f"{peer.base_url}/cat.png",
    )
    await domain_blocks.create_block(
        kith.pool, "peer.test", {"severity": "noop", "reject_media": True}, actor_id=None
    )
    # what the domain sent before the block is forgotten
    after = await kith.pool.fetchrow("SELECT * FROM accounts WHERE id = $1", shown["id"])
    assert (after["avatar_url"], after["header_url"]) == (None, None)
    assert await kith.pool.fetchval("SELECT count(*) FROM media_attachments") == 0
    hidden = await remote_accounts.resolve_actor(
        kith.federation, peer.actor("/users/hidden", **images)
    )
    assert (hidden["avatar_url"], hidden["header_url"]) == (None, None)


# -- NodeInfo -------------------------------------------------------------------------------------


async def nodeinfo(client: Any) -> dict[str, Any]:
    async with client.get("/nodeinfo/2.1") as response:
        assert response.status == 200
        return await response.json()


async def test_nodeinfo_lists_the_active_policies_as_pleroma_does(client):
    pool = client.server.app[POOL]
    assert "federation" not in (await nodeinfo(client))["metadata"]
    await admin.create_policy(pool, "media_removal", {"domains": ["a.example"]}, actor_id=None)
    await admin.create_policy(pool, "report_removal", {"domains": ["b.example"]}, actor_id=None)
    await admin.create_policy(
        pool, "keyword", {"patterns": ["spam"], "action": "unlist"}, actor_id=None
    )
    await admin.create_policy(pool, "mention_limit", {"max_mentions": 20}, actor_id=None)
    await admin.create_policy(pool, "object_age", {"max_age_days": 7}, actor_id=None)
    await admin.create_policy(
        pool, "hashtag", {"hashtags": ["x"], "action": "reject"}, dry_run=True, actor_id=None
    )
    await admin.create_policy(
        pool, "keyword", {"patterns": ["off"], "action": "reject"}, enabled=False, actor_id=None
    )
    federation = (await nodeinfo(client))["metadata"]["federation"]
    assert federation["mrf_policies"] == [
        "SimplePolicy",
        "KeywordPolicy",
        "HellthreadPolicy",
        "ObjectAgePolicy",
    ]
    assert federation["mrf_simple"] == {
        "media_removal": ["a.example"],
        "report_removal": ["b.example"],
    }
    assert federation["mrf_keyword"] == {"federated_timeline_removal": ["spam"]}
    assert federation["mrf_hellthread"] == {"reject_threshold": 20}
    assert federation["mrf_object_age"] == {"threshold": 604800, "actions": ["reject"]}
    assert "mrf_hashtag" not in federation

    await admin.set_publication(pool, False, actor_id=None)
    assert "federation" not in (await nodeinfo(client))["metadata"]
    await admin.set_publication(pool, True, actor_id=None)
    assert "federation" in (await nodeinfo(client))["metadata"]


# -- the command line -----------------------------------------------------------------------------


async def test_cli_manages_policies_and_publication(tmp_path: Path, db_dsn: str):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    code, out, err = await run_kith(
        "policy",
        "add",
        "keyword",
        "--config",
        '{"patterns": ["spam"], "action": "reject"}',
        env=env,
    )
    assert code == 0, err
    assert "(keyword) at position 1" in out
    policy_id = out.split()[2]
    code, out, err = await run_kith(
        "policy",
        "add",
        "media_removal",
        "--config",
        '{"domains": ["a.example"]}',
        "--dry-run",
        "--position",
        "1",
        env=env,
    )
    assert code == 0, err
    media_id = out.split()[2]
    code, out, _ = await run_kith("policy", "list", env=env)
    lines = out.splitlines()
    assert [line.split("\t")[:4] for line in lines] == [
        [media_id, "1", "media_removal", "enabled,dry-run"],
        [policy_id, "2", "keyword", "enabled"],
    ]
    for args in (("disable", policy_id), ("dry-run", media_id, "off"), ("enable", policy_id)):
        code, _, err = await run_kith("policy", *args, env=env)
        assert code == 0, err
    code, out, _ = await run_kith("policy", "list", env=env)
    assert out.splitlines()[0].split("\t")[3] == "enabled"
    code, out, err = await run_kith("policy", "nodeinfo", "off", env=env)
    assert (code, out.strip()) == (0, "policies not published in NodeInfo"), err
    for command in ("decisions", "held"):
        code, out, err = await run_kith("policy", command, env=env)
        assert code == 0 and out.startswith("no "), err
    code, out, err = await run_kith("policy", "remove", policy_id, env=env)
    assert (code, out.strip()) == (0, f"removed policy {policy_id} (keyword)"), err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("add", "nope", "--config", "{}"), "unknown policy kind 'nope'"),
        (("add", "keyword", "--config", "{bad"), "--config is not valid JSON"),
        (("add", "keyword", "--config", '{"patterns": ["("], "action": "reject"}'), "bad regular"),
        (("add", "object_age", "--config", '{"max_age_days": -1}'), "config/max_age_days"),
        (
            ("add", "media_removal", "--config", '{"domains": ["x.y"]}', "--position", "z"),
            "position",
        ),
        (("remove", "123"), "Record not found"),
        (("enable", "abc"), "'abc' is not an id"),
        (("release", "42"), "Record not found"),
    ],
)
async def test_cli_bad_input_is_one_line(tmp_path: Path, db_dsn: str, args, needle):
    code, _, err = await run_kith("policy", *args, env=kith_env(tmp_path, KITH_DATABASE_URL=db_dsn))
    assert_one_line_error(code, err, needle)


def test_service_errors_name_the_problem():
    with pytest.raises(KithError, match="unknown policy kind"):
        admin.check_config("nope", {})
