"""What each kind of activity does once processed: a remote test actor (served by `peer.test`,
signing with its test key) acts on members of `kith.test`, and the effect is checked through
Kith's API or its tables."""

from __future__ import annotations

from typing import Any

import pytest

from federation import remote_accounts
from server.inbox import build_dispatcher
from server.inbox.handlers import featured
from storage import follows as follow_store
from tests.api import api
from tests.federation_harness import Instance
from tests.inbox_peer import (  # noqa: F401 - fixtures
    PUBLIC,
    Local,
    Peer,
    kith_fixture,
    make_local,
    peer_fixture,
    process,
    remote_followed_by,
)
from tests.schemas import assert_matches


async def get_as(kith: Instance, member: Local, path: str, *, expect: int = 200) -> Any:
    return await api(kith.client, member, "GET", path, expect=expect)


def note(peer: Peer, n: int = 1, **fields: Any) -> dict[str, Any]:
    actor = peer.actor()
    return {
        "id": f"{actor}/statuses/{n}",
        "type": "Note",
        "attributedTo": actor,
        "content": f"<p>post {n}</p><script>alert(1)</script>",
        "published": "2024-01-02T03:04:05Z",
        "to": [PUBLIC],
        "cc": [f"{actor}/followers"],
        **fields,
    }


async def create(kith: Instance, peer: Peer, obj: dict[str, Any]) -> str:
    return await process(kith, peer, peer.activity("Create", obj, to=obj.get("to")))


# -- Follow ----------------------------------------------------------------------------------------


async def test_follow_of_an_unlocked_member_makes_a_follow_and_a_notification(kith, peer):
    amy = await make_local(kith, "amy")
    activity = peer.activity("Follow", amy.uri)
    assert await process(kith, peer, activity) == "ok"
    follow = await kith.pool.fetchrow(
        "SELECT * FROM follows WHERE target_account_id = $1", amy.account_id
    )
    assert follow["uri"] == activity["id"]
    [notification] = await get_as(kith, amy, "/api/v1/notifications")
    assert notification["type"] == "follow"
    assert notification["account"]["acct"] == "ana@peer.test"
    me = await get_as(kith, amy, f"/api/v1/accounts/{amy.account_id}")
    assert me["followers_count"] == 1


async def test_follow_of_a_locked_member_is_a_request(kith, peer):
    amy = await make_local(kith, "amy")
    await kith.pool.execute("UPDATE accounts SET locked = true WHERE id = $1", amy.account_id)
    activity = peer.activity("Follow", amy.uri)
    assert await process(kith, peer, activity) == "ok"
    request = await kith.pool.fetchrow("SELECT * FROM follow_requests")
    assert request["uri"] == activity["id"] and request["target_account_id"] == amy.account_id
    [notification] = await get_as(kith, amy, "/api/v1/notifications")
    assert notification["type"] == "follow_request"


async def test_undo_follow_by_id_or_embedded_removes_the_follow(kith, peer):
    amy = await make_local(kith, "amy")
    for undone in ("by id", "embedded"):
        follow = peer.activity("Follow", amy.uri)
        assert await process(kith, peer, follow) == "ok"
        undo = peer.activity("Undo", follow["id"] if undone == "by id" else follow)
        assert await process(kith, peer, undo) == "ok", undone
        assert await kith.pool.fetchval("SELECT count(*) FROM follows") == 0, undone
    assert await get_as(kith, amy, "/api/v1/notifications") == []


async def test_follow_of_someone_else_is_ignored(kith, peer):
    outcome = await process(kith, peer, peer.activity("Follow", "http://peer.test/users/zed"))
    assert outcome == "ignored: the followed actor is not a local account"


async def test_accept_turns_our_request_into_a_follow_and_reject_removes_it(kith, peer):
    amy = await make_local(kith, "amy")
    ana = await remote_accounts.resolve_actor(kith.federation, peer.actor())
    for answer, expected in (("Accept", 1), ("Reject", 0)):
        await kith.pool.execute("DELETE FROM follows; DELETE FROM follow_requests")
        follow_uri = f"{amy.uri}/follows/{answer}"
        await follow_store.insert_follow_request(
            kith.pool, amy.account_id, ana["id"], show_reblogs=True, notify=False, uri=follow_uri
        )
        assert await process(kith, peer, peer.activity(answer, follow_uri)) == "ok"
        assert await kith.pool.fetchval("SELECT count(*) FROM follows") == expected
        assert await kith.pool.fetchval("SELECT count(*) FROM follow_requests") == 0


# -- Create ----------------------------------------------------------------------------------------


