"""Who receives what: the services' hooks queue each activity for the right remote inboxes, one
delivery per server, and nothing at all about a local-only status."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest

from federation import delivery, outbox
from federation.render.context import PUBLIC
from server.usecases import boosts, favourites, follows, profiles, statuses
from server.usecases.actors import Actor
from storage import follows as follow_store
from tests.test_delivery import URLS, add_follow, env, local_member, remote_account

__all__ = ["env"]  # the fixture, shared with test_delivery


async def sent(pool: asyncpg.Pool) -> list[tuple[str, str, dict[str, Any]]]:
    """(activity type, inbox, activity) of every queued delivery, by inbox."""
    rows = await pool.fetch(
        """
        SELECT d.inbox_url, o.body FROM deliveries d
        JOIN outgoing_activities o ON o.id = d.activity_id
        ORDER BY o.id, d.inbox_url
        """
    )
    return [
        (orjson.loads(r["body"])["type"], r["inbox_url"], orjson.loads(r["body"])) for r in rows
    ]


async def clear(pool: asyncpg.Pool) -> None:
    await pool.execute("DELETE FROM jobs; DELETE FROM outgoing_activities")


async def remote_status(pool: asyncpg.Pool, account_id: int, uri: str) -> int:
    return await pool.fetchval(
        """
        INSERT INTO statuses (uri, url, account_id, local, visibility, content)
        VALUES ($1, $1, $2, false, 'public', '<p>hello</p>') RETURNING id
        """,
        uri,
        account_id,
    )


@pytest.fixture
async def world(env):
    """ann (local) followed by three remote accounts on two servers: two on one.test (which
    has a shared inbox) and one on two.test (which has none); cat on three.test follows no one."""
    ann = await local_member(env.pool, "ann")
    followers = [
        await remote_account(env.pool, "a1", "one.test"),
        await remote_account(env.pool, "a2", "one.test"),
        await remote_account(env.pool, "b1", "two.test", shared_inbox=False),
    ]
    for follower in followers:
        await add_follow(env.pool, follower, ann)
    cat = await remote_account(env.pool, "cat", "three.test", shared_inbox=False)
    return env.pool, ann, cat


FOLLOWER_INBOXES = ["http://one.test/inbox", "http://two.test/users/b1/inbox"]
CAT_INBOX = "http://three.test/users/cat/inbox"


async def post(pool: asyncpg.Pool, author: int, text: str, **options: Any):
    return await statuses.create_status(pool, URLS, author_id=author, text=text, **options)


async def test_a_public_status_goes_once_to_each_followers_server(world):
    pool, ann, _ = world
    status = await post(pool, ann, "hello fediverse")
    deliveries = await sent(pool)
    assert [(kind, inbox) for kind, inbox, _ in deliveries] == [
        ("Create", inbox) for inbox in FOLLOWER_INBOXES
    ]
    create = deliveries[0][2]
    assert create["object"]["id"] == status["uri"] and create["actor"] == URLS.actor("ann")
    assert create["to"] == [PUBLIC]
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE queue = 'deliver'") == 2


async def test_mentioned_remote_accounts_receive_it_too(world):
    pool, ann, _ = world
    await post(pool, ann, "hi @cat@three.test", visibility="private")
    assert [inbox for _, inbox, _ in await sent(pool)] == sorted([*FOLLOWER_INBOXES, CAT_INBOX])


async def test_a_direct_status_goes_to_the_mentioned_only(world):
    pool, ann, _ = world
    await post(pool, ann, "psst @cat@three.test", visibility="direct")
    [(kind, inbox, create)] = await sent(pool)
    assert (kind, inbox) == ("Create", CAT_INBOX)
    assert create["to"] == ["http://three.test/users/cat"] and PUBLIC not in create["cc"]


async def test_a_local_only_status_goes_nowhere(world):
    pool, ann, _ = world
    status = await post(pool, ann, "just us @cat@three.test", local_only=True)
    reply = await post(pool, ann, "still just us", in_reply_to_id=status["id"])
    assert reply["local_only"]
    await boosts.reblog(pool, URLS, Actor.member(ann), status["id"])
    await statuses.delete_status(pool, Actor.member(ann), status["id"])
    assert await sent(pool) == []
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_deliver_itself_refuses_an_activity_about_a_local_only_status(world):
    pool, ann, _ = world
    status = await post(pool, ann, "just us", local_only=True)
    activity = {
        "id": f"{status['uri']}/activity",
        "type": "Create",
        "actor": URLS.actor("ann"),
        "object": {"id": status["uri"], "type": "Note"},
    }
    async with pool.acquire() as conn, conn.transaction():
        assert (
            await delivery.deliver(conn, actor_id=ann, activity=activity, inboxes=[CAT_INBOX]) == 0
        )
    assert await sent(pool) == []


async def test_a_deletion_reaches_the_same_audience(world):
    pool, ann, _ = world
    status = await post(pool, ann, "oops @cat@three.test", visibility="unlisted")
    await clear(pool)
    await statuses.delete_status(pool, Actor.member(ann), status["id"])
    deliveries = await sent(pool)
    assert [(k, i) for k, i, _ in deliveries] == [
        ("Delete", i) for i in sorted([*FOLLOWER_INBOXES, CAT_INBOX])
    ]
    assert deliveries[0][2]["object"] == {
        "id": status["uri"],
        "type": "Tombstone",
        "formerType": "Note",
    }


async def test_likes_go_to_the_remote_author(world):
    pool, ann, cat = world
    status_id = await remote_status(pool, cat, "http://three.test/notes/1")
    await favourites.favourite(pool, Actor.member(ann), status_id)
    await favourites.unfavourite(pool, Actor.member(ann), status_id)
    [(like_kind, inbox, like), (undo_kind, _, undo)] = await sent(pool)
    assert (like_kind, undo_kind, inbox) == ("Like", "Undo", CAT_INBOX)
    assert like["object"] == "http://three.test/notes/1"
    # Receivers match the undone Like by actor and object; a fresh id lets a second Like through.
    assert (undo["object"]["type"], undo["object"]["object"]) == ("Like", like["object"])
    assert undo["object"]["actor"] == like["actor"]

    own = await post(pool, ann, "mine")
    await clear(pool)
    await favourites.favourite(pool, Actor.member(ann), own["id"])
    assert await sent(pool) == []  # a local status: nobody remote to tell


async def test_boosts_go_to_the_boosters_followers_and_the_author(world):
    pool, ann, cat = world
    status_id = await remote_status(pool, cat, "http://three.test/notes/2")
    boost = await boosts.reblog(pool, URLS, Actor.member(ann), status_id)
    await boosts.unreblog(pool, Actor.member(ann), status_id)
    deliveries = await sent(pool)
    expected = sorted([*FOLLOWER_INBOXES, CAT_INBOX])
    assert [(k, i) for k, i, _ in deliveries] == [
        *(("Announce", i) for i in expected),
        *(("Undo", i) for i in expected),
    ]
    announce = deliveries[0][2]
    assert announce["id"] == boost["uri"] and announce["object"] == "http://three.test/notes/2"
    assert deliveries[-1][2]["object"]["id"] == boost["uri"]


async def test_following_a_remote_account_sends_a_follow_and_waits(world):
    pool, ann, cat = world
    assert await follows.follow(pool, ann, cat) == "requested"
    request = await follow_store.get_follow_request(pool, ann, cat)
    assert request["uri"].startswith(URLS.actor("ann"))
    [(kind, inbox, follow)] = await sent(pool)
    assert (kind, inbox) == ("Follow", CAT_INBOX)
    assert follow["id"] == request["uri"] and follow["object"] == "http://three.test/users/cat"

    await follows.unfollow(pool, ann, cat)
    (kind, inbox, undo) = (await sent(pool))[-1]
    assert (kind, inbox, undo["object"]["id"]) == ("Undo", CAT_INBOX, request["uri"])


async def test_a_remote_follow_of_an_unlocked_member_is_accepted(world):
    pool, ann, cat = world
    follow_uri = "http://three.test/follows/1"
    assert await follows.follow(pool, cat, ann, uri=follow_uri) == "following"
    [(kind, inbox, accept)] = await sent(pool)
    assert (kind, inbox) == ("Accept", CAT_INBOX)
    assert accept["actor"] == URLS.actor("ann")
    assert accept["object"]["id"] == follow_uri and accept["object"]["type"] == "Follow"


async def test_a_locked_member_accepts_or_rejects_remote_requests(world):
    pool, ann, cat = world
    dog = await remote_account(pool, "dog", "three.test", shared_inbox=False)
    await pool.execute("UPDATE accounts SET locked = true WHERE id = $1", ann)
    await follows.follow(pool, cat, ann, uri="http://three.test/follows/cat")
    await follows.follow(pool, dog, ann, uri="http://three.test/follows/dog")
    assert await sent(pool) == []  # pending: nothing to say yet
    await follows.authorize_follow_request(pool, ann, cat)
    await follows.reject_follow_request(pool, ann, dog)
    assert [(k, i, a["object"]["id"]) for k, i, a in await sent(pool)] == [
        ("Accept", CAT_INBOX, "http://three.test/follows/cat"),
        ("Reject", "http://three.test/users/dog/inbox", "http://three.test/follows/dog"),
    ]


async def test_a_profile_update_reaches_remote_followers(world):
    pool, ann, _ = world
    user_id = await pool.fetchval("SELECT id FROM users WHERE account_id = $1", ann)
    await profiles.update_profile(
        pool, URLS, ann, user_id, profiles.ProfileUpdate(display_name="Ann")
    )
    deliveries = await sent(pool)
    assert [(k, i) for k, i, _ in deliveries] == [("Update", i) for i in FOLLOWER_INBOXES]
    assert deliveries[0][2]["object"]["name"] == "Ann"
    await clear(pool)
    await profiles.update_profile(
        pool, URLS, ann, user_id, profiles.ProfileUpdate(privacy="private")
    )
    assert await sent(pool) == []  # a posting default is nobody else's business


async def test_blocks_go_to_the_blocked_remote_account(world):
    pool, ann, cat = world
    async with pool.acquire() as conn, conn.transaction():
        await outbox.blocked(conn, ann, cat)
        await outbox.unblocked(conn, ann, cat)
    [(block_kind, inbox, block), (undo_kind, _, undo)] = await sent(pool)
    assert (block_kind, undo_kind, inbox) == ("Block", "Undo", CAT_INBOX)
    assert block["object"] == "http://three.test/users/cat"
    assert undo["object"]["type"] == "Block" and undo["object"]["object"] == block["object"]


async def test_an_edit_reaches_the_audience_as_an_update(world):
    pool, ann, _ = world
    status = await post(pool, ann, "first version")
    await clear(pool)
    async with pool.acquire() as conn, conn.transaction():
        await outbox.status_edited(conn, URLS, status)
    deliveries = await sent(pool)
    assert [(k, i) for k, i, _ in deliveries] == [("Update", i) for i in FOLLOWER_INBOXES]
    assert deliveries[0][2]["object"]["id"] == status["uri"]
