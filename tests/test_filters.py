"""Filters v2: the CRUD API with its validation and scopes, and filters applied to the home and
public timelines, threads, account pages and notifications. Every response is checked against
the schemas."""

from __future__ import annotations

import re
from typing import Any

import pytest

from server.filtering import keyword_pattern
from server.state import POOL, URLS
from server.usecases.actors import Actor
from server.usecases.boosts import reblog
from server.usecases.follows import follow
from server.usecases.statuses import create_status
from tests.api import api
from tests.schemas import assert_matches


@pytest.fixture
def post(client):
    async def make(member, text: str, **options: Any) -> str:
        app = client.server.app
        status = await create_status(
            app[POOL], app[URLS], author_id=member.account_id, text=text, **options
        )
        return str(status["id"])

    return make


async def call(client, method: str, path: str, member, *, expect: int = 200, **body: Any) -> Any:
    """`method` `path` as `member` with `body` as JSON (error bodies are checked by the client)."""
    return await api(client, member, method, path, expect=expect, json=body or None)


async def create_filter(client, member, **body: Any) -> dict[str, Any]:
    data = await call(client, "POST", "/api/v2/filters", member, **body)
    assert_matches("filter", data)
    return data


async def timeline(client, member, path: str = "/api/v1/timelines/home") -> list[dict[str, Any]]:
    data = await call(client, "GET", path, member)
    for status in data:
        assert_matches("status", status)
    return data


# -- the API --------------------------------------------------------------------------------------


async def test_create_show_list_update_and_delete(client, make_member):
    alice = await make_member("alice")
    created = await create_filter(
        client,
        alice,
        title="Cats",
        context=["home", "public"],
        filter_action="hide",
        expires_in=3600,
        keywords_attributes=[{"keyword": "cat"}, {"keyword": "kitten", "whole_word": False}],
    )
    assert (created["title"], created["context"], created["filter_action"]) == (
        "Cats",
        ["home", "public"],
        "hide",
    )
    assert created["expires_at"] is not None
    assert [(k["keyword"], k["whole_word"]) for k in created["keywords"]] == [
        ("cat", True),
        ("kitten", False),
    ]
    assert created["statuses"] == []
    path = f"/api/v2/filters/{created['id']}"
    assert await call(client, "GET", path, alice) == created
    assert await call(client, "GET", "/api/v2/filters", alice) == [created]

    cat, kitten = created["keywords"]
    updated = await call(
        client,
        "PUT",
        path,
        alice,
        title="Felines",
        context=["notifications"],
        expires_in="",
        keywords_attributes=[
            {"id": cat["id"], "_destroy": True},
            {"id": kitten["id"], "keyword": "kitty", "whole_word": True},
            {"keyword": "purr"},
        ],
    )
    assert_matches("filter", updated)
    assert (updated["title"], updated["context"], updated["expires_at"]) == (
        "Felines",
        ["notifications"],
        None,
    )
    assert updated["filter_action"] == "hide"  # not given, so kept
    assert [(k["keyword"], k["whole_word"]) for k in updated["keywords"]] == [
        ("kitty", True),
        ("purr", True),
    ]

    assert await call(client, "DELETE", path, alice) == {}
    await call(client, "GET", path, alice, expect=404)
    assert await call(client, "GET", "/api/v2/filters", alice) == []