async def test_create_reaches_a_local_followers_home_timeline(kith, peer):
    amy = await make_local(kith, "amy")
    await remote_followed_by(kith, peer, amy)
    tag = {"type": "Hashtag", "name": "#Kith", "href": "http://peer.test/tags/kith"}
    image = {
        "type": "Document",
        "mediaType": "image/png",
        "url": "http://peer.test/a.png",
        "name": "alt",
    }
    obj = note(peer, tag=[tag], attachment=[image], sensitive=True, summary="cw")
    assert await create(kith, peer, obj) == "ok"
    [status] = await get_as(kith, amy, "/api/v1/timelines/home")
    assert status["uri"] == obj["id"]
    assert status["account"]["acct"] == "ana@peer.test"
    assert status["content"] == "<p>post 1</p>"
    assert status["visibility"] == "public"
    assert status["spoiler_text"] == "cw" and status["sensitive"] is True
    assert [t["name"] for t in status["tags"]] == ["Kith"]
    assert status["created_at"].startswith("2024-01-02T03:04:05")
    [media] = status["media_attachments"]
    assert_matches("media_attachment", media)
    assert (media["type"], media["url"], media["description"]) == (
        "image",
        "http://peer.test/a.png",
        "alt",
    )


async def test_create_twice_stores_one_status(kith, peer):
    amy = await make_local(kith, "amy")
    await remote_followed_by(kith, peer, amy)
    obj = note(peer)
    assert await create(kith, peer, obj) == "ok"
    assert await create(kith, peer, obj) == "ignored: already stored"
    assert await kith.pool.fetchval("SELECT count(*) FROM statuses") == 1


async def test_create_nobody_here_cares_about_is_ignored(kith, peer):
    outcome = await create(kith, peer, note(peer))
    assert outcome.startswith("ignored: nobody here follows")
    assert await kith.pool.fetchval("SELECT count(*) FROM statuses") == 0


async def test_create_attributed_to_another_actor_is_refused(kith, peer):
    obj = note(peer, attributedTo="http://peer.test/users/bob")
    outcome = await create(kith, peer, obj)
    assert outcome == "refused: the post is attributed to someone other than the actor"


async def test_reply_to_a_local_status_mentioning_its_author_notifies_and_threads(kith, peer):
    amy = await make_local(kith, "amy")
    async with kith.client.post(
        "/api/v1/statuses", json={"status": "hello fediverse"}, headers=amy.headers
    ) as response:
        parent = await response.json()
    mention = {"type": "Mention", "href": amy.uri, "name": "@amy@kith.test"}
    obj = note(peer, inReplyTo=parent["uri"], tag=[mention], to=[PUBLIC, amy.uri], cc=[])
    assert await create(kith, peer, obj) == "ok"
    [notification] = await get_as(kith, amy, "/api/v1/notifications")
    assert notification["type"] == "mention"
    reply = notification["status"]
    assert reply["in_reply_to_id"] == parent["id"]
    assert [m["acct"] for m in reply["mentions"]] == ["amy"]
    context = await get_as(kith, amy, f"/api/v1/statuses/{parent['id']}/context")
    assert [s["id"] for s in context["descendants"]] == [reply["id"]]


async def test_direct_message_is_readable_only_by_its_addressee(kith, peer):
    amy = await make_local(kith, "amy")
    bea = await make_local(kith, "bea")
    obj = note(peer, to=[amy.uri], cc=[])
    assert await create(kith, peer, obj) == "ok"
    [notification] = await get_as(kith, amy, "/api/v1/notifications")
    assert notification["status"]["visibility"] == "direct"
    await get_as(kith, bea, f"/api/v1/statuses/{notification['status']['id']}", expect=404)


async def test_unknown_parent_keeps_its_uri(kith, peer):
    amy = await make_local(kith, "amy")
    await remote_followed_by(kith, peer, amy)
    obj = note(peer, inReplyTo="http://elsewhere.test/notes/9", to=[f"{peer.actor()}/followers"])
    assert await create(kith, peer, obj) == "ok"
    row = await kith.pool.fetchrow(
        "SELECT in_reply_to_uri, in_reply_to_id, visibility FROM statuses"
    )
    assert tuple(row) == ("http://elsewhere.test/notes/9", None, "private")


# -- Update and Delete -----------------------------------------------------------------------------


