"""Block-list subscriptions: lists served by a real local HTTP server whose content changes
between refreshes, applied through the admin API, the refresh job and `kith blocklist`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from federation.blocklists.parse import MalformedList, parse_list
from server.config import Config
from server.jobs.runner import Worker
from server.jobs.worker import build_registry
from server.state import FEDERATION, POOL
from tests.api import api
from tests.cli import assert_one_line_error, kith_env, run_kith
from tests.schemas import assert_matches
from tests.test_domain_blocks import admin_of, count
from tests.test_federation_e2e import alice_follows_bob, follow_remote

ADMIN_SCOPES = ("read", "write", "admin:read", "admin:write")
BASE = "/api/v1/admin/blocklist_subscriptions"
SUBSCRIPTION_KEYS = {
    "id",
    "url",
    "max_severity",
    "mode",
    "interval_hours",
    "format",
    "last_fetched_at",
    "last_success_at",
    "last_error",
    "next_refresh_at",
    "entries_count",
    "pending_count",
    "listed_count",
    "obfuscated_count",
    "invalid_count",
    "created_at",
}


@pytest.fixture
def config(tmp_path) -> Config:
    """The `client` app may fetch from loopback, where the test's list server listens."""
    return Config(
        domain="kith.test", data_dir=tmp_path, insecure_http=True, allow_private_addresses=True
    )


