"""A member's own domain block holds for follows that arrive later and for every delivery.

carol (on kith.test) blocks peer.test. ana on peer.test then asks to follow her: the Follow is
answered with a Reject and leaves nothing behind. A follow row that exists anyway (inserted out
of band, as a race with the block could leave it) still carries nothing of carol's to peer.test:
no followers-only or public post, no edit, no deletion, no boost. bo on other.test, whom carol
does not block, is the control: the same follow and the same posts reach him.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from federation import remote_accounts
from tests.api import api
from tests.federation_harness import Instance, Network
from tests.inbox_peer import (  # noqa: F401 - fixtures
    Local,
    Peer,
    follow_row,
    kith_fixture,
    make_local,
    peer_fixture,
)

BLOCKED, OTHER = "peer.test", "other.test"


@pytest.fixture(name="other")
async def other_fixture(network: Network, kith: Instance):
    started = await Peer.start(network, OTHER)
    yield started
    await started.server.close()


async def block_domain(kith: Instance, member: Local, domain: str) -> None:
    assert (
        await api(kith.client, member, "POST", "/api/v1/domain_blocks", json={"domain": domain})
        == {}
    )


async def relationship(kith: Instance, member: Local, account_id: int) -> dict[str, Any]:
    path = f"/api/v1/accounts/relationships?id[]={account_id}"
    [found] = await api(kith.client, member, "GET", path)
    return found


async def deliver(kith: Instance, peer: Peer, activity: dict[str, Any]) -> str:
    """Deliver as the peer's actor, run the queue, and return the recorded outcome."""
    code, body = await peer.deliver(kith, activity)
    assert code == 202, body
    await kith.drain()
    return await kith.pool.fetchval(
        "SELECT outcome FROM inbox_activities WHERE activity_uri = $1", activity["id"]
    )