async def test_keywords_and_statuses_endpoints(client, make_member, post):
    alice = await make_member("alice")
    status_id = await post(alice, "filter me")
    f = await create_filter(client, alice, title="T", context=["home"])
    base = f"/api/v2/filters/{f['id']}"

    keyword = await call(client, "POST", f"{base}/keywords", alice, keyword="dog")
    assert_matches("filter_keyword", keyword)
    assert keyword["whole_word"] is True
    assert await call(client, "GET", f"{base}/keywords", alice) == [keyword]
    kpath = f"/api/v2/filters/keywords/{keyword['id']}"
    assert await call(client, "GET", kpath, alice) == keyword
    changed = await call(client, "PUT", kpath, alice, whole_word=False)
    assert (changed["keyword"], changed["whole_word"]) == ("dog", False)
    await call(client, "POST", f"{base}/keywords", alice, expect=422)
    assert await call(client, "DELETE", kpath, alice) == {}
    await call(client, "GET", kpath, alice, expect=404)

    filtered = await call(client, "POST", f"{base}/statuses", alice, status_id=status_id)
    assert_matches("filter_status", filtered)
    assert filtered["status_id"] == status_id
    await call(client, "POST", f"{base}/statuses", alice, status_id=status_id, expect=422)
    await call(client, "POST", f"{base}/statuses", alice, status_id="999", expect=404)
    assert await call(client, "GET", f"{base}/statuses", alice) == [filtered]
    spath = f"/api/v2/filters/statuses/{filtered['id']}"
    assert await call(client, "GET", spath, alice) == filtered
    assert (await call(client, "GET", base, alice))["statuses"] == [filtered]
    assert await call(client, "DELETE", spath, alice) == {}
    await call(client, "GET", spath, alice, expect=404)


@pytest.mark.parametrize(
    "body",
    [
        {"context": ["home"]},
        {"title": "", "context": ["home"]},
        {"title": "T"},
        {"title": "T", "context": ["everywhere"]},
        {"title": "T", "context": ["home"], "filter_action": "explode"},
        {"title": "T", "context": ["home"], "keywords_attributes": [{"keyword": ""}]},
        {"title": "T", "context": ["home"], "keywords_attributes": ["cat"]},
    ],
)
async def test_invalid_filters_are_refused(client, make_member, body):
    alice = await make_member("alice")
    await call(client, "POST", "/api/v2/filters", alice, expect=422, **body)
    assert await call(client, "GET", "/api/v2/filters", alice) == []


async def test_others_filters_are_not_found(client, make_member, post):
    alice, bob = await make_member("alice"), await make_member("bob")
    f = await create_filter(
        client, alice, title="T", context=["home"], keywords_attributes=[{"keyword": "x"}]
    )
    status = await call(
        client,
        "POST",
        f"/api/v2/filters/{f['id']}/statuses",
        alice,
        status_id=await post(alice, "s"),
    )
    keyword = f["keywords"][0]
    for method, path in [
        ("GET", f"/api/v2/filters/{f['id']}"),
        ("PUT", f"/api/v2/filters/{f['id']}"),
        ("DELETE", f"/api/v2/filters/{f['id']}"),
        ("GET", f"/api/v2/filters/{f['id']}/keywords"),
        ("POST", f"/api/v2/filters/{f['id']}/statuses"),
        ("GET", f"/api/v2/filters/keywords/{keyword['id']}"),
        ("DELETE", f"/api/v2/filters/keywords/{keyword['id']}"),
        ("GET", f"/api/v2/filters/statuses/{status['id']}"),
        ("DELETE", f"/api/v2/filters/statuses/{status['id']}"),
        ("GET", "/api/v2/filters/not-an-id"),
    ]:
        await call(client, method, path, bob, expect=404, keyword="y", status_id="1")
    assert await call(client, "GET", "/api/v2/filters", bob) == []
    assert await call(client, "GET", f"/api/v2/filters/{f['id']}", alice) == {
        **f,
        "statuses": [status],
    }


async def test_filters_need_a_token_and_the_filters_scopes(client, make_member):
    reader = await make_member("reader", scopes=("read:filters",))
    writer = await make_member("writer", scopes=("write:filters",))
    assert (await client.get("/api/v2/filters")).status == 401
    await call(client, "GET", "/api/v2/filters", reader)
    await call(client, "POST", "/api/v2/filters", reader, expect=403, title="T", context=["home"])
    await call(client, "GET", "/api/v2/filters", writer, expect=403)
    await create_filter(client, writer, title="T", context=["home"])


# -- applying filters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "whole_word", "text", "matches"),
    [
        ("cat", True, "a cat!", True),
        ("cat", True, "concatenate", False),
        ("cat", False, "concatenate", True),
        ("Cat", True, "CAT pictures", True),
        ("#cats", True, "love #cats", True),
        ("a.b", True, "axb", False),
    ],
)
def test_keyword_patterns(keyword, whole_word, text, matches):
    found = re.search(keyword_pattern(keyword, whole_word), text, re.IGNORECASE)
    assert (found is not None) == matches


