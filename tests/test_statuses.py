"""Statuses through the client API: posting, reading, deleting, threads, visibility,
favourites and boosts. Every status a test receives is checked against the Status schema."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from server.auth import hash_secret
from server.state import POOL, URLS
from server.usecases.statuses import create_status
from storage import oauth as oauth_store
from tests.schemas import assert_matches


@pytest.fixture
def pool(client):
    return client.server.app[POOL]


async def post(client, member, status: str = "hello", **params: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/statuses", json={"status": status, **params}, headers=member.headers
    )
    assert response.status == 200, await response.text()
    data = await response.json()
    assert_matches("status", data)
    return data


async def get(client, status_id: str, member=None) -> tuple[int, Any]:
    headers = member.headers if member else {}
    response = await client.get(f"/api/v1/statuses/{status_id}", headers=headers)
    data = await response.json()
    if response.status == 200:
        assert_matches("status", data)
    return response.status, data


async def act(client, member, status_id: str, action: str, **params: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/statuses/{status_id}/{action}", json=params, headers=member.headers
    )
    assert response.status == 200, await response.text()
    data = await response.json()
    assert_matches("status", data)
    return data


async def follow(pool, follower, target) -> None:
    await pool.execute(
        "INSERT INTO follows (account_id, target_account_id) VALUES ($1, $2)",
        follower.account_id,
        target.account_id,
    )


async def notifications(pool, member) -> list[tuple[str, int, int | None]]:
    rows = await pool.fetch(
        "SELECT type, from_account_id, status_id FROM notifications WHERE account_id = $1"
        " ORDER BY id",
        member.account_id,
    )
    return [(r["type"], r["from_account_id"], r["status_id"]) for r in rows]


async def statuses_count(pool, member) -> int:
    return await pool.fetchval(
        "SELECT statuses_count FROM accounts WHERE id = $1", member.account_id
    )


async def test_post_read_and_delete(client, make_member, pool):
    alice = await make_member("alice")
    data = await post(client, alice, "Hello <b>world</b>", spoiler_text="cw", language="en")
    assert data["content"] == "<p>Hello &lt;b&gt;world&lt;/b&gt;</p>"
    assert data["account"]["id"] == str(alice.account_id)
    assert data["uri"] == f"http://kith.test/users/alice/statuses/{data['id']}"
    assert data["url"] == f"http://kith.test/@alice/{data['id']}"
    assert (data["visibility"], data["local_only"], data["language"]) == ("public", False, "en")
    assert data["sensitive"] is True  # a content warning implies it
    assert data["favourited"] is False and data["reblogged"] is False
    assert "text" not in data
    assert await statuses_count(pool, alice) == 1
    assert await pool.fetchval(
        "SELECT last_status_at IS NOT NULL FROM accounts WHERE id = $1", alice.account_id
    )

    status, shown = await get(client, data["id"])
    assert status == 200
    assert shown["content"] == data["content"] and "favourited" not in shown

    response = await client.delete(f"/api/v1/statuses/{data['id']}", headers=alice.headers)
    assert response.status == 200
    deleted = await response.json()
    assert_matches("status", deleted)
    assert deleted["id"] == data["id"] and deleted["text"] == "Hello <b>world</b>"
    assert (await get(client, data["id"]))[0] == 404
    assert await statuses_count(pool, alice) == 0
    response = await client.delete(f"/api/v1/statuses/{data['id']}", headers=alice.headers)
    assert response.status == 404


async def test_form_encoded_post_and_member_defaults(client, make_member, pool):
    alice = await make_member("alice")
    await pool.execute(
        "UPDATE users SET default_visibility = 'unlisted', default_sensitive = true,"
        " default_language = 'de' WHERE id = $1",
        alice.user_id,
    )
    response = await client.post(
        "/api/v1/statuses", data={"status": "Guten Tag"}, headers=alice.headers
    )
    assert response.status == 200
    data = await response.json()
    assert_matches("status", data)
    assert (data["visibility"], data["sensitive"], data["language"]) == ("unlisted", True, "de")
    data = await post(client, alice, visibility="public", sensitive=False, language="not a code")
    assert (data["visibility"], data["sensitive"], data["language"]) == ("public", False, None)


async def test_the_posting_application_is_named(client, make_member, pool):
    alice = await make_member("alice")
    app_id = await pool.fetchval(
        "INSERT INTO oauth_applications (name, website, redirect_uris, scopes, client_id,"
        " client_secret) VALUES ('Tusky', 'https://tusky.app', '{urn:ietf:wg:oauth:2.0:oob}',"
        " '{read,write}', 'cid', 'secret') RETURNING id"
    )
    token = uuid.uuid4().hex
    await oauth_store.create_token(
        pool,
        token_hash=hash_secret(token),
        application_id=app_id,
        user_id=alice.user_id,
        scopes=["write:statuses"],
    )
    response = await client.post(
        "/api/v1/statuses",
        json={"status": "from my phone"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 200
    data = await response.json()
    assert data["application"] == {"name": "Tusky", "website": "https://tusky.app"}
    assert (await post(client, alice))["application"] is None


async def test_mentions_tags_and_mention_notifications(client, make_member, pool):
    alice, bob = await make_member("alice"), await make_member("bob")
    data = await post(client, alice, "Hi @bob, @alice, @nobody and @bob@kith.test #Kith #café")
    assert data["content"].count('<a href="http://kith.test/@bob" class="u-url mention">') == 2
    assert "@nobody" in data["content"]
    assert [m["acct"] for m in data["mentions"]] == ["alice", "bob"]
    assert data["mentions"][1]["url"] == "http://kith.test/@bob"
    assert sorted(t["name"] for t in data["tags"]) == ["Kith", "café"]
    assert {t["url"] for t in data["tags"]} == {
        "http://kith.test/tags/kith",
        "http://kith.test/tags/caf%C3%A9",
    }
    assert 'href="http://kith.test/tags/caf%C3%A9"' in data["content"]
    assert await notifications(pool, bob) == [("mention", alice.account_id, int(data["id"]))]
    assert await notifications(pool, alice) == []  # never about oneself

    # A tag keeps its first spelling; later uses in any case share it.
    later = await post(client, bob, "#KITH")
    assert [t["name"] for t in later["tags"]] == ["Kith"]


async def test_no_mention_notification_across_a_block(client, make_member, pool):
    alice, bob = await make_member("alice"), await make_member("bob")
    await pool.execute(
        "INSERT INTO blocks (account_id, target_account_id) VALUES ($1, $2)",
        bob.account_id,
        alice.account_id,
    )
    await post(client, alice, "@bob hello?")
    assert await notifications(pool, bob) == []


async def test_replies_thread_and_context(client, make_member, pool):
    alice, bob, carol = await make_member("alice"), await make_member("bob"), await make_member()
    root = await post(client, alice, "root")
    first = await post(client, bob, "@alice first", in_reply_to_id=root["id"])
    nested = await post(client, alice, "@bob nested", in_reply_to_id=first["id"])
    second = await post(client, carol, "second", in_reply_to_id=root["id"])
    deeper = await post(client, carol, "deeper", in_reply_to_id=nested["id"])
    hidden = await post(
        client, bob, "only alice sees this", in_reply_to_id=root["id"], visibility="private"
    )

    assert first["in_reply_to_id"] == root["id"]
    assert first["in_reply_to_account_id"] == str(alice.account_id)
    roots = await pool.fetch(
        "SELECT thread_root_id FROM statuses WHERE id = ANY($1::bigint[])",
        [int(s["id"]) for s in (first, nested, second, deeper)],
    )
    assert {r["thread_root_id"] for r in roots} == {int(root["id"])}
    # Only public and unlisted replies are counted, as in Mastodon.
    assert (await get(client, root["id"]))[1]["replies_count"] == 2

    response = await client.get(f"/api/v1/statuses/{nested['id']}/context")
    assert response.status == 200
    context = await response.json()
    assert_matches("context", context)
    assert [s["id"] for s in context["ancestors"]] == [root["id"], first["id"]]
    assert [s["id"] for s in context["descendants"]] == [deeper["id"]]

    response = await client.get(f"/api/v1/statuses/{root['id']}/context", headers=bob.headers)
    context = await response.json()
    assert_matches("context", context)
    assert context["ancestors"] == []
    expected = [first["id"], nested["id"], deeper["id"], second["id"], hidden["id"]]
    assert [s["id"] for s in context["descendants"]] == expected
    # The followers-only reply is left out for anyone who may not read it.
    response = await client.get(f"/api/v1/statuses/{root['id']}/context")
    assert [s["id"] for s in (await response.json())["descendants"]] == expected[:-1]

    response = await client.delete(f"/api/v1/statuses/{second['id']}", headers=carol.headers)
    assert response.status == 200
    assert (await get(client, root["id"]))[1]["replies_count"] == 1


async def test_replying_to_what_one_cannot_read_is_not_found(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    secret = await post(client, alice, "followers only", visibility="private")
    for target in (secret["id"], "123456", "not-an-id"):
        response = await client.post(
            "/api/v1/statuses",
            json={"status": "reply", "in_reply_to_id": target},
            headers=bob.headers,
        )
        assert response.status == 404
        assert (await response.json())["error"] == (
            "The post you are trying to reply to does not appear to exist."
        )


# Who may read a status of each visibility: (anonymous, stranger, follower, mentioned).
VISIBILITY_MATRIX = {
    "public": (True, True, True, True),
    "unlisted": (True, True, True, True),
    "private": (False, False, True, True),
    "direct": (False, False, False, True),
}


async def test_visibility_matrix(client, make_member, pool):
    author, stranger, follower, mentioned = (
        await make_member("author"),
        await make_member("stranger"),
        await make_member("follower"),
        await make_member("mentioned"),
    )
    await follow(pool, follower, author)
    for visibility, expected in VISIBILITY_MATRIX.items():
        data = await post(client, author, "@mentioned hi", visibility=visibility)
        assert data["visibility"] == visibility
        for reader, readable in zip((None, stranger, follower, mentioned), expected, strict=True):
            status, _ = await get(client, data["id"], reader)
            assert status == (200 if readable else 404), (visibility, reader)
            headers = reader.headers if reader else {}
            for sub in ("context", "favourited_by", "reblogged_by"):
                response = await client.get(f"/api/v1/statuses/{data['id']}/{sub}", headers=headers)
                assert response.status == (200 if readable else 404), (visibility, sub)
        assert (await get(client, data["id"], author))[0] == 200
    # Direct statuses do not count towards the author's statuses, as in Mastodon.
    assert await statuses_count(pool, author) == 3


async def test_direct_statuses_reach_only_the_mentioned_home_feeds(client, make_member, pool):
    author, follower, mentioned = (
        await make_member("author"),
        await make_member("follower"),
        await make_member("mentioned"),
    )
    await follow(pool, follower, author)
    direct = await post(client, author, "@mentioned psst", visibility="direct")
    public = await post(client, author, "hello all")
    feeds = await pool.fetch("SELECT account_id, status_id FROM home_feed ORDER BY status_id")
    pairs = {(r["account_id"], r["status_id"]) for r in feeds}
    assert pairs == {
        (author.account_id, int(direct["id"])),
        (mentioned.account_id, int(direct["id"])),
        (author.account_id, int(public["id"])),
        (follower.account_id, int(public["id"])),
    }


async def test_local_only_statuses(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    flagged = await post(client, alice, "members only", local_only=True)
    shorthand = await post(client, alice, "members only too", visibility="local")
    assert (shorthand["visibility"], shorthand["local_only"]) == ("public", True)
    for data in (flagged, shorthand):
        assert data["local_only"] is True
        assert (await get(client, data["id"]))[0] == 404
        assert (await get(client, data["id"], bob))[0] == 200
    reply = await post(client, bob, "agreed", in_reply_to_id=flagged["id"])
    assert reply["local_only"] is True
    boost = await act(client, bob, shorthand["id"], "reblog")
    assert boost["local_only"] is True


async def test_idempotency_key_returns_the_same_status(client, make_member, pool):
    alice, bob = await make_member("alice"), await make_member("bob")
    key = {"Idempotency-Key": "abc-123"}
    first = await client.post(
        "/api/v1/statuses", json={"status": "once"}, headers={**alice.headers, **key}
    )
    again = await client.post(
        "/api/v1/statuses", json={"status": "once"}, headers={**alice.headers, **key}
    )
    other = await client.post(
        "/api/v1/statuses", json={"status": "once"}, headers={**bob.headers, **key}
    )
    first_id = (await first.json())["id"]
    assert (await again.json())["id"] == first_id
    assert (await other.json())["id"] != first_id
    assert await statuses_count(pool, alice) == 1

    # Once the key is more than a day old, or its status is deleted, the key is free again.
    await pool.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    later = await client.post(
        "/api/v1/statuses", json={"status": "once"}, headers={**alice.headers, **key}
    )
    later_id = (await later.json())["id"]
    assert later_id != first_id
    await client.delete(f"/api/v1/statuses/{later_id}", headers=alice.headers)
    last = await client.post(
        "/api/v1/statuses", json={"status": "once"}, headers={**alice.headers, **key}
    )
    assert (await last.json())["id"] not in (first_id, later_id)


async def test_service_idempotency_and_defaults(client, make_member, pool):
    alice = await make_member("alice")
    urls = client.server.app[URLS]
    one = await create_status(pool, urls, author_id=alice.account_id, text="x", idempotency_key="k")
    two = await create_status(pool, urls, author_id=alice.account_id, text="y", idempotency_key="k")
    assert one["id"] == two["id"] and two["text"] == "x"
    assert one["visibility"] == "public" and one["local_only"] is False
    # Concurrent requests with one key still make one status.
    racing = await asyncio.gather(
        *(
            create_status(pool, urls, author_id=alice.account_id, text="z", idempotency_key="r")
            for _ in range(5)
        )
    )
    assert len({status["id"] for status in racing}) == 1


async def test_favourites(client, make_member, pool):
    alice, bob, carol = await make_member("alice"), await make_member("bob"), await make_member()
    data = await post(client, alice, "like me")
    faved = await act(client, bob, data["id"], "favourite")
    assert (faved["favourited"], faved["favourites_count"]) == (True, 1)
    again = await act(client, bob, data["id"], "favourite")
    assert again["favourites_count"] == 1
    await act(client, carol, data["id"], "favourite")
    assert await notifications(pool, alice) == [
        ("favourite", bob.account_id, int(data["id"])),
        ("favourite", carol.account_id, int(data["id"])),
    ]

    response = await client.get(f"/api/v1/statuses/{data['id']}/favourited_by?limit=1")
    assert response.status == 200
    accounts = await response.json()
    assert [a["id"] for a in accounts] == [str(carol.account_id)]
    for account in accounts:
        assert_matches("account", account)
    assert 'rel="next"' in response.headers["Link"]
    next_url = response.headers["Link"].split(">")[0].lstrip("<")
    response = await client.get(next_url.replace("http://kith.test", ""))
    assert [a["id"] for a in await response.json()] == [str(bob.account_id)]

    undone = await act(client, bob, data["id"], "unfavourite")
    assert (undone["favourited"], undone["favourites_count"]) == (False, 1)
    assert await notifications(pool, alice) == [("favourite", carol.account_id, int(data["id"]))]
    assert (await act(client, bob, data["id"], "unfavourite"))["favourites_count"] == 1
    assert (await act(client, alice, data["id"], "favourite"))["favourites_count"] == 2
    assert len(await notifications(pool, alice)) == 1  # not about one's own favourite


async def test_reblogs(client, make_member, pool):
    alice, bob, carol = await make_member("alice"), await make_member("bob"), await make_member()
    await follow(pool, carol, bob)
    data = await post(client, alice, "boost me")
    boost = await act(client, bob, data["id"], "reblog")
    assert boost["id"] != data["id"] and boost["reblog"]["id"] == data["id"]
    assert boost["account"]["id"] == str(bob.account_id) and boost["content"] == ""
    assert boost["uri"] == f"http://kith.test/users/bob/statuses/{boost['id']}/activity"
    assert boost["reblogged"] is True and boost["reblog"]["reblogs_count"] == 1
    assert await notifications(pool, alice) == [("reblog", bob.account_id, int(data["id"]))]
    assert await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM home_feed WHERE account_id = $1 AND status_id = $2)",
        carol.account_id,
        int(boost["id"]),
    )
    assert await statuses_count(pool, bob) == 1

    # Boosting again, or boosting the boost, gives the same boost back.
    assert (await act(client, bob, data["id"], "reblog"))["id"] == boost["id"]
    assert (await act(client, bob, boost["id"], "reblog"))["id"] == boost["id"]
    status, shown = await get(client, boost["id"])
    assert status == 200 and shown["reblog"]["id"] == data["id"]
    # Favouriting a boost favourites the original.
    assert (await act(client, carol, boost["id"], "favourite"))["id"] == data["id"]

    response = await client.get(f"/api/v1/statuses/{data['id']}/reblogged_by")
    assert [a["id"] for a in await response.json()] == [str(bob.account_id)]

    undone = await act(client, bob, data["id"], "unreblog")
    assert undone["id"] == data["id"]
    assert (undone["reblogged"], undone["reblogs_count"]) == (False, 0)
    assert ("reblog", bob.account_id, int(data["id"])) not in await notifications(pool, alice)
    assert (await get(client, boost["id"]))[0] == 404
    assert await statuses_count(pool, bob) == 0
    assert (await act(client, bob, data["id"], "unreblog"))["reblogs_count"] == 0

    private = await act(
        client, bob, (await post(client, alice, "again"))["id"], "reblog", visibility="private"
    )
    assert private["visibility"] == "private"
    response = await client.post(
        f"/api/v1/statuses/{data['id']}/reblog", json={"visibility": "direct"}, headers=bob.headers
    )
    assert response.status == 422


async def test_only_public_and_unlisted_statuses_can_be_boosted(client, make_member, pool):
    alice, follower, stranger = (
        await make_member("alice"),
        await make_member("follower"),
        await make_member("stranger"),
    )
    await follow(pool, follower, alice)
    private = await post(client, alice, "followers only", visibility="private")
    direct = await post(client, alice, "@follower psst", visibility="direct")
    for member, status_id, expected in (
        (follower, private["id"], 403),
        (alice, private["id"], 403),
        (follower, direct["id"], 403),
        (stranger, private["id"], 404),
        (stranger, "999", 404),
    ):
        response = await client.post(f"/api/v1/statuses/{status_id}/reblog", headers=member.headers)
        assert response.status == expected
    unlisted = await post(client, alice, "quiet", visibility="unlisted")
    assert (await act(client, stranger, unlisted["id"], "reblog"))["reblog"]["id"] == unlisted["id"]


async def test_deleting_cleans_up(client, make_member, pool):
    alice, bob = await make_member("alice"), await make_member("bob")
    await follow(pool, bob, alice)
    data = await post(client, alice, "@bob soon gone")
    boost = await act(client, bob, data["id"], "reblog")
    await act(client, bob, data["id"], "favourite")
    reply = await post(client, bob, "@alice why?", in_reply_to_id=data["id"])

    response = await client.delete(f"/api/v1/statuses/{data['id']}", headers=bob.headers)
    assert response.status == 404  # someone else's
    response = await client.delete(f"/api/v1/statuses/{data['id']}", headers=alice.headers)
    assert response.status == 200

    assert (await get(client, boost["id"]))[0] == 404
    assert await statuses_count(pool, bob) == 1  # the reply; the boost went with the original
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM home_feed WHERE status_id = ANY($1::bigint[])",
            [int(data["id"]), int(boost["id"])],
        )
        == 0
    )
    assert await notifications(pool, bob) == []
    assert await notifications(pool, alice) == [("mention", bob.account_id, int(reply["id"]))]
    # The reply stays, pointing at a status that is gone.
    status, shown = await get(client, reply["id"])
    assert status == 200 and shown["in_reply_to_id"] == data["id"]

    response = await client.delete(f"/api/v1/statuses/{reply['id']}", headers=bob.headers)
    assert response.status == 200
    assert await notifications(pool, alice) == []


async def test_deleting_a_boost_by_id(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    data = await post(client, alice, "boost me")
    boost = await act(client, bob, data["id"], "reblog")
    response = await client.delete(f"/api/v1/statuses/{boost['id']}", headers=bob.headers)
    assert response.status == 200
    assert (await response.json())["reblog"]["id"] == data["id"]
    _, shown = await get(client, data["id"], bob)
    assert (shown["reblogs_count"], shown["reblogged"]) == (0, False)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"status": "x" * 501}, 422, "Validation failed: Text character limit of 500 exceeded"),
        ({"status": "x" * 490, "spoiler_text": "y" * 11}, 422, None),
        ({"status": ""}, 422, "Validation failed: Text can't be blank"),
        ({"status": " \n "}, 422, None),
        ({}, 422, None),
        ({"status": "hi", "visibility": "friends"}, 422, None),
        ({"status": "hi", "media_ids": ["1"]}, 422, None),
        ({"status": "hi", "poll": {"options": ["a"], "expires_in": 600}}, 422, None),
        ({"status": "hi", "in_reply_to_id": "999"}, 404, None),
    ],
)
async def test_invalid_posts(client, make_member, body, status, error):
    alice = await make_member("alice")
    response = await client.post("/api/v1/statuses", json=body, headers=alice.headers)
    assert response.status == status
    data = await response.json()
    assert_matches("error", data)
    if error:
        assert data["error"] == error


async def test_length_counts_links_as_23_characters(client, make_member):
    alice = await make_member("alice")
    text = "x" * 470 + " https://example.com/" + "y" * 100
    data = await post(client, alice, text)
    assert 'href="https://example.com/' in data["content"]
    await post(client, alice, "z" * 500)


async def test_request_errors(client, make_member):
    alice = await make_member("alice")
    reader = await make_member("reader", scopes=("read",))
    data = await post(client, alice)
    for path in ("/api/v1/statuses/999", "/api/v1/statuses/abc", "/api/v1/statuses/-1"):
        response = await client.get(path, headers=alice.headers)
        assert response.status == 404
        assert await response.json() == {"error": "Record not found"}
    for method, path in (
        ("POST", "/api/v1/statuses"),
        ("DELETE", f"/api/v1/statuses/{data['id']}"),
        ("POST", f"/api/v1/statuses/{data['id']}/favourite"),
        ("POST", f"/api/v1/statuses/{data['id']}/reblog"),
    ):
        response = await client.request(method, path, json={"status": "x"}, headers=reader.headers)
        assert response.status == 403, path
        response = await client.request(method, path, json={"status": "x"})
        assert response.status == 401, path
    response = await client.get(f"/api/v1/statuses/{data['id']}", headers=reader.headers)
    assert response.status == 200
    response = await client.post(
        "/api/v1/statuses",
        data=b'{"status": ',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert_matches("error", await response.json())
    for action in ("favourite", "unfavourite", "reblog", "unreblog"):
        response = await client.post(f"/api/v1/statuses/abc/{action}", headers=alice.headers)
        assert response.status == 404