async def sent(kith: Instance, since: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    """(host, activity type, activity) of every delivery queued after activity id `since`."""
    rows = await kith.pool.fetch(
        """
        SELECT d.host, o.body FROM deliveries d JOIN outgoing_activities o ON o.id = d.activity_id
        WHERE o.id > $1 ORDER BY o.id, d.host
        """,
        since,
    )
    return [(row["host"], (body := json.loads(row["body"]))["type"], body) for row in rows]


async def last_activity_id(kith: Instance) -> int:
    return await kith.pool.fetchval("SELECT coalesce(max(id), 0) FROM outgoing_activities")


# -- Follows --------------------------------------------------------------------------------------


async def test_a_follow_from_a_blocked_domain_is_rejected_and_leaves_nothing(kith, peer, other):
    for server in (peer, other):
        server.server.serve("/inbox", {}, status=202)
    carol = await make_local(kith, "carol")
    await block_domain(kith, carol, BLOCKED)

    follow = peer.activity("Follow", carol.uri)
    outcome = await deliver(kith, peer, follow)
    assert outcome is not None and outcome.startswith("refused"), outcome
    assert await kith.pool.fetchval("SELECT count(*) FROM follows") == 0
    assert await kith.pool.fetchval("SELECT count(*) FROM follow_requests") == 0
    assert await api(kith.client, carol, "GET", "/api/v1/notifications") == []
    ana = await remote_accounts.resolve_actor(kith.federation, peer.actor())
    seen = await relationship(kith, carol, ana["id"])
    assert seen["followed_by"] is False and seen["requested_by"] is False
    assert seen["domain_blocking"] is True

    [(host, kind, reject)] = await sent(kith)
    assert (host, kind) == (BLOCKED, "Reject")
    assert reject["actor"] == carol.uri and reject["object"]["id"] == follow["id"]
    assert reject["object"]["actor"] == ana["uri"]
    assert [seen.method for seen in peer.server.requests_to("/inbox")] == ["POST"]

    # Control: the same Follow from a domain carol does not block makes a follow.
    control = other.activity("Follow", carol.uri, actor=other.actor("/users/bo"))
    assert await deliver(kith, other, control) == "ok"
    assert await kith.pool.fetchval("SELECT count(*) FROM follows") == 1
    [note] = await api(kith.client, carol, "GET", "/api/v1/notifications")
    assert note["type"] == "follow" and note["account"]["acct"] == f"bo@{OTHER}"


async def test_a_follow_row_from_a_blocked_domain_is_dropped_when_it_follows_again(kith, peer):
    """A follow that slipped past the block (a race) is removed by the next Follow, which
    gets a Reject rather than a second Accept."""
    peer.server.serve("/inbox", {}, status=202)
    carol = await make_local(kith, "carol")
    await block_domain(kith, carol, BLOCKED)
    ana = await remote_accounts.resolve_actor(kith.federation, peer.actor())
    await follow_row(kith, ana["id"], carol.account_id, uri=f"{ana['uri']}#old-follow")
    outcome = await deliver(kith, peer, peer.activity("Follow", carol.uri))
    assert outcome is not None and outcome.startswith("refused"), outcome
    assert await kith.pool.fetchval("SELECT count(*) FROM follows") == 0
    assert [kind for _, kind, _ in await sent(kith)] == ["Reject"]


async def test_a_member_cannot_follow_an_account_on_a_domain_they_block(kith, peer):
    """As in Mastodon (FollowService refuses `domain_blocking?`): 403, nothing sent."""
    carol = await make_local(kith, "carol")
    ana = await remote_accounts.resolve_actor(kith.federation, peer.actor())
    await block_domain(kith, carol, BLOCKED)
    body = await api(kith.client, carol, "POST", f"/api/v1/accounts/{ana['id']}/follow", expect=403)
    assert "error" in body
    assert await kith.pool.fetchval("SELECT count(*) FROM follow_requests") == 0
    assert await sent(kith) == []
    await api(kith.client, carol, "DELETE", "/api/v1/domain_blocks", params={"domain": BLOCKED})
    await api(kith.client, carol, "POST", f"/api/v1/accounts/{ana['id']}/follow")
    assert [(host, kind) for host, kind, _ in await sent(kith)] == [(BLOCKED, "Follow")]


# -- Deliveries -----------------------------------------------------------------------------------


async def follower(kith: Instance, server: Peer, path: str, target: Local) -> dict[str, Any]:
    """A remote account on `server` following `target` through a row written directly."""
    account = await remote_accounts.resolve_actor(kith.federation, server.actor(path))
    await follow_row(kith, account["id"], target.account_id, uri=f"{account['uri']}#follows/1")
    return account


async def test_nothing_of_the_blockers_reaches_the_blocked_domain_whatever_the_rows_say(
    kith, peer, other
):
    for server in (peer, other):
        server.server.serve("/inbox", {}, status=202)
    carol = await make_local(kith, "carol")
    await block_domain(kith, carol, BLOCKED)
    await follower(kith, peer, "/users/ana", carol)
    await follower(kith, other, "/users/bo", carol)
    since = await last_activity_id(kith)

    private = await api(
        kith.client,
        carol,
        "POST",
        "/api/v1/statuses",
        json={"status": "for my followers", "visibility": "private"},
    )
    public = await api(
        kith.client,
        carol,
        "POST",
        "/api/v1/statuses",
        json={"status": "hello @ana@peer.test and @bo@other.test", "visibility": "public"},
    )
    assert [m["acct"] for m in public["mentions"]] == ["ana@peer.test", f"bo@{OTHER}"]
    edited = {"status": "edited, still for @ana@peer.test"}
    await api(kith.client, carol, "PUT", f"/api/v1/statuses/{public['id']}", json=edited)
    await api(kith.client, carol, "POST", f"/api/v1/statuses/{public['id']}/reblog")
    await api(kith.client, carol, "DELETE", f"/api/v1/statuses/{private['id']}")
    await api(
        kith.client,
        carol,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        data={"display_name": "Carol"},
    )
    await kith.drain()

    deliveries = await sent(kith, since)
    kinds = [kind for host, kind, _ in deliveries if host == OTHER]
    assert kinds == ["Create", "Create", "Update", "Announce", "Delete", "Update"], deliveries
    assert [d for d in deliveries if d[0] == BLOCKED] == []
    assert peer.server.requests_to("/inbox") == []
    assert len(other.server.requests_to("/inbox")) == len(kinds)


async def test_a_boost_does_not_reach_an_author_on_a_blocked_domain(kith, peer, other):
    for server in (peer, other):
        server.server.serve("/inbox", {}, status=202)
    carol = await make_local(kith, "carol")
    ana = await follower(kith, peer, "/users/ana", carol)
    await follow_row(kith, carol.account_id, ana["id"])
    note_id = f"{ana['uri']}/statuses/1"
    note = {
        "id": note_id,
        "type": "Note",
        "attributedTo": ana["uri"],
        "content": "<p>ana's post</p>",
        "published": "2024-01-02T03:04:05Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    assert await deliver(kith, peer, peer.activity("Create", note, to=note["to"])) == "ok"
    status_id = await kith.pool.fetchval("SELECT id FROM statuses WHERE uri = $1", note_id)
    await follower(kith, other, "/users/bo", carol)

    await api(kith.client, carol, "POST", f"/api/v1/statuses/{status_id}/reblog")
    assert {host for host, _, _ in await sent(kith)} == {BLOCKED, OTHER}  # control

    await api(kith.client, carol, "POST", f"/api/v1/statuses/{status_id}/unreblog")
    since = await last_activity_id(kith)
    await block_domain(kith, carol, BLOCKED)  # also sends the Undo Follow and the Reject
    block_answers = await sent(kith, since)
    assert {(host, kind) for host, kind, _ in block_answers} == {
        (BLOCKED, "Undo"),
        (BLOCKED, "Reject"),
    }
    since = await last_activity_id(kith)
    await api(kith.client, carol, "POST", f"/api/v1/statuses/{status_id}/reblog")
    assert [(host, kind) for host, kind, _ in await sent(kith, since)] == [(OTHER, "Announce")]
