"""Notifications through the client API: listing and filtering, one notification, dismissing and
clearing, and what is left out. Every notification is checked against the Notification schema."""

from __future__ import annotations

from typing import Any

import pytest

from server.state import POOL, URLS
from server.usecases.actors import Actor
from server.usecases.favourites import favourite
from server.usecases.follows import follow
from server.usecases.statuses import create_status
from tests.schemas import assert_matches

NOTIFICATIONS = "/api/v1/notifications"


@pytest.fixture
def pool(client):
    return client.server.app[POOL]


async def post(client, member, text: str, **options: Any) -> int:
    app = client.server.app
    status = await create_status(
        app[POOL], app[URLS], author_id=member.account_id, text=text, **options
    )
    return status["id"]


async def listing(client, member, path: str = NOTIFICATIONS, **query: Any) -> tuple[list, Any]:
    response = await client.get(path, params=query, headers=member.headers)
    assert response.status == 200, await response.text()
    data = await response.json()
    for notification in data:
        assert_matches("notification", notification)
    return data, response


async def kinds(client, member, **query: Any) -> list[tuple[str, str]]:
    """(type, sender's username) of each notification, newest first."""
    data, _ = await listing(client, member, **query)
    return [(n["type"], n["account"]["username"]) for n in data]


@pytest.fixture
async def busy_alice(client, make_member, pool):
    """alice, followed by bob, mentioned by carol, her status favourited by bob (in that order)."""
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    await follow(pool, bob.account_id, alice.account_id)
    mention = await post(client, carol, "hi @alice")
    own = await post(client, alice, "my status")
    await favourite(pool, Actor.member(bob.account_id), own)
    return alice, bob, carol, mention, own


async def test_list_renders_senders_and_statuses(client, busy_alice):
    alice, bob, carol, mention, own = busy_alice
    data, _ = await listing(client, alice)
    assert [(n["type"], n["account"]["id"]) for n in data] == [
        ("favourite", str(bob.account_id)),
        ("mention", str(carol.account_id)),
        ("follow", str(bob.account_id)),
    ]
    favourited, mentioned, followed = data
    assert favourited["status"]["id"] == str(own)
    assert favourited["status"]["favourited"] is False  # as alice sees it
    assert mentioned["status"]["id"] == str(mention)
    assert mentioned["status"]["mentions"][0]["acct"] == "alice"
    assert followed["status"] is None and followed["report"] is None
    assert favourited["group_key"] == f"ungrouped-{favourited['id']}"


async def test_list_filters(client, busy_alice):
    alice, bob, *_ = busy_alice
    assert await kinds(client, alice, **{"types[]": "mention"}) == [("mention", "carol")]
    assert await kinds(client, alice, **{"exclude_types[]": "favourite"}) == [
        ("mention", "carol"),
        ("follow", "bob"),
    ]
    assert await kinds(client, alice, account_id=str(bob.account_id)) == [
        ("favourite", "bob"),
        ("follow", "bob"),
    ]
    assert await kinds(client, alice, account_id="nobody") == []
    path = f"{NOTIFICATIONS}?types[]=follow&types[]=favourite&exclude_types[]=follow"
    data, _ = await listing(client, alice, path)
    assert [n["type"] for n in data] == ["favourite"]


async def test_list_pagination(client, busy_alice):
    alice, *_ = busy_alice
    everything, _ = await listing(client, alice)
    newest, middle, oldest = (n["id"] for n in everything)

    data, response = await listing(client, alice, limit=1)
    assert [n["id"] for n in data] == [newest]
    link = response.headers["Link"]
    assert f'max_id={newest}>; rel="next"' in link and f'min_id={newest}>; rel="prev"' in link

    data, _ = await listing(client, alice, max_id=newest)
    assert [n["id"] for n in data] == [middle, oldest]
    data, _ = await listing(client, alice, min_id=oldest, limit=1)
    assert [n["id"] for n in data] == [middle]
    data, _ = await listing(client, alice, since_id=oldest, limit=1)
    assert [n["id"] for n in data] == [newest]
    data, response = await listing(client, alice, min_id=newest)
    assert data == [] and "Link" not in response.headers


async def test_show_one(client, busy_alice):
    alice, bob, *_ = busy_alice
    first = (await listing(client, alice))[0][0]
    response = await client.get(f"{NOTIFICATIONS}/{first['id']}", headers=alice.headers)
    assert response.status == 200
    shown = await response.json()
    assert_matches("notification", shown)
    assert shown == first

    for member, notification_id in ((bob, first["id"]), (alice, "1"), (alice, "nope")):
        response = await client.get(f"{NOTIFICATIONS}/{notification_id}", headers=member.headers)
        assert response.status == 404, notification_id