async def test_home_hides_and_warns(client, make_member, post):
    alice, bob = await make_member("alice"), await make_member("bob")
    pool, urls = client.server.app[POOL], client.server.app[URLS]
    await follow(pool, alice.account_id, bob.account_id)
    hidden = await post(bob, "I love my <b>Cat</b>")
    warned = await post(bob, "spoilers inside", spoiler_text="the butler did it")
    word_part = await post(bob, "concatenate strings")
    plain = await post(bob, "nothing to see")
    boost = await reblog(pool, urls, Actor.member(bob.account_id), int(hidden))
    hide = await create_filter(
        client,
        alice,
        title="No cats",
        context=["home"],
        filter_action="hide",
        keywords_attributes=[{"keyword": "cat", "whole_word": True}],
    )
    warn = await create_filter(
        client,
        alice,
        title="Spoilers",
        context=["home", "public"],
        filter_action="warn",
        keywords_attributes=[{"keyword": "BUTLER"}],
    )

    statuses = await timeline(client, alice)
    assert [s["id"] for s in statuses] == [plain, word_part, warned]
    assert str(boost["id"]) not in [s["id"] for s in statuses]
    results = statuses[2]["filtered"]
    assert results == [
        {
            "filter": {k: v for k, v in warn.items() if k not in ("keywords", "statuses")},
            "keyword_matches": ["butler"],
            "status_matches": None,
        }
    ]
    assert statuses[0]["filtered"] == []

    # Not a whole word any more: "concatenate" is hidden too.
    keyword = hide["keywords"][0]
    await call(client, "PUT", f"/api/v2/filters/keywords/{keyword['id']}", alice, whole_word=False)
    assert [s["id"] for s in await timeline(client, alice)] == [plain, warned]

    # The author's own view has no filters.
    assert hidden in [s["id"] for s in await timeline(client, bob)]


async def test_status_filters_and_boosts(client, make_member, post):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    pool, urls = client.server.app[POOL], client.server.app[URLS]
    await follow(pool, alice.account_id, carol.account_id)
    original = await post(bob, "an ordinary post")
    boost = await reblog(pool, urls, Actor.member(carol.account_id), int(original))
    f = await create_filter(client, alice, title="That one", context=["home"])
    await call(client, "POST", f"/api/v2/filters/{f['id']}/statuses", alice, status_id=original)

    statuses = await timeline(client, alice)
    assert [s["id"] for s in statuses] == [str(boost["id"])]
    assert statuses[0]["filtered"][0]["status_matches"] == [original]
    assert statuses[0]["reblog"]["filtered"] == statuses[0]["filtered"]

    await call(client, "PUT", f"/api/v2/filters/{f['id']}", alice, filter_action="hide")
    assert await timeline(client, alice) == []


async def test_expired_filters_and_other_contexts_are_ignored(client, make_member, post):
    alice, bob = await make_member("alice"), await make_member("bob")
    pool = client.server.app[POOL]
    await follow(pool, alice.account_id, bob.account_id)
    status = await post(bob, "a word about #dogs")
    dogs = [{"keyword": "dogs"}]
    home_only = await create_filter(
        client,
        alice,
        title="Home",
        context=["home"],
        filter_action="hide",
        keywords_attributes=dogs,
    )
    assert await timeline(client, alice) == []
    # A home-only filter leaves the public timeline alone.
    public = await timeline(client, alice, "/api/v1/timelines/public")
    assert [s["id"] for s in public] == [status]
    assert public[0]["filtered"] == []

    await pool.execute(
        "UPDATE filters SET expires_at = now() - interval '1 second' WHERE id = $1",
        int(home_only["id"]),
    )
    assert [s["id"] for s in await timeline(client, alice)] == [status]

    await create_filter(
        client,
        alice,
        title="Public",
        context=["public"],
        filter_action="hide",
        keywords_attributes=dogs,
        expires_in=600,
    )
    assert await timeline(client, alice, "/api/v1/timelines/public") == []
    assert await timeline(client, alice, "/api/v1/timelines/tag/dogs") == []
    # Anonymous readers have no filters.
    response = await client.get("/api/v1/timelines/public")
    assert [s["id"] for s in await response.json()] == [status]


