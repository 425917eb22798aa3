"""`GET /api/v2/search` and the remote side of `GET /api/v1/accounts/lookup`, through a Kith
instance's client API, resolving against a scripted server and a peer Kith instance."""

from __future__ import annotations

import uuid

import pytest

from server.auth import hash_secret
from server.usecases.accounts import create_local_account
from storage import oauth as oauth_store
from storage import tags as tag_store
from tests.remote_server import RemoteServer
from tests.schemas import assert_matches

ACTOR_URI = "http://remote.test/users/mastodon"


@pytest.fixture
async def alpha(network):
    return await network.start("alpha.test")


@pytest.fixture
async def remote(network):
    server = await RemoteServer("remote.test").start(network.resolver)
    doc = server.fixture_actor("mastodon/objects/person.json")
    server.serve_webfinger("mastodon", doc["id"])
    yield server
    await server.close()


async def member(instance, username: str, *, scopes=("read",)) -> dict[str, str]:
    """Create a member of `instance`; return the headers that authenticate as them."""
    user = await create_local_account(
        instance.pool,
        instance.federation.urls,
        username=username,
        email=f"{username}@example.org",
        password="correct horse battery",
    )
    token = uuid.uuid4().hex
    await oauth_store.create_token(
        instance.pool,
        token_hash=hash_secret(token),
        application_id=None,
        user_id=user["id"],
        scopes=list(scopes),
    )
    return {"Authorization": f"Bearer {token}"}


async def search(instance, headers=None, **params):
    params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    response = await instance.client.get("/api/v2/search", params=params, headers=headers)
    return response.status, await response.json()


def assert_search_result(data) -> None:
    assert set(data) == {"accounts", "statuses", "hashtags"}
    for account in data["accounts"]:
        assert_matches("account", account)


# -- lookup -------------------------------------------------------------------------------------


async def test_lookup_resolves_a_remote_account_for_a_member(alpha, remote):
    headers = await member(alpha, "ann")
    response = await alpha.client.get(
        "/api/v1/accounts/lookup", params={"acct": "mastodon@remote.test"}, headers=headers
    )
    assert response.status == 200
    data = await response.json()
    assert_matches("account", data)
    assert (data["acct"], data["uri"], data["display_name"]) == (
        "mastodon@remote.test",
        ACTOR_URI,
        "Mastodon",
    )
    # Anonymous callers now find it too: it is known.
    response = await alpha.client.get(
        "/api/v1/accounts/lookup", params={"acct": "@mastodon@remote.test"}
    )
    assert (await response.json())["id"] == data["id"]


async def test_anonymous_lookup_does_not_contact_other_servers(alpha, remote):
    response = await alpha.client.get(
        "/api/v1/accounts/lookup", params={"acct": "mastodon@remote.test"}
    )
    assert response.status == 404
    assert remote.seen == []


@pytest.mark.parametrize("acct", ["nobody@remote.test", "x@unknown.test", "x@bad/domain"])
async def test_lookup_of_an_unresolvable_account_is_404(alpha, remote, acct):
    headers = await member(alpha, "ann")
    response = await alpha.client.get(
        "/api/v1/accounts/lookup", params={"acct": acct}, headers=headers
    )
    assert (response.status, await response.json()) == (404, {"error": "Record not found"})


# -- search: remote ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["@mastodon@remote.test", "mastodon@remote.test"])
async def test_search_resolves_an_address(alpha, remote, query):
    headers = await member(alpha, "ann")
    status, data = await search(alpha, headers, q=query, resolve=True)
    assert status == 200
    assert_search_result(data)
    assert [a["acct"] for a in data["accounts"]] == ["mastodon@remote.test"]
    assert (data["statuses"], data["hashtags"]) == ([], [])


async def test_search_without_resolve_does_not_fetch(alpha, remote):
    headers = await member(alpha, "ann")
    status, data = await search(alpha, headers, q="@mastodon@remote.test")
    assert (status, data["accounts"]) == (200, [])
    assert remote.seen == []


@pytest.mark.parametrize(
    ("params", "message"),
    [({"resolve": True}, "resolve remote"), ({"offset": 1}, "offset")],
)
async def test_resolving_and_offset_need_a_member(alpha, remote, params, message):
    status, data = await search(alpha, q="@mastodon@remote.test", **params)
    assert status == 401
    assert message in data["error"]
    assert remote.seen == []


async def test_search_resolves_an_actor_url(alpha, remote):
    headers = await member(alpha, "ann")
    _, data = await search(alpha, headers, q=ACTOR_URI)
    assert data["accounts"] == []
    _, data = await search(alpha, headers, q=ACTOR_URI, resolve=True)
    assert [a["uri"] for a in data["accounts"]] == [ACTOR_URI]
    # Known now, also by its profile page, without resolving.
    _, data = await search(alpha, headers, q="http://remote.test/@mastodon")
    assert [a["uri"] for a in data["accounts"]] == [ACTOR_URI]


