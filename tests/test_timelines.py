"""Home, public and hashtag timelines through the client API: who sees what, filters and
pagination. Every status a test receives is checked against the Status schema."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from server.state import POOL, URLS
from server.usecases.actors import Actor
from server.usecases.boosts import reblog
from server.usecases.follows import follow
from server.usecases.statuses import create_status
from storage.tags import attach_tags, upsert_tags
from tests.schemas import assert_matches

_remote_numbers = itertools.count(1)


@pytest.fixture
def pool(client):
    return client.server.app[POOL]


@pytest.fixture
def post(client):
    """`await post(member, "text", visibility=...)`: create a status, return its id as a string."""

    async def make(member, text: str = "hello", **options: Any) -> str:
        app = client.server.app
        status = await create_status(
            app[POOL], app[URLS], author_id=member.account_id, text=text, **options
        )
        return str(status["id"])

    return make


async def members(make_member, *names: str) -> list[Any]:
    return [await make_member(name) for name in names]


async def read(client, path: str, member=None, **query: Any) -> tuple[list[dict[str, Any]], Any]:
    """GET a timeline; return its statuses (schema-checked) and the response."""
    headers = member.headers if member else {}
    response = await client.get(path, params=query, headers=headers)
    assert response.status == 200, await response.text()
    data = await response.json()
    for status in data:
        assert_matches("status", status)
    return data, response


async def ids(client, path: str, member=None, **query: Any) -> list[str]:
    return [status["id"] for status in (await read(client, path, member, **query))[0]]


async def remote_status(pool, text: str = "from afar", **columns: Any) -> str:
    """A public status by a new remote account, inserted as the inbox would."""
    n = next(_remote_numbers)
    account_id = await pool.fetchval(
        """
        INSERT INTO accounts (username, domain, uri, url)
        VALUES ($1, 'remote.example', $2, $2) RETURNING id
        """,
        f"far{n}",
        f"https://remote.example/users/far{n}",
    )
    values = {"visibility": "public", **columns}
    status_id = await pool.fetchval(
        f"""
        INSERT INTO statuses (uri, url, account_id, local, content, {", ".join(values)})
        VALUES ($1, $1, $2, false, $3, {", ".join(f"${i + 4}" for i in range(len(values)))})
        RETURNING id
        """,
        f"https://remote.example/statuses/{n}",
        account_id,
        f"<p>{text}</p>",
        *values.values(),
    )
    tags = await upsert_tags(pool, re.findall(r"#(\w+)", text))
    await attach_tags(pool, status_id, [tag["id"] for tag in tags])
    return str(status_id)


# Home


async def test_home_shows_own_and_followed_statuses_newest_first(client, make_member, pool, post):
    alice, bob, stranger = await members(make_member, "alice", "bob", "stranger")
    await follow(pool, alice.account_id, bob.account_id)
    own = await post(alice, "mine")
    followed = await post(bob, "followed")
    followers_only = await post(bob, "for followers", visibility="private")
    await post(stranger, "not followed")

    assert await ids(client, "/api/v1/timelines/home", alice) == [followers_only, followed, own]
    assert await ids(client, "/api/v1/timelines/home", bob) == [followers_only, followed]


async def test_direct_statuses_reach_only_the_mentioned(client, make_member, pool, post):
    alice, bob, carol = await members(make_member, "alice", "bob", "carol")
    await follow(pool, alice.account_id, bob.account_id)
    secret = await post(bob, "@carol psst", visibility="direct")

    assert await ids(client, "/api/v1/timelines/home", carol) == [secret]
    assert await ids(client, "/api/v1/timelines/home", alice) == []


async def test_home_hides_blocked_and_muted_authors(client, make_member, pool, post):
    alice, muted, blocked, blocker, fine = await members(
        make_member, "alice", "muted", "blocked", "blocker", "fine"
    )
    for author in (muted, blocked, blocker, fine):
        await follow(pool, alice.account_id, author.account_id)
    shown = await post(fine, "still here")
    for author in (muted, blocked, blocker):
        await post(author, "hidden")
    await pool.execute(
        "INSERT INTO mutes (account_id, target_account_id) VALUES ($1, $2)",
        alice.account_id,
        muted.account_id,
    )
    await pool.executemany(
        "INSERT INTO blocks (account_id, target_account_id) VALUES ($1, $2)",
        [(alice.account_id, blocked.account_id), (blocker.account_id, alice.account_id)],
    )
    assert await ids(client, "/api/v1/timelines/home", alice) == [shown]

    # A mute that expired no longer hides anything.
    await pool.execute("UPDATE mutes SET expires_at = now() - interval '1 minute'")
    assert len(await ids(client, "/api/v1/timelines/home", alice)) == 2


async def test_home_boosts_follow_their_original(client, make_member, pool, post):
    alice, bob, dave = await members(make_member, "alice", "bob", "dave")
    await follow(pool, alice.account_id, bob.account_id)
    original = await post(dave, "worth sharing")
    app = client.server.app
    boost = await reblog(app[POOL], app[URLS], Actor.member(bob.account_id), int(original))

    statuses, _ = await read(client, "/api/v1/timelines/home", alice)
    assert [s["id"] for s in statuses] == [str(boost["id"])]
    assert statuses[0]["reblog"]["id"] == original

    await pool.execute(
        "INSERT INTO mutes (account_id, target_account_id) VALUES ($1, $2)",
        alice.account_id,
        dave.account_id,
    )
    assert await ids(client, "/api/v1/timelines/home", alice) == []
    await pool.execute("DELETE FROM mutes")

    await pool.execute("UPDATE statuses SET deleted_at = now() WHERE id = $1", int(original))
    assert await ids(client, "/api/v1/timelines/home", alice) == []


async def test_home_leaves_out_deleted_statuses(client, make_member, post):
    alice = await make_member("alice")
    kept = await post(alice, "kept")
    gone = await post(alice, "gone")
    response = await client.delete(f"/api/v1/statuses/{gone}", headers=alice.headers)
    assert response.status == 200
    assert await ids(client, "/api/v1/timelines/home", alice) == [kept]


async def test_home_pagination(client, make_member, post):
    alice = await make_member("alice")
    posted = [await post(alice, f"number {n}") for n in range(5)]
    newest_first = posted[::-1]
    home = "/api/v1/timelines/home"

    statuses, response = await read(client, home, alice, limit=2)
    assert [s["id"] for s in statuses] == newest_first[:2]
    link = response.headers["Link"]
    assert f'max_id={newest_first[1]}>; rel="next"' in link
    assert f'min_id={newest_first[0]}>; rel="prev"' in link
    assert "limit=2" in link

    next_url = re.search(r'<([^>]+)>; rel="next"', link).group(1)
    response = await client.get(next_url.removeprefix("http://kith.test"), headers=alice.headers)
    assert [s["id"] for s in await response.json()] == newest_first[2:4]

    assert await ids(client, home, alice, max_id=posted[2]) == [posted[1], posted[0]]
    # since_id: the newest statuses above the bound; min_id: the ones immediately above it.
    assert await ids(client, home, alice, since_id=posted[1], limit=2) == [posted[4], posted[3]]
    assert await ids(client, home, alice, min_id=posted[1], limit=2) == [posted[3], posted[2]]
    assert await ids(client, home, alice, min_id=posted[4]) == []
    assert await ids(client, home, alice, max_id="not-an-id") == newest_first

    _, response = await read(client, home, alice, min_id=posted[4])
    assert "Link" not in response.headers


async def test_home_needs_a_token_with_read_statuses(client, make_member):
    response = await client.get("/api/v1/timelines/home")
    assert response.status == 401
    writer = await make_member("writer", scopes=("write",))
    response = await client.get("/api/v1/timelines/home", headers=writer.headers)
    assert response.status == 403
    reader = await make_member("reader", scopes=("read:statuses",))
    response = await client.get("/api/v1/timelines/home", headers=reader.headers)
    assert response.status == 200


# Public


async def test_public_timeline_local_and_remote(client, make_member, pool, post):
    alice = await make_member("alice")
    local = await post(alice, "local post")
    await post(alice, "quiet", visibility="unlisted")
    await post(alice, "friends only", visibility="private")
    remote = await remote_status(pool)
    await remote_status(pool, "unlisted afar", visibility="unlisted")
    public = "/api/v1/timelines/public"

    assert await ids(client, public) == [remote, local]
    assert await ids(client, public, local="true") == [local]
    assert await ids(client, public, remote="true") == [remote]
    assert await ids(client, public, local="true", remote="true") == [remote, local]
    assert await ids(client, public, only_media="true") == []


async def test_public_timeline_leaves_out_replies_to_others_and_boosts(
    client, make_member, pool, post
):
    alice, bob = await members(make_member, "alice", "bob")
    thread = await post(alice, "a thread")
    self_reply = await post(alice, "continued", in_reply_to_id=int(thread))
    await post(bob, "a reply", in_reply_to_id=int(thread))
    app = client.server.app
    await reblog(app[POOL], app[URLS], Actor.member(bob.account_id), int(thread))

    assert await ids(client, "/api/v1/timelines/public") == [self_reply, thread]


async def test_anonymous_public_timeline_leaves_out_local_only(client, make_member, post):
    alice = await make_member("alice")
    everyone = await post(alice, "for everyone")
    members = await post(alice, "for members", local_only=True)

    assert await ids(client, "/api/v1/timelines/public") == [everyone]
    assert await ids(client, "/api/v1/timelines/public", alice) == [members, everyone]


async def test_public_timeline_hides_blocked_muted_and_suspended(client, make_member, pool, post):
    alice, muted, blocker, suspended, fine = await members(
        make_member, "alice", "muted", "blocker", "suspended", "fine"
    )
    for author in (muted, blocker, suspended):
        await post(author, "hidden")
    shown = await post(fine, "shown")
    await pool.execute(
        "INSERT INTO mutes (account_id, target_account_id) VALUES ($1, $2)",
        alice.account_id,
        muted.account_id,
    )
    await pool.execute(
        "INSERT INTO blocks (account_id, target_account_id) VALUES ($1, $2)",
        blocker.account_id,
        alice.account_id,
    )
    await pool.execute(
        "UPDATE accounts SET suspended_at = now() WHERE id = $1", suspended.account_id
    )

    assert await ids(client, "/api/v1/timelines/public", alice) == [shown]
    assert len(await ids(client, "/api/v1/timelines/public")) == 3


async def test_public_timeline_pagination_and_scope(client, make_member, post):
    alice = await make_member("alice")
    posted = [await post(alice, f"number {n}") for n in range(4)]
    public = "/api/v1/timelines/public"
    assert await ids(client, public, limit=1, max_id=posted[2]) == [posted[1]]
    assert await ids(client, public, min_id=posted[0], limit=2) == [posted[2], posted[1]]

    writer = await make_member("writer", scopes=("write",))
    response = await client.get(public, headers=writer.headers)
    assert response.status == 403
    response = await client.get(public, headers={"Authorization": "Bearer nonsense"})
    assert response.status == 401


# Hashtags


async def test_tag_timeline_is_case_insensitive(client, make_member, pool, post):
    alice = await make_member("alice")
    upper = await post(alice, "I love #Cats")
    lower = await post(alice, "#cats rule")
    await post(alice, "#cats quietly", visibility="unlisted")
    await post(alice, "#dogs too")
    remote = await remote_status(pool, "from afar #CATS")

    assert await ids(client, "/api/v1/timelines/tag/cats") == [remote, lower, upper]
    assert await ids(client, "/api/v1/timelines/tag/CATS", local="true") == [lower, upper]
    assert await ids(client, "/api/v1/timelines/tag/Cats", remote="true") == [remote]
    assert await ids(client, "/api/v1/timelines/tag/unknown") == []


async def test_tag_timeline_any_all_none(client, make_member, post):
    alice = await make_member("alice")
    cats = await post(alice, "#cats")
    dogs = await post(alice, "#dogs")
    both = await post(alice, "#cats and #dogs")
    birds = await post(alice, "#birds")
    tag = "/api/v1/timelines/tag/cats"

    assert await ids(client, tag, **{"any[]": "dogs"}) == [both, dogs, cats]
    assert await ids(client, f"{tag}?any[]=dogs&any[]=birds&limit=2") == [birds, both]
    assert await ids(client, tag, **{"all[]": "Dogs"}) == [both]
    assert await ids(client, tag, **{"none[]": "dogs"}) == [cats]
    assert await ids(client, tag, **{"all[]": "unknown"}) == []
    assert await ids(client, tag, **{"none[]": "unknown"}) == [both, cats]


async def test_tag_timeline_pagination_and_local_only(client, make_member, post):
    alice = await make_member("alice")
    posted = [await post(alice, f"#news {n}") for n in range(4)]
    members = await post(alice, "#news for members", local_only=True)
    tag = "/api/v1/timelines/tag/news"

    assert await ids(client, tag) == posted[::-1]
    assert await ids(client, tag, alice) == [members, *posted[::-1]]
    statuses, response = await read(client, tag, limit=2, max_id=posted[3])
    assert [s["id"] for s in statuses] == [posted[2], posted[1]]
    assert f'max_id={posted[1]}>; rel="next"' in response.headers["Link"]
    assert await ids(client, tag, min_id=posted[0], limit=2) == [posted[2], posted[1]]