async def test_notifications_are_filtered(client, make_member, post):
    alice, bob = await make_member("alice"), await make_member("bob")
    await post(bob, "@alice look at this spider")
    warned = await post(bob, "@alice a snake, careful")
    await create_filter(
        client,
        alice,
        title="Spiders",
        context=["notifications"],
        filter_action="hide",
        keywords_attributes=[{"keyword": "spider"}],
    )
    await create_filter(
        client,
        alice,
        title="Snakes",
        context=["notifications"],
        keywords_attributes=[{"keyword": "snake"}],
    )
    items = await call(client, "GET", "/api/v1/notifications", alice)
    for item in items:
        assert_matches("notification", item)
    assert [(n["type"], n["status"]["id"]) for n in items] == [("mention", warned)]
    assert items[0]["status"]["filtered"][0]["keyword_matches"] == ["snake"]
    # Notification filters do not touch the home timeline.
    home = await timeline(client, alice)
    assert all(s["filtered"] == [] for s in home)


async def test_thread_context_is_filtered(client, make_member, post):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    root = await post(bob, "a spider story begins")
    spider = await post(carol, "another spider", in_reply_to_id=int(root))
    snake = await post(carol, "a snake, careful", in_reply_to_id=int(root))
    plain = await post(bob, "the end", in_reply_to_id=int(snake))
    await create_filter(
        client,
        alice,
        title="Spiders",
        context=["thread"],
        filter_action="hide",
        keywords_attributes=[{"keyword": "spider"}],
    )
    await create_filter(
        client,
        alice,
        title="Snakes",
        context=["thread"],
        keywords_attributes=[{"keyword": "snake"}],
    )
    # Another context changes nothing here.
    await create_filter(
        client,
        alice,
        title="Ends",
        context=["home"],
        filter_action="hide",
        keywords_attributes=[{"keyword": "end"}],
    )

    context = await call(client, "GET", f"/api/v1/statuses/{plain}/context", alice)
    assert_matches("context", context)
    assert [s["id"] for s in context["ancestors"]] == [snake]
    assert context["ancestors"][0]["filtered"][0]["keyword_matches"] == ["snake"]
    context = await call(client, "GET", f"/api/v1/statuses/{root}/context", alice)
    assert [s["id"] for s in context["descendants"]] == [snake, plain]
    # Others (and anonymous readers) see the whole thread.
    context = await call(client, "GET", f"/api/v1/statuses/{root}/context", bob)
    assert [s["id"] for s in context["descendants"]] == [spider, snake, plain]
    response = await client.get(f"/api/v1/statuses/{plain}/context")
    assert [s["id"] for s in (await response.json())["ancestors"]] == [root, snake]


async def test_account_context_is_filtered(client, make_member, post):
    alice, bob = await make_member("alice"), await make_member("bob")
    cats = await post(bob, "my cat again")
    dogs = await post(bob, "a dog for once")
    plain = await post(bob, "nothing much")
    await create_filter(
        client,
        alice,
        title="No cats",
        context=["account"],
        filter_action="hide",
        keywords_attributes=[{"keyword": "cat"}],
    )
    await create_filter(
        client, alice, title="Dogs", context=["account"], keywords_attributes=[{"keyword": "dog"}]
    )
    await create_filter(
        client,
        alice,
        title="Home",
        context=["home", "thread"],
        filter_action="hide",
        keywords_attributes=[{"keyword": "nothing"}],
    )
    path = f"/api/v1/accounts/{bob.account_id}/statuses"
    statuses = await timeline(client, alice, path)
    assert [s["id"] for s in statuses] == [plain, dogs]
    assert statuses[1]["filtered"][0]["filter"]["title"] == "Dogs"
    assert [s["id"] for s in await timeline(client, bob, path)] == [plain, dogs, cats]
    # A page whose statuses were all hidden still links to the next one.
    response = await client.get(path, params={"limit": 1, "max_id": dogs}, headers=alice.headers)
    assert await response.json() == []
    assert f"max_id={cats}" in response.headers["Link"]
