"""An edit that stops mentioning someone takes back what the mention gave them.

alice (on kith.test) writes a direct post to bob and dave, then edits dave out: dave can no
longer read it (API, home, notifications, context), bob still can. Remote recipients get the
Update only while they are still in the audience; a server that drops out of a direct post's
audience gets a Delete. The same holds for a remote author's edit (an incoming Update) that
stops naming or addressing a local member.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from federation import remote_accounts
from tests.api import api
from tests.federation_harness import Instance, Network
from tests.inbox_peer import Local, Peer, kith_fixture, make_local, peer_fixture  # noqa: F401 - fixtures

OTHER = "other.test"


@pytest.fixture(name="other")
async def other_fixture(network: Network, kith: Instance):
    started = await Peer.start(network, OTHER)
    yield started
    await started.server.close()


async def post(kith: Instance, member: Local, text: str, visibility: str = "direct") -> str:
    body = {"status": text, "visibility": visibility}
    return (await api(kith.client, member, "POST", "/api/v1/statuses", json=body))["id"]


async def edit(kith: Instance, member: Local, status_id: str, text: str) -> None:
    await api(kith.client, member, "PUT", f"/api/v1/statuses/{status_id}", json={"status": text})


async def sees(kith: Instance, member: Local, status_id: str) -> dict[str, bool]:
    """Where `member` finds the status: by id, in its home, in its mention notifications."""
    async with kith.client.get(f"/api/v1/statuses/{status_id}", headers=member.headers) as resp:
        assert resp.status in (200, 404), await resp.text()
        readable = resp.status == 200
    home = await api(kith.client, member, "GET", "/api/v1/timelines/home")
    notes = await api(kith.client, member, "GET", "/api/v1/notifications")
    return {
        "readable": readable,
        "home": status_id in [s["id"] for s in home],
        "notified": [(n["type"], n["status"]["id"]) for n in notes] == [("mention", status_id)],
    }


SEES_ALL = {"readable": True, "home": True, "notified": True}
SEES_NOTHING = {"readable": False, "home": False, "notified": False}


async def sent(kith: Instance, since: int) -> list[tuple[str, str]]:
    """(host, activity type) of every delivery queued after outgoing activity `since`."""
    rows = await kith.pool.fetch(
        """
        SELECT d.host, o.body FROM deliveries d JOIN outgoing_activities o ON o.id = d.activity_id
        WHERE o.id > $1 ORDER BY o.id, d.host
        """,
        since,
    )
    return [(row["host"], json.loads(row["body"])["type"]) for row in rows]


async def last_activity_id(kith: Instance) -> int:
    return await kith.pool.fetchval("SELECT coalesce(max(id), 0) FROM outgoing_activities")


# -- Local edits ----------------------------------------------------------------------------------


async def test_a_member_edited_out_of_a_direct_post_loses_it(kith):
    alice, bob, dave = [await make_local(kith, name) for name in ("alice", "bob", "dave")]
    status_id = await post(kith, alice, "@bob @dave the secret plan")
    assert await sees(kith, bob, status_id) == SEES_ALL
    assert await sees(kith, dave, status_id) == SEES_ALL

    await edit(kith, alice, status_id, "@bob the secret plan, revised")
    assert await sees(kith, dave, status_id) == SEES_NOTHING
    assert await sees(kith, bob, status_id) == SEES_ALL
    for path in ("context", "history", "source"):
        await api(kith.client, dave, "GET", f"/api/v1/statuses/{status_id}/{path}", expect=404)
    await api(kith.client, bob, "GET", f"/api/v1/statuses/{status_id}/history")
    mentions = (await api(kith.client, alice, "GET", f"/api/v1/statuses/{status_id}"))["mentions"]
    assert [m["acct"] for m in mentions] == ["bob"]

    # Mentioned again, dave reads it again and is told once more.
    await edit(kith, alice, status_id, "@bob @dave sorry, you are back")
    after = await sees(kith, dave, status_id)
    assert after["readable"] and after["notified"]


async def test_a_follower_edited_out_of_a_followers_only_post_keeps_it(kith):
    """The mention goes, but a follower still reads a followers-only post and keeps it home."""
    alice, dave = [await make_local(kith, name) for name in ("alice", "dave")]
    await api(kith.client, dave, "POST", f"/api/v1/accounts/{alice.account_id}/follow")
    status_id = await post(kith, alice, "@dave for followers", visibility="private")
    await edit(kith, alice, status_id, "for followers")
    assert await sees(kith, dave, status_id) == {"readable": True, "home": True, "notified": False}


# -- Remote recipients ----------------------------------------------------------------------------


async def test_the_update_reaches_only_the_new_audience_and_the_dropped_server_a_delete(
    kith, peer, other
):
    for server in (peer, other):
        server.server.serve("/inbox", {}, status=202)
    alice = await make_local(kith, "alice")
    for path in ("/users/ana", "/users/cy"):
        await remote_accounts.resolve_actor(kith.federation, peer.actor(path))
    await remote_accounts.resolve_actor(kith.federation, other.actor("/users/bo"))
    since = await last_activity_id(kith)
    status_id = await post(kith, alice, "@ana@peer.test @cy@peer.test @bo@other.test psst")
    assert await sent(kith, since) == [("other.test", "Create"), ("peer.test", "Create")]

    # cy goes, ana stays: peer.test's shared inbox is still in the audience, so no Delete.
    since = await last_activity_id(kith)
    await edit(kith, alice, status_id, "@ana@peer.test @bo@other.test psst")
    assert await sent(kith, since) == [("other.test", "Update"), ("peer.test", "Update")]

    # ana goes too: peer.test hears nothing of the new version and is told to delete it.
    since = await last_activity_id(kith)
    await edit(kith, alice, status_id, "@bo@other.test psst")
    assert await sent(kith, since) == [("other.test", "Update"), ("peer.test", "Delete")]
    uri = (await api(kith.client, alice, "GET", f"/api/v1/statuses/{status_id}"))["uri"]
    body = await kith.pool.fetchval(
        "SELECT body FROM outgoing_activities WHERE id = (SELECT max(id) FROM outgoing_activities)"
    )
    assert json.loads(body)["object"]["id"] == uri
    await kith.drain()
    assert len(peer.server.requests_to("/inbox")) == 3  # Create, Update, Delete


async def test_a_public_post_edited_to_drop_a_remote_mention_is_updated_not_deleted(kith, peer):
    """Everyone may read a public post: the dropped server gets the new version, no Delete."""
    peer.server.serve("/inbox", {}, status=202)
    alice = await make_local(kith, "alice")
    await remote_accounts.resolve_actor(kith.federation, peer.actor())
    status_id = await post(kith, alice, "hi @ana@peer.test", visibility="public")
    since = await last_activity_id(kith)
    await edit(kith, alice, status_id, "hi all")
    assert await sent(kith, since) == [("peer.test", "Update")]
    since = await last_activity_id(kith)
    await edit(kith, alice, status_id, "hi all, again")
    assert await sent(kith, since) == []  # no longer in the audience at all


# -- Remote edits ---------------------------------------------------------------------------------


async def deliver(kith: Instance, peer: Peer, activity: dict[str, Any]) -> str:
    code, body = await peer.deliver(kith, activity)
    assert code == 202, body
    await kith.drain()
    return await kith.pool.fetchval(
        "SELECT outcome FROM inbox_activities WHERE activity_uri = $1", activity["id"]
    )


def direct_note(peer: Peer, content: str, named: list[Local], addressed: list[Local]):
    actor = peer.actor()
    return {
        "id": f"{actor}/statuses/1",
        "type": "Note",
        "attributedTo": actor,
        "content": f"<p>{content}</p>",
        "published": "2024-01-02T03:04:05Z",
        "to": [m.uri for m in addressed],
        "cc": [],
        "tag": [{"type": "Mention", "href": m.uri, "name": f"@{m.username}"} for m in named],
    }


async def test_a_remote_edit_that_drops_a_local_member_takes_the_post_from_them(kith, peer):
    bob, dave, eve = [await make_local(kith, name) for name in ("bob", "dave", "eve")]
    # bob and dave are named; eve is only addressed (a silent mention).
    note = direct_note(peer, "the plan", [bob, dave], [bob, dave, eve])
    assert await deliver(kith, peer, peer.activity("Create", note, to=note["to"])) == "ok"
    status_id = str(await kith.pool.fetchval("SELECT id FROM statuses WHERE uri = $1", note["id"]))
    for member in (bob, dave, eve):
        assert await sees(kith, member, status_id) == SEES_ALL, member.username

    edited = {
        **direct_note(peer, "the plan, revised", [bob], [bob]),
        "updated": "2024-01-03T00:00:00Z",
    }
    assert await deliver(kith, peer, peer.activity("Update", edited, to=edited["to"])) == "ok"
    assert await sees(kith, dave, status_id) == SEES_NOTHING
    assert await sees(kith, eve, status_id) == SEES_NOTHING
    assert await sees(kith, bob, status_id) == SEES_ALL
    status = await api(kith.client, bob, "GET", f"/api/v1/statuses/{status_id}")
    assert status["content"] == "<p>the plan, revised</p>"