async def test_dismiss_and_clear(client, busy_alice, pool):
    """Each member dismisses and clears only their own notifications."""
    alice, bob, *_ = busy_alice
    newest = (await listing(client, alice))[0][0]["id"]

    response = await client.post(f"{NOTIFICATIONS}/{newest}/dismiss", headers=bob.headers)
    assert response.status == 404  # not bob's: alice's stays
    response = await client.post(f"{NOTIFICATIONS}/{newest}/dismiss", headers=alice.headers)
    assert response.status == 200 and await response.json() == {}
    assert await kinds(client, alice) == [("mention", "carol"), ("follow", "bob")]
    response = await client.post(f"{NOTIFICATIONS}/{newest}/dismiss", headers=alice.headers)
    assert response.status == 404

    await follow(pool, alice.account_id, bob.account_id)
    response = await client.post(f"{NOTIFICATIONS}/clear", headers=alice.headers)
    assert response.status == 200 and await response.json() == {}
    assert await kinds(client, alice) == []
    assert await kinds(client, bob) == [("follow", "alice")]


async def test_statuses_gone_or_unreadable_are_left_out(client, make_member, pool):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    deleted = await post(client, bob, "hi @alice")
    await post(client, carol, "hello @alice")
    await pool.execute("UPDATE statuses SET deleted_at = now() WHERE id = $1", deleted)
    assert await kinds(client, alice) == [("mention", "carol")]

    # Blocking carol hides her status, so the notification goes too.
    await pool.execute(
        "INSERT INTO blocks (account_id, target_account_id) VALUES ($1, $2)",
        alice.account_id,
        carol.account_id,
    )
    assert await kinds(client, alice) == []


async def test_muted_senders_are_left_out_when_the_mute_says_so(client, make_member, pool):
    alice, bob = [await make_member(n) for n in ("alice", "bob")]
    await follow(pool, bob.account_id, alice.account_id)
    await pool.execute(
        """
        INSERT INTO mutes (account_id, target_account_id, hide_notifications)
        VALUES ($1, $2, false)
        """,
        alice.account_id,
        bob.account_id,
    )
    assert await kinds(client, alice) == [("follow", "bob")]
    await pool.execute("UPDATE mutes SET hide_notifications = true")
    assert await kinds(client, alice) == []


async def test_scopes(client, make_member):
    response = await client.get(NOTIFICATIONS)
    assert response.status == 401
    reader = await make_member("reader", scopes=("read:statuses", "write:statuses"))
    for method, path in (
        ("GET", NOTIFICATIONS),
        ("GET", f"{NOTIFICATIONS}/1"),
        ("POST", f"{NOTIFICATIONS}/1/dismiss"),
        ("POST", f"{NOTIFICATIONS}/clear"),
    ):
        response = await client.request(method, path, headers=reader.headers)
        assert response.status == 403, path
    notified = await make_member("notified", scopes=("read:notifications",))
    response = await client.get(NOTIFICATIONS, headers=notified.headers)
    assert response.status == 200
    response = await client.post(f"{NOTIFICATIONS}/clear", headers=notified.headers)
    assert response.status == 403


async def test_admin_report_carries_the_report(client, make_member):
    mod = await make_member("mod", role="moderator")
    alice, bob = await make_member("alice"), await make_member("bob")
    status_id = await post(client, bob, "something rude")
    response = await client.post(
        "/api/v1/reports",
        json={"account_id": str(bob.account_id), "status_ids": [str(status_id)], "comment": "rude"},
        headers=alice.headers,
    )
    assert response.status == 200, await response.text()
    report = await response.json()
    await follow(client.server.app[POOL], alice.account_id, mod.account_id)

    data, _ = await listing(client, mod)
    assert [n["type"] for n in data] == ["follow", "admin.report"]
    assert data[0]["report"] is None
    entity = data[1]["report"]
    assert entity == report
    assert (entity["comment"], entity["status_ids"]) == ("rude", [str(status_id)])
    assert entity["target_account"]["id"] == str(bob.account_id)
    response = await client.get(f"{NOTIFICATIONS}/{data[1]['id']}", headers=mod.headers)
    assert (await response.json())["report"] == report