async def test_update_edits_the_status_and_keeps_its_history(kith, peer):
    amy = await make_local(kith, "amy")
    await remote_followed_by(kith, peer, amy)
    obj = note(peer)
    await create(kith, peer, obj)
    edited = {**obj, "content": "<p>edited</p>", "updated": "2024-01-03T00:00:00Z"}
    assert await process(kith, peer, peer.activity("Update", edited)) == "ok"
    [status] = await get_as(kith, amy, "/api/v1/timelines/home")
    assert status["content"] == "<p>edited</p>" and status["edited_at"] is not None
    assert await kith.pool.fetchval("SELECT content FROM status_edits") == "<p>post 1</p>"


async def test_update_of_the_actor_refreshes_its_profile(kith, peer):
    actor = peer.actor()
    await remote_accounts.resolve_actor(kith.federation, actor)
    changed = {**peer.actors[actor], "name": "New name"}
    assert await process(kith, peer, peer.activity("Update", changed)) == "ok"
    name = await kith.pool.fetchval("SELECT display_name FROM accounts WHERE uri = $1", actor)
    assert name == "New name"


async def test_delete_removes_the_status(kith, peer):
    amy = await make_local(kith, "amy")
    await remote_followed_by(kith, peer, amy)
    obj = note(peer)
    await create(kith, peer, obj)
    [status] = await get_as(kith, amy, "/api/v1/timelines/home")
    tombstone = {"id": obj["id"], "type": "Tombstone"}
    assert await process(kith, peer, peer.activity("Delete", tombstone)) == "ok"
    assert await get_as(kith, amy, "/api/v1/timelines/home") == []
    await get_as(kith, amy, f"/api/v1/statuses/{status['id']}", expect=404)


async def test_delete_of_someone_elses_status_is_ignored(kith, peer):
    amy = await make_local(kith, "amy")
    async with kith.client.post(
        "/api/v1/statuses", json={"status": "mine"}, headers=amy.headers
    ) as response:
        mine = await response.json()
    await remote_accounts.resolve_actor(kith.federation, peer.actor())
    outcome = await process(kith, peer, peer.activity("Delete", mine["uri"]))
    assert outcome == "ignored: not the author's status"
    await get_as(kith, amy, f"/api/v1/statuses/{mine['id']}")


async def test_delete_of_the_actor_removes_its_statuses_and_follows(kith, peer):
    amy = await make_local(kith, "amy")
    await remote_followed_by(kith, peer, amy)
    await create(kith, peer, note(peer))
    assert await process(kith, peer, peer.activity("Delete", peer.actor())) == "ok"
    assert await kith.pool.fetchval("SELECT count(*) FROM statuses WHERE deleted_at IS NULL") == 0
    assert await kith.pool.fetchval("SELECT count(*) FROM follows") == 0


# -- Like and Announce -----------------------------------------------------------------------------


async def local_status(kith: Instance, member: Local, text: str = "hello") -> dict[str, Any]:
    async with kith.client.post(
        "/api/v1/statuses", json={"status": text}, headers=member.headers
    ) as response:
        assert response.status == 200
        return await response.json()


async def test_like_favourites_and_notifies_and_undo_withdraws(kith, peer):
    amy = await make_local(kith, "amy")
    status = await local_status(kith, amy)
    like = peer.activity("Like", status["uri"])
    assert await process(kith, peer, like) == "ok"
    [notification] = await get_as(kith, amy, "/api/v1/notifications")
    assert notification["type"] == "favourite" and notification["status"]["id"] == status["id"]
    assert (await get_as(kith, amy, f"/api/v1/statuses/{status['id']}"))["favourites_count"] == 1
    assert await process(kith, peer, peer.activity("Undo", like["id"])) == "ok"
    assert (await get_as(kith, amy, f"/api/v1/statuses/{status['id']}"))["favourites_count"] == 0
    assert await get_as(kith, amy, "/api/v1/notifications") == []


async def test_announce_of_a_local_status_is_a_boost_with_a_notification(kith, peer):
    amy = await make_local(kith, "amy")
    status = await local_status(kith, amy)
    announce = peer.activity("Announce", status["uri"], to=[PUBLIC])
    assert await process(kith, peer, announce) == "ok"
    [notification] = await get_as(kith, amy, "/api/v1/notifications")
    assert notification["type"] == "reblog"
    assert (await get_as(kith, amy, f"/api/v1/statuses/{status['id']}"))["reblogs_count"] == 1
    undo = peer.activity("Undo", announce)
    assert await process(kith, peer, undo) == "ok"
    assert (await get_as(kith, amy, f"/api/v1/statuses/{status['id']}"))["reblogs_count"] == 0