async def test_search_resolves_a_post_url(alpha, remote):
    headers = await member(alpha, "ann")
    note_uri = ACTOR_URI + "/statuses/1"
    remote.serve(
        "/users/mastodon/statuses/1",
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": note_uri,
            "type": "Note",
            "attributedTo": ACTOR_URI,
            "content": "<p>Hello from afar</p>",
            "published": "2024-01-01T00:00:00Z",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [ACTOR_URI + "/followers"],
        },
    )
    _, data = await search(alpha, headers, q=note_uri)
    assert data["statuses"] == []
    status, data = await search(alpha, headers, q=note_uri, resolve=True)
    assert status == 200
    (post,) = data["statuses"]
    assert_matches("status", post)
    assert (post["uri"], post["content"]) == (note_uri, "<p>Hello from afar</p>")
    assert post["account"]["acct"] == "mastodon@remote.test"
    assert data["accounts"] == []
    # Known now: found without resolving, and not fetched again.
    _, data = await search(alpha, headers, q=note_uri, type="statuses")
    assert [s["uri"] for s in data["statuses"]] == [note_uri]
    assert len(remote.requests_to("/users/mastodon/statuses/1")) == 1
    _, data = await search(alpha, headers, q=note_uri, type="accounts")
    assert data["statuses"] == []


async def test_search_for_a_url_that_is_neither_actor_nor_post_finds_nothing(alpha, remote):
    headers = await member(alpha, "ann")
    remote.serve("/notes/1", {"id": "http://remote.test/notes/1", "type": "Note"})
    for url in ("http://remote.test/notes/1", "http://remote.test/missing"):
        status, data = await search(alpha, headers, q=url, resolve=True)
        assert (status, data) == (200, {"accounts": [], "statuses": [], "hashtags": []})


# -- search: local ----------------------------------------------------------------------------


async def test_search_finds_local_accounts_and_hashtags_by_prefix(alpha):
    headers = await member(alpha, "alice")
    await member(alpha, "alicia")
    await member(alpha, "bob")
    await tag_store.upsert_tags(alpha.pool, ["Kith", "kitten", "dog"])
    status, data = await search(alpha, headers, q="ali")
    assert status == 200
    assert_search_result(data)
    assert [a["acct"] for a in data["accounts"]] == ["alice", "alicia"]
    _, data = await search(alpha, q="alicia")
    assert [a["acct"] for a in data["accounts"]] == ["alicia"]
    _, data = await search(alpha, q="#kit")
    assert [(tag["name"], tag["url"]) for tag in data["hashtags"]] == [
        ("Kith", "http://alpha.test/tags/Kith"),
        ("kitten", "http://alpha.test/tags/kitten"),
    ]


async def test_search_type_and_limit(alpha):
    headers = await member(alpha, "kit1")
    await member(alpha, "kit2")
    await tag_store.upsert_tags(alpha.pool, ["kitten"])
    _, data = await search(alpha, q="kit", type="hashtags")
    assert (len(data["accounts"]), len(data["hashtags"])) == (0, 1)
    _, data = await search(alpha, q="kit", type="accounts", limit=1)
    assert (len(data["accounts"]), len(data["hashtags"])) == (1, 0)
    _, data = await search(alpha, headers, q="kit", type="accounts", limit=1, offset=1)
    assert [a["acct"] for a in data["accounts"]] == ["kit2"]


@pytest.mark.parametrize("query", ["", "   ", "%", "_", "\\"])
async def test_search_with_nothing_to_match_is_empty(alpha, query):
    await member(alpha, "ann")
    status, data = await search(alpha, q=query)
    assert (status, data) == (200, {"accounts": [], "statuses": [], "hashtags": []})


async def test_search_needs_the_read_search_scope(alpha):
    headers = await member(alpha, "ann", scopes=("write",))
    status, _ = await search(alpha, headers, q="ann")
    assert status == 403


# -- between two Kith instances ---------------------------------------------------------------


async def test_search_and_lookup_resolve_a_peer_kith_member(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    await member(beta, "bob")
    headers = await member(alpha, "ann")
    status, data = await search(alpha, headers, q="@bob@beta.test", resolve=True)
    assert status == 200
    assert_search_result(data)
    assert [a["acct"] for a in data["accounts"]] == ["bob@beta.test"]
    response = await alpha.client.get(
        "/api/v1/accounts/lookup", params={"acct": "bob@beta.test"}, headers=headers
    )
    assert (await response.json())["id"] == data["accounts"][0]["id"]

    bob = await member(beta, "bob2", scopes=("read", "write"))
    response = await beta.client.post(
        "/api/v1/statuses", json={"status": "Hello alpha", "visibility": "public"}, headers=bob
    )
    posted = await response.json()
    status, data = await search(alpha, headers, q=posted["uri"], resolve=True)
    assert status == 200
    (post,) = data["statuses"]
    assert_matches("status", post)
    assert (post["uri"], post["account"]["acct"]) == (posted["uri"], "bob2@beta.test")
    assert "Hello alpha" in post["content"]
