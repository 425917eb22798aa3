"""Reports through the client API: local reports, staff notification, and forwarding a report
about a remote account as a `Flag` from the instance actor."""

from __future__ import annotations

from typing import Any

from server.state import POOL
from tests.schemas import assert_matches
from tests.test_federation_e2e import lookup, member, post
from tests.test_statuses import post as post_local


async def report(client, who, expect: int = 200, **params: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/reports", json=params, headers=who.headers)
    body = await response.json()
    assert response.status == expect, body
    assert_matches("report" if expect == 200 else "error", body)
    return body


async def test_report_a_local_account_and_its_statuses(client, make_member):
    mod = await make_member("mod", role="moderator")
    alice, bob = await make_member("alice"), await make_member("bob")
    first, second = await post_local(client, bob, "one"), await post_local(client, bob, "two")
    body = await report(
        client,
        alice,
        account_id=str(bob.account_id),
        status_ids=[first["id"], second["id"]],
        comment="spam spam",
        category="spam",
    )
    assert body["target_account"]["id"] == str(bob.account_id)
    assert sorted(body["status_ids"]) == sorted([first["id"], second["id"]])
    assert (body["category"], body["comment"], body["forwarded"]) == ("spam", "spam spam", False)
    assert body["action_taken"] is False and body["rule_ids"] is None

    pool = client.server.app[POOL]
    rows = await pool.fetch(
        "SELECT type, from_account_id, report_id FROM notifications WHERE account_id = $1",
        mod.account_id,
    )
    assert [(r["type"], r["from_account_id"], str(r["report_id"])) for r in rows] == [
        ("admin.report", alice.account_id, body["id"])
    ]


async def test_every_report_notifies_staff(client, make_member):
    mod = await make_member("mod", role="moderator")
    alice, bob = await make_member("alice"), await make_member("bob")
    first = await report(client, alice, account_id=str(bob.account_id), comment="once")
    second = await report(client, alice, account_id=str(bob.account_id), comment="again")
    response = await client.get("/api/v1/notifications", headers=mod.headers)
    notes = await response.json()
    assert [n["type"] for n in notes] == ["admin.report", "admin.report"]
    rows = await client.server.app[POOL].fetch(
        "SELECT report_id FROM notifications WHERE account_id = $1 ORDER BY id", mod.account_id
    )
    assert [str(r["report_id"]) for r in rows] == [first["id"], second["id"]]


async def test_report_refuses_bad_input(client, make_member):
    alice, bob, carol = await make_member("alice"), await make_member("bob"), await make_member()
    carols = await post_local(client, carol, "not bob's")
    bob_id = str(bob.account_id)
    await report(client, alice, 422, account_id=bob_id, status_ids=[carols["id"]])
    await report(client, alice, 404, account_id="123456789")
    await report(client, alice, 422, account_id=bob_id, category="nonsense")
    await report(client, alice, 422, account_id=bob_id, comment="x" * 1001)
    await report(client, alice, 422, account_id=bob_id, category="violation", rule_ids=["42"])

    rule_id = await client.server.app[POOL].fetchval(
        "INSERT INTO rules (text) VALUES ('Be kind') RETURNING id"
    )
    body = await report(client, alice, account_id=bob_id, rule_ids=[str(rule_id)])
    assert (body["category"], body["rule_ids"]) == ("violation", [str(rule_id)])

    reader = await make_member("reader", scopes=("read",))
    await report(client, reader, 403, account_id=bob_id)


async def beta_reports(instance) -> list[Any]:
    return await instance.pool.fetch(
        """
        SELECT r.status_ids, r.comment, t.username AS target, a.uri AS reporter
        FROM reports r JOIN accounts t ON t.id = r.target_account_id
        JOIN accounts a ON a.id = r.account_id
        """
    )


async def test_forwarded_report_reaches_the_remote_server_from_the_instance_actor(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    alice, bob = await member(alpha, "alice"), await member(beta, "bob")
    status = await post(bob, "something awful")
    remote_bob = await lookup(alice, bob.acct)
    copy = await alice.get("/api/v2/search", q=status["uri"], resolve="true", type="statuses")
    (copied,) = copy["statuses"]

    body = await alice.post(
        "/api/v1/reports",
        account_id=remote_bob["id"],
        status_ids=[copied["id"]],
        comment="please look",
        forward=True,
    )
    assert_matches("report", body)
    assert body["forwarded"] is True
    await network.drain()

    (row,) = await beta_reports(beta)
    assert row["target"] == "bob"
    assert [str(i) for i in row["status_ids"]] == [status["id"]]
    assert row["comment"] == "please look"
    assert row["reporter"] == "http://alpha.test/actor"


async def test_unforwarded_report_stays_home(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    alice, bob = await member(alpha, "alice"), await member(beta, "bob")
    remote_bob = await lookup(alice, bob.acct)
    body = await alice.post("/api/v1/reports", account_id=remote_bob["id"], comment="meh")
    assert_matches("report", body)
    assert body["forwarded"] is False
    await network.drain()
    assert await beta_reports(beta) == []
    assert await alpha.pool.fetchval("SELECT count(*) FROM deliveries") == 0