async def test_announce_of_an_unknown_post_fetches_it_for_the_boosters_followers(kith, peer):
    amy = await make_local(kith, "amy")
    await remote_followed_by(kith, peer, amy)
    bob = peer.actor("/users/bob", key=1)
    original = {
        "id": f"{bob}/statuses/7",
        "type": "Note",
        "attributedTo": bob,
        "content": "<p>boosted</p>",
        "to": [PUBLIC],
    }
    peer.serve(original)
    assert await process(kith, peer, peer.activity("Announce", original["id"], to=[PUBLIC])) == "ok"
    [boost] = await get_as(kith, amy, "/api/v1/timelines/home")
    assert boost["account"]["acct"] == "ana@peer.test"
    assert boost["reblog"]["content"] == "<p>boosted</p>"
    assert boost["reblog"]["account"]["acct"] == "bob@peer.test"


# -- Block, Flag, Move, Add, unknown ---------------------------------------------------------------


async def test_block_ends_follows_both_ways(kith, peer):
    amy = await make_local(kith, "amy")
    ana_id = await remote_followed_by(kith, peer, amy)
    block = peer.activity("Block", amy.uri)
    assert await process(kith, peer, block) == "ok"
    assert await kith.pool.fetchval("SELECT count(*) FROM follows") == 0
    assert await follow_store.is_blocking(kith.pool, ana_id, amy.account_id)
    assert await process(kith, peer, peer.activity("Undo", block)) == "ok"
    assert not await follow_store.is_blocking(kith.pool, ana_id, amy.account_id)


async def test_flag_lands_in_reports(kith, peer):
    amy = await make_local(kith, "amy")
    status = await local_status(kith, amy)
    flag = peer.activity("Flag", [amy.uri, status["uri"]], content="spam")
    assert await process(kith, peer, flag) == "ok"
    report = await kith.pool.fetchrow("SELECT * FROM reports")
    assert report["target_account_id"] == amy.account_id
    assert report["status_ids"] == [int(status["id"])]
    assert report["comment"] == "spam" and report["uri"] == flag["id"]


async def test_flags_from_a_domain_with_reject_reports_are_ignored(kith, peer):
    amy = await make_local(kith, "amy")
    await kith.pool.execute(
        "INSERT INTO domain_blocks (domain, severity, reject_reports) VALUES ($1, 'noop', true)",
        peer.base_url.split("://", 1)[1],
    )
    flag = peer.activity("Flag", [amy.uri], content="spam")
    assert await process(kith, peer, flag) == "ignored: reports from this domain are rejected"
    assert await kith.pool.fetchval("SELECT count(*) FROM reports") == 0


async def test_accounts_of_a_silenced_domain_are_silenced_when_first_seen(kith, peer):
    await kith.pool.execute(
        "INSERT INTO domain_blocks (domain, severity) VALUES ($1, 'silence')",
        peer.base_url.split("://", 1)[1],
    )
    account = await remote_accounts.resolve_actor(kith.federation, peer.actor())
    assert account["silenced_at"] is not None
    # Stamped with the block's time, as the accounts it limited when made: lifting it lifts this.
    block_time = await kith.pool.fetchval("SELECT updated_at FROM domain_blocks")
    assert account["silenced_at"] == block_time


async def test_move_records_the_new_account(kith, peer):
    old = peer.actor()
    await remote_accounts.resolve_actor(kith.federation, old)
    new = peer.actor("/users/ana2", key=1, alsoKnownAs=[old])
    move = peer.activity("Move", old, target=new)
    assert await process(kith, peer, move) == "ok"
    moved = await kith.pool.fetchval(
        "SELECT n.uri FROM accounts o JOIN accounts n ON n.id = o.moved_to_account_id"
        " WHERE o.uri = $1",
        old,
    )
    assert moved == new


async def test_move_to_an_account_that_does_not_claim_the_old_one_is_refused(kith, peer):
    old = peer.actor()
    await remote_accounts.resolve_actor(kith.federation, old)
    new = peer.actor("/users/ana2", key=1)
    outcome = await process(kith, peer, peer.activity("Move", old, target=new))
    assert outcome == "refused: the target does not list the actor in alsoKnownAs"


async def test_add_to_featured_and_unknown_types_are_acknowledged(kith, peer):
    add = peer.activity("Add", "http://peer.test/notes/1", target="http://peer.test/featured")
    assert await process(kith, peer, add) == "ignored: featured collections are not kept yet"
    odd = peer.activity("EmojiReact", "http://peer.test/notes/1")
    assert await process(kith, peer, odd) == "ignored: unsupported type EmojiReact"


def test_a_type_cannot_have_two_handlers():
    with pytest.raises(ValueError, match="'Add' activities is already registered"):
        featured.register(build_dispatcher())