class ListServer:
    """Serves documents whose status, type and body a test changes between refreshes."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[int, str, str]] = {}
        self.base = ""

    def put(self, path: str, body: str, content_type: str = "text/plain", status: int = 200):
        self.docs[path] = (status, content_type, body)
        return self.base + path

    async def handle(self, request: web.Request) -> web.Response:
        status, content_type, body = self.docs.get(request.path, (404, "text/plain", "no"))
        if status in (301, 302, 307):
            return web.Response(status=status, headers={"Location": body})
        return web.Response(status=status, content_type=content_type, text=body)


@pytest.fixture
async def lists(aiohttp_server) -> ListServer:
    server = ListServer()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    test_server = await aiohttp_server(app)
    server.base = f"http://127.0.0.1:{test_server.port}"
    return server


# -- the three formats ----------------------------------------------------------------------------


def mastodon_csv(blocks: dict[str, str], *, hashes: bool = True) -> str:
    names = ["domain", "severity", "reject_media", "reject_reports", "public_comment", "obfuscate"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"#{n}" if hashes else n for n in names])
    for domain, severity in blocks.items():
        writer.writerow([domain, severity, "false", "false", f"{domain}, spam", "false"])
    return out.getvalue()


def plain(blocks: dict[str, str]) -> str:
    return "# a shared list\n\n" + "".join(f"{domain}  # why\n" for domain in blocks)


def mastodon_json(blocks: dict[str, str]) -> str:
    listed: list[dict[str, Any]] = [
        {"domain": d, "digest": "x", "severity": s, "comment": f"{d}, spam"}
        for d, s in blocks.items()
    ]
    listed.append({"domain": "hid*****.example", "severity": "suspend", "comment": None})
    return json.dumps(listed)


FORMATS = {
    "csv": (lambda b: mastodon_csv(b), "text/csv"),
    "csv-no-hash": (lambda b: mastodon_csv(b, hashes=False), "text/csv"),
    "plain": (plain, "text/plain"),
    "json": (mastodon_json, "application/json"),
}


async def effective(pool) -> dict[str, tuple[str, str]]:
    rows = await pool.fetch("SELECT domain, severity, origin FROM domain_blocks")
    return {row["domain"]: (row["severity"], row["origin"]) for row in rows}


async def audit_actions(pool) -> list[tuple]:
    rows = await pool.fetch(
        "SELECT action, target_id, account_id, detail FROM audit_log "
        "WHERE action LIKE 'blocklist.%' ORDER BY id"
    )
    return [(r["action"], r["target_id"], r["account_id"], r["detail"]) for r in rows]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
async def test_a_subscription_adds_updates_and_retracts_blocks(client, make_member, lists, fmt):
    render, content_type = FORMATS[fmt]
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    pool = client.server.app[POOL]
    first = {"spam.example": "suspend", "loud.example": "silence"}
    if fmt == "plain":  # a plain list suspends whatever it names
        first = {"spam.example": "suspend", "loud.example": "suspend"}
    url = lists.put("/list", render(first), content_type)

    created = await api(client, admin, "POST", BASE, json={"url": url})
    assert set(created) == SUBSCRIPTION_KEYS
    assert (created["max_severity"], created["mode"], created["interval_hours"]) == (
        "suspend",
        "auto",
        24,
    )
    assert created["last_fetched_at"] is None and created["entries_count"] == 0
    assert await effective(pool) == {}

    refreshed = await api(client, admin, "POST", f"{BASE}/{created['id']}/refresh")
    assert refreshed["last_error"] is None and refreshed["last_success_at"] is not None
    assert refreshed["format"] == fmt.removesuffix("-no-hash")
    assert refreshed["entries_count"] == refreshed["listed_count"] == 2
    assert refreshed["obfuscated_count"] == (1 if fmt == "json" else 0)
    assert await effective(pool) == {d: (s, "subscription") for d, s in first.items()}
    shown = await api(client, admin, "GET", "/api/v1/admin/domain_blocks")
    assert {b["domain"]: b["origin"] for b in shown} == dict.fromkeys(first, "subscription")
    if fmt != "plain":
        assert {b["public_comment"] for b in shown} == {f"{d}, spam" for d in first}

    # the list changes: one severity changes (plain lists have none), one goes, one comes
    second = {"spam.example": "silence", "new.example": "suspend"}
    if fmt == "plain":
        second = {"spam.example": "suspend", "new.example": "suspend"}
    lists.put("/list", render(second), content_type)
    refreshed = await api(client, admin, "POST", f"{BASE}/{created['id']}/refresh")
    assert refreshed["entries_count"] == 2
    assert await effective(pool) == {d: (s, "subscription") for d, s in second.items()}

    actions = await audit_actions(pool)
    assert {(a, target) for a, target, _, _ in actions} >= {
        ("blocklist.subscribe", created["id"]),
        ("blocklist.apply", "spam.example"),
        ("blocklist.apply", "loud.example"),
        ("blocklist.retract", "loud.example"),
        ("blocklist.apply", "new.example"),
    }
    automatic = [(a, detail) for a, _, actor, detail in actions if a != "blocklist.subscribe"]
    assert all(detail["subscription_id"] == created["id"] for _, detail in automatic)
    assert all(detail["url"] == url for _, detail in automatic)
    assert {actor for a, _, actor, _ in actions if a != "blocklist.subscribe"} == {None}
    updates = [d for a, t, _, d in actions if a == "blocklist.apply" and t == "spam.example"]
    if fmt != "plain":
        assert [(d["previous_severity"], d["severity"]) for d in updates] == [
            (None, "suspend"),
            ("suspend", "silence"),
        ]

    logged = await api(client, admin, "GET", "/api/v1/admin/audit_log")
    for entry in logged:
        assert_matches("audit_log_entry", entry)
    assert {e["action"] for e in logged} >= {"blocklist.apply", "blocklist.retract"}

    # unsubscribing retracts everything it made
    await api(client, admin, "DELETE", f"{BASE}/{created['id']}")
    assert await effective(pool) == {}
    assert await api(client, admin, "GET", BASE) == []


def test_parsing_counts_obfuscated_and_invalid_entries_and_refuses_garbage():
    parsed = parse_list(
        b"\xef\xbb\xbfdomain,severity,reject_media\n"
        b"Good.Example.,silence,true\n"
        b"b*d.example,suspend,false\n"
        b"not a domain,suspend,false\n"
        b"odd.example,ban,false\n"
        b"flag.example,noop,perhaps\n"
        b"good.example,suspend,false\n",
        "text/csv",
    )
    assert parsed.format == "csv"
    assert parsed.entries == {
        "good.example": {
            "severity": "suspend",
            "reject_media": False,
            "reject_reports": False,
            "obfuscate": False,
            "public_comment": "",
        }
    }
    assert (parsed.obfuscated, parsed.invalid) == (1, 3)
    assert parse_list(b"", "text/plain").entries == {}
    for body, content_type in (
        (b"<!doctype html><p>moved</p>", "text/plain"),
        (b"anything", "text/html"),
        (b"[{]", "application/json"),
        (b'{"domain": "x.example"}', "application/json"),
        (b"lorem ipsum dolor\nsit amet, consectetur\n", "text/plain"),
        (b"\xff\xfe\x00garbage", "application/octet-stream"),
    ):
        with pytest.raises(MalformedList):
            parse_list(body, content_type)


# -- the cap and review mode ----------------------------------------------------------------------


async def test_the_severity_cap_limits_what_is_applied(client, make_member, lists):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    pool = client.server.app[POOL]
    url = lists.put("/cap.csv", mastodon_csv({"a.example": "suspend", "b.example": "noop"}))
    sub = await api(client, admin, "POST", BASE, json={"url": url, "max_severity": "silence"})
    await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert await effective(pool) == {
        "a.example": ("silence", "subscription"),
        "b.example": ("noop", "subscription"),
    }
    # raising the cap applies the listed severity without a refetch
    lists.put("/cap.csv", "", status=500)
    updated = await api(
        client, admin, "PUT", f"{BASE}/{sub['id']}", json={"max_severity": "suspend"}
    )
    assert updated["max_severity"] == "suspend"
    assert (await effective(pool))["a.example"] == ("suspend", "subscription")
    actions = await audit_actions(pool)
    assert ("blocklist.update", sub["id"], admin.account_id) in [a[:3] for a in actions]
    assert actions[-2][:3] == ("blocklist.apply", "a.example", admin.account_id)


async def test_review_mode_holds_changes_until_an_admin_decides(client, make_member, lists):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    pool = client.server.app[POOL]
    blocks = {"a.example": "suspend", "b.example": "silence"}
    url = lists.put("/review.json", mastodon_json(blocks), "application/json")
    sub = await api(
        client, admin, "POST", BASE, json={"url": url, "mode": "review", "max_severity": "silence"}
    )
    refreshed = await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert (refreshed["entries_count"], refreshed["pending_count"]) == (0, 2)
    assert await effective(pool) == {}

    pending = await api(client, admin, "GET", f"{BASE}/{sub['id']}/pending")
    by_domain = {c["domain"]: c for c in pending}
    assert set(by_domain) == set(blocks)
    a = by_domain["a.example"]
    assert (a["action"], a["severity"], a["applied_severity"], a["previous_severity"]) == (
        "add",
        "suspend",
        "silence",
        None,
    )
    after = await api(client, admin, "POST", f"{BASE}/{sub['id']}/pending/{a['id']}/approve")
    assert (after["entries_count"], after["pending_count"]) == (1, 1)
    assert await effective(pool) == {"a.example": ("silence", "subscription")}
    b = by_domain["b.example"]
    await api(client, admin, "POST", f"{BASE}/{sub['id']}/pending/{b['id']}/reject")
    await api(client, admin, "POST", f"{BASE}/{sub['id']}/pending/{b['id']}/reject", expect=422)
    assert await effective(pool) == {"a.example": ("silence", "subscription")}

    # a rejection holds across refreshes while the list says the same
    again = await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert again["pending_count"] == 0
    # removing a domain is a change to review too
    lists.put("/review.json", mastodon_json({"b.example": "suspend"}), "application/json")
    again = await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    pending = await api(client, admin, "GET", f"{BASE}/{sub['id']}/pending")
    assert sorted((c["domain"], c["action"]) for c in pending) == [
        ("a.example", "remove"),
        ("b.example", "add"),
    ]
    assert await effective(pool) == {"a.example": ("silence", "subscription")}
    decided = [
        a for a in await audit_actions(pool) if a[0] in ("blocklist.approve", "blocklist.reject")
    ]
    assert [(a[0], a[2], a[3]["domain"]) for a in decided] == [
        ("blocklist.approve", admin.account_id, "a.example"),
        ("blocklist.reject", admin.account_id, "b.example"),
    ]

    # switching to auto applies what was held
    await api(client, admin, "PUT", f"{BASE}/{sub['id']}", json={"mode": "auto"})
    assert await effective(pool) == {"b.example": ("silence", "subscription")}
    assert await api(client, admin, "GET", f"{BASE}/{sub['id']}/pending") == []


# -- failures keep the last good copy -------------------------------------------------------------


async def test_an_unreachable_failing_or_garbage_list_keeps_the_last_good_blocks(
    client, make_member, lists
):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    pool = client.server.app[POOL]
    good = {f"d{i}.example": "suspend" for i in range(3)}
    url = lists.put("/list.txt", plain(good))
    sub = await api(client, admin, "POST", BASE, json={"url": url})
    ok = await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert ok["entries_count"] == 3
    kept = await effective(pool)

    for status, content_type, body, error in (
        (500, "text/plain", "oops", "HTTP 500"),
        (200, "text/html", "<html>moved</html>", "HTML"),
        (200, "application/json", "[{", "not valid JSON"),
        (200, "text/plain", "lorem ipsum\ndolor sit amet\n", "no valid entry"),
        (200, "text/plain", "# nothing left\n", "no entries any more"),
        (302, "", "/list.txt", "redirects"),
    ):
        lists.put("/list.txt", body, content_type, status=status)
        failed = await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
        assert error in (failed["last_error"] or ""), failed
        assert failed["last_success_at"] == ok["last_success_at"]
        assert failed["last_fetched_at"] > ok["last_fetched_at"]
        assert failed["entries_count"] == 3
        assert await effective(pool) == kept

    lists.put("/big.txt", "x" * (5 * 1024 * 1024 + 1))
    lists.put("/list.txt", "/big.txt", status=302)
    failed = await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert "larger than" in failed["last_error"]

    down = await api(client, admin, "POST", BASE, json={"url": "http://127.0.0.1:1/list.txt"})
    failed = await api(client, admin, "POST", f"{BASE}/{down['id']}/refresh")
    assert "failed" in failed["last_error"] and failed["last_success_at"] is None

    lists.put("/list.txt", plain({"d0.example": "suspend"}))
    back = await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert back["last_error"] is None and back["entries_count"] == 1
    assert await effective(pool) == {"d0.example": ("suspend", "subscription")}


async def test_private_addresses_are_refused_unless_allowed(client, make_member, lists):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    url = lists.put("/list.txt", plain({"a.example": "suspend"}))
    sub = await api(client, admin, "POST", BASE, json={"url": url})
    client.server.app[FEDERATION].allow_private_addresses = False
    failed = await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert "https" in failed["last_error"]
    await api(client, admin, "POST", BASE, expect=422, json={"url": url.replace("/list", "/other")})


# -- what subscriptions may not override ----------------------------------------------------------


async def test_a_local_allow_overrides_subscriptions(client, make_member, lists):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    pool = client.server.app[POOL]
    await api(
        client, admin, "POST", "/api/v1/admin/domain_allows", json={"domain": "friends.example"}
    )
    url = lists.put(
        "/l.csv", mastodon_csv({"x.friends.example": "suspend", "spam.example": "suspend"})
    )
    sub = await api(client, admin, "POST", BASE, json={"url": url})
    refreshed = await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert refreshed["entries_count"] == 2
    assert await effective(pool) == {"spam.example": ("suspend", "subscription")}

    allow = await api(
        client, admin, "POST", "/api/v1/admin/domain_allows", json={"domain": "spam.example"}
    )
    assert await effective(pool) == {}
    await api(client, admin, "DELETE", f"/api/v1/admin/domain_allows/{allow['id']}")
    assert await effective(pool) == {"spam.example": ("suspend", "subscription")}
    retracted = [a for a in await audit_actions(pool) if a[0] == "blocklist.retract"]
    assert [(a[1], a[2], a[3]["after"]) for a in retracted] == [
        ("spam.example", admin.account_id, "domain_allow.create")
    ]


async def test_a_local_block_is_never_changed_by_a_subscription(client, make_member, lists):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    pool = client.server.app[POOL]
    local = await api(
        client, admin, "POST", "/api/v1/admin/domain_blocks", json={"domain": "mine.example"}
    )
    assert (local["severity"], local["origin"]) == ("silence", "local")
    url = lists.put("/l.txt", plain({"mine.example": "suspend", "theirs.example": "suspend"}))
    sub = await api(client, admin, "POST", BASE, json={"url": url})
    await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert await effective(pool) == {
        "mine.example": ("silence", "local"),
        "theirs.example": ("suspend", "subscription"),
    }
    lists.put("/l.txt", plain({"theirs.example": "suspend"}))
    await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert (await effective(pool))["mine.example"] == ("silence", "local")

    # a subscription's block cannot be deleted by hand, but an admin's own decision takes it over
    theirs = next(
        b
        for b in await api(client, admin, "GET", "/api/v1/admin/domain_blocks")
        if b["domain"] == "theirs.example"
    )
    await api(client, admin, "DELETE", f"/api/v1/admin/domain_blocks/{theirs['id']}", expect=422)
    taken = await api(
        client,
        admin,
        "PUT",
        f"/api/v1/admin/domain_blocks/{theirs['id']}",
        json={"severity": "noop"},
    )
    assert (taken["severity"], taken["origin"]) == ("noop", "local")
    await api(client, admin, "DELETE", f"{BASE}/{sub['id']}")
    assert await effective(pool) == {
        "mine.example": ("silence", "local"),
        "theirs.example": ("noop", "local"),
    }
    # lifting the local block lets nothing come back: the subscription is gone
    await api(client, admin, "DELETE", f"/api/v1/admin/domain_blocks/{local['id']}")
    assert "mine.example" not in await effective(pool)


async def test_lifting_a_local_block_hands_the_domain_back_to_its_subscriptions(
    client, make_member, lists
):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    pool = client.server.app[POOL]
    url = lists.put("/l.csv", mastodon_csv({"both.example": "suspend"}))
    sub = await api(client, admin, "POST", BASE, json={"url": url})
    await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    # an admin's block on a domain a subscription blocks takes it over, with their own fields
    blocks = "/api/v1/admin/domain_blocks"
    local = await api(client, admin, "POST", blocks, json={"domain": "both.example"})
    assert (local["severity"], local["origin"], local["public_comment"]) == (
        "silence",
        "local",
        None,
    )
    await api(client, admin, "POST", blocks, expect=422, json={"domain": "both.example"})
    await api(client, admin, "DELETE", f"{blocks}/{local['id']}")
    assert await effective(pool) == {"both.example": ("suspend", "subscription")}
    last = (await audit_actions(pool))[-1]
    assert (last[0], last[2], last[3]["after"], last[3]["subscriptions"]) == (
        "blocklist.apply",
        admin.account_id,
        "domain_block.destroy",
        [sub["id"]],
    )


async def test_two_subscriptions_on_one_domain_keep_it_until_both_drop_it(
    client, make_member, lists
):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    pool = client.server.app[POOL]
    one = lists.put("/one.txt", plain({"shared.example": "suspend"}))
    two = lists.put("/two.csv", mastodon_csv({"shared.example": "silence"}))
    first = await api(client, admin, "POST", BASE, json={"url": one})
    second = await api(client, admin, "POST", BASE, json={"url": two})
    for sub in (first, second):
        await api(client, admin, "POST", f"{BASE}/{sub['id']}/refresh")
    assert await effective(pool) == {"shared.example": ("suspend", "subscription")}

    lists.put("/one.txt", plain({"other.example": "suspend"}))
    await api(client, admin, "POST", f"{BASE}/{first['id']}/refresh")
    assert await effective(pool) == {
        "shared.example": ("silence", "subscription"),
        "other.example": ("suspend", "subscription"),
    }
    applied = [
        a for a in await audit_actions(pool) if a[:2] == ("blocklist.apply", "shared.example")
    ]
    assert applied[-1][3]["subscriptions"] == [second["id"]]

    await api(client, admin, "DELETE", f"{BASE}/{second['id']}")
    assert await effective(pool) == {"other.example": ("suspend", "subscription")}


# -- effects across instances and the schedule ----------------------------------------------------


async def test_a_subscribed_suspension_severs_follows_like_an_admins(network, lists):
    alpha, _, alice, bob, bob_on_alpha = await alice_follows_bob(network)
    await follow_remote(network, bob, alice)
    graph = "follows WHERE account_id = $1 OR target_account_id = $1"
    assert await count(alpha, graph, int(bob_on_alpha)) == 2
    root = await admin_of(alpha)
    url = lists.put("/fediblock.csv", mastodon_csv({"beta.test": "suspend"}))
    await root.post(BASE, url=url)
    await network.drain()  # the first refresh is a job, due at once

    assert await count(alpha, graph, int(bob_on_alpha)) == 0
    suspended = "accounts WHERE id = $1 AND suspended_at IS NOT NULL"
    assert await count(alpha, suspended, int(bob_on_alpha)) == 1
    stored = await count(alpha, "inbox_activities")
    await bob.post("/api/v1/statuses", status="anyone there?")
    await network.drain()
    assert await count(alpha, "inbox_activities") == stored
    job = await alpha.pool.fetchrow("SELECT * FROM jobs WHERE queue = 'blocklist_refresh'")
    assert job is not None and job["failed_at"] is None


async def test_the_job_refreshes_on_schedule_and_reschedules_itself(client, make_member, lists):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    app = client.server.app
    pool = app[POOL]

    async def drain() -> int:
        return await Worker(pool, build_registry(), app[FEDERATION]).drain()

    async def scheduled() -> list:
        return await pool.fetch(
            "SELECT run_at - now() AS due_in, payload FROM jobs "
            "WHERE queue = 'blocklist_refresh' AND failed_at IS NULL"
        )

    url = lists.put("/l.txt", plain({"a.example": "suspend"}))
    sub = await api(client, admin, "POST", BASE, json={"url": url, "interval_hours": 6})
    assert await drain() == 1
    assert set(await effective(pool)) == {"a.example"}
    jobs = await scheduled()
    assert len(jobs) == 1 and 5.9 * 3600 < jobs[0]["due_in"].total_seconds() <= 6 * 3600

    lists.put("/l.txt", plain({"b.example": "suspend"}))
    await pool.execute("UPDATE jobs SET run_at = now() WHERE queue = 'blocklist_refresh'")
    assert await drain() == 1
    assert set(await effective(pool)) == {"b.example"}

    # a new interval starts a new chain; the old job, when it runs, does nothing
    await api(client, admin, "PUT", f"{BASE}/{sub['id']}", json={"interval_hours": 48})
    await pool.execute("UPDATE jobs SET run_at = now() WHERE queue = 'blocklist_refresh'")
    assert await drain() == 2
    jobs = await scheduled()
    assert len(jobs) == 1 and jobs[0]["due_in"].total_seconds() > 47 * 3600

    await api(client, admin, "DELETE", f"{BASE}/{sub['id']}")
    await pool.execute("UPDATE jobs SET run_at = now() WHERE queue = 'blocklist_refresh'")
    assert await drain() == 1
    assert await scheduled() == []


# -- bad input ------------------------------------------------------------------------------------


async def test_the_api_refuses_bad_input_and_non_admins(client, make_member, lists):
    admin = await make_member("root", role="admin", scopes=ADMIN_SCOPES)
    url = lists.put("/l.txt", plain({"a.example": "suspend"}))
    sub = await api(client, admin, "POST", BASE, json={"url": url})
    for body in (
        {},
        {"url": ""},
        {"url": "ftp://lists.example/l.txt"},
        {"url": "not a url"},
        {"url": "https://user:pw@lists.example/l.txt"},
        {"url": url},  # already subscribed
        {"url": url + "?2", "max_severity": "ban"},
        {"url": url + "?2", "mode": "sometimes"},
        {"url": url + "?2", "interval_hours": 0},
        {"url": url + "?2", "interval_hours": "daily"},
        {"url": ["x"]},
    ):
        await api(client, admin, "POST", BASE, expect=422, json=body)
    path = f"{BASE}/{sub['id']}"
    await api(client, admin, "PUT", path, expect=422, json={"max_severity": "ban"})
    await api(client, admin, "PUT", path, expect=422, json={"url": "https://elsewhere.example/"})
    for method, unknown in (
        ("GET", f"{BASE}/1"),
        ("PUT", f"{BASE}/1"),
        ("DELETE", f"{BASE}/1"),
        ("GET", f"{BASE}/abc"),
        ("POST", f"{BASE}/1/refresh"),
        ("GET", f"{BASE}/1/pending"),
        ("POST", f"{BASE}/1/pending/1/approve"),
        ("POST", f"{path}/pending/1/approve"),
        ("POST", f"{path}/pending/x/reject"),
    ):
        await api(client, admin, method, unknown, expect=404)

    moderator = await make_member("mod", role="moderator", scopes=ADMIN_SCOPES)
    user = await make_member("user", scopes=ADMIN_SCOPES)
    reader = await make_member("reader", role="admin", scopes=("admin:read",))
    for member in (moderator, user):
        await api(client, member, "GET", BASE, expect=403)
        await api(client, member, "POST", BASE, expect=403, json={"url": url + "?3"})
        await api(client, member, "POST", f"{path}/refresh", expect=403)
    await api(client, reader, "GET", BASE)
    await api(client, reader, "GET", f"{path}/pending")
    await api(client, reader, "DELETE", path, expect=403)
    assert (await client.get(BASE)).status == 401


# -- the command line -----------------------------------------------------------------------------


async def test_cli_subscribe_review_approve_and_unsubscribe(tmp_path: Path, db_dsn: str, lists):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn, KITH_ALLOW_PRIVATE_ADDRESSES="1")
    url = lists.put("/l.csv", mastodon_csv({"a.example": "suspend", "b.example": "silence"}))

    code, out, err = await run_kith(
        "blocklist", "subscribe", url, "--mode", "review", "--max-severity", "silence", env=env
    )
    assert code == 0, err
    sub_id = out.split()[1]
    assert f"subscribed {sub_id} to {url}" in out
    assert "0 entries, 2 pending" in out

    code, out, err = await run_kith("blocklist", "list", env=env)
    assert code == 0, err
    assert out.split("\t")[:3] == [sub_id, url, "max silence"]
    code, out, _ = await run_kith("blocklist", "pending", sub_id, env=env)
    pending = {line.split("\t")[2]: line.split("\t")[0] for line in out.splitlines()}
    assert set(pending) == {"a.example", "b.example"}
    code, out, err = await run_kith("blocklist", "approve", sub_id, pending["a.example"], env=env)
    assert code == 0 and f"approved change {pending['a.example']}" in out, err
    code, out, err = await run_kith("blocklist", "reject", sub_id, pending["b.example"], env=env)
    assert code == 0, err
    code, out, _ = await run_kith("domain-block", "list", env=env)
    assert out.splitlines() == ["a.example\tsilence\tsubscription\t\ta.example, spam"]
    code, out, _ = await run_kith("domain-block", "export", env=env)
    assert (
        out.splitlines()[1] == 'a.example,silence,false,false,"a.example, spam",false,subscription'
    )
    code, _, err = await run_kith("domain-block", "remove", "a.example", env=env)
    assert_one_line_error(code, err, "comes from a block-list subscription")

    lists.put("/l.csv", "", status=503)
    code, _, err = await run_kith("blocklist", "refresh", sub_id, env=env)
    assert_one_line_error(code, err, "HTTP 503", "kept the last good copy")
    code, out, err = await run_kith("blocklist", "unsubscribe", sub_id, env=env)
    assert code == 0 and "1 block(s) retracted" in out, err
    code, out, _ = await run_kith("domain-block", "list", env=env)
    assert out.strip() == "no domain blocks"

    for args, needle in (
        (("subscribe", "ftp://x.example/l"), "http(s) URL"),
        (("subscribe", url, "--max-severity", "ban"), "Max severity"),
        (("subscribe", url, "--mode", "often"), "Mode"),
        (("subscribe", url, "--interval-hours", "daily"), "--interval-hours"),
        (("refresh", "12345"), "no subscription 12345"),
        (("refresh", "abc"), "not a subscription id"),
        (("unsubscribe", "12345"), "no subscription 12345"),
        (("pending", "12345"), "no subscription 12345"),
        (("approve", "12345", "1"), "no change 1"),
        (("reject", sub_id, "x"), "not a change id"),
    ):
        code, _, err = await run_kith("blocklist", *args, env=env)
        assert_one_line_error(code, err, needle)
