"""Discovery: WebFinger, host-meta and NodeInfo."""

from __future__ import annotations

import pytest

from federation.fetch import fetch_object
from federation.version import KITH_VERSION
from federation.webfinger_client import webfinger
from server.state import POOL, URLS
from server.usecases.accounts import create_local_account
from server.usecases.statuses import create_status


async def _json(response, status: int = 200):
    assert response.status == status, await response.text()
    return await response.json(content_type=None)


async def _set(client, key: str, value) -> None:
    await client.server.app[POOL].execute(
        "INSERT INTO instance_settings (key, value) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        key,
        value,
    )


@pytest.mark.parametrize(
    "resource",
    [
        "acct:alice@kith.test",
        "acct:Alice@KITH.test",
        "alice@kith.test",
        "http://kith.test/users/alice",
        "http://kith.test/@alice",
    ],
)
async def test_webfinger_finds_a_member(client, make_member, resource):
    await make_member("alice")
    response = await client.get("/.well-known/webfinger", params={"resource": resource})
    assert response.headers["Content-Type"] == "application/jrd+json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    jrd = await _json(response)
    assert jrd["subject"] == "acct:alice@kith.test"
    assert jrd["aliases"] == ["http://kith.test/@alice", "http://kith.test/users/alice"]
    links = {link["rel"]: link for link in jrd["links"]}
    assert links["self"] == {
        "rel": "self",
        "type": "application/activity+json",
        "href": "http://kith.test/users/alice",
    }
    assert links["http://webfinger.net/rel/profile-page"]["href"] == "http://kith.test/@alice"
    assert links["http://webfinger.net/rel/profile-page"]["type"] == "text/html"


@pytest.mark.parametrize("resource", ["acct:kith.test@kith.test", "http://kith.test/actor"])
async def test_webfinger_finds_the_instance_actor(client, resource):
    jrd = await _json(await client.get("/.well-known/webfinger", params={"resource": resource}))
    assert jrd["subject"] == "acct:kith.test@kith.test"
    self_link = next(link for link in jrd["links"] if link["rel"] == "self")
    assert self_link["href"] == "http://kith.test/actor"


@pytest.mark.parametrize(
    "resource",
    [
        "acct:nobody@kith.test",
        "acct:alice@elsewhere.test",
        "https://elsewhere.test/users/alice",
        "http://kith.test/users/alice/outbox",
        "http://kith.test/users/",
    ],
)
async def test_webfinger_unknown_resource_is_404(client, make_member, resource):
    await make_member("alice")
    response = await client.get("/.well-known/webfinger", params={"resource": resource})
    assert (await _json(response, 404))["error"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?resource=",
        "?resource=acct:alice",
        "?resource=acct:@kith.test",
        "?resource=acct:a%00@kith.test",
    ],
)
async def test_webfinger_malformed_resource_is_400(client, query):
    response = await client.get(f"/.well-known/webfinger{query}")
    assert (await _json(response, 400))["error"]


async def test_webfinger_hides_unapproved_members(client, make_member):
    alice = await make_member("alice")
    await client.server.app[POOL].execute(
        "UPDATE users SET approved = false WHERE id = $1", alice.user_id
    )
    response = await client.get("/.well-known/webfinger?resource=acct:alice@kith.test")
    assert response.status == 404


async def test_host_meta(client):
    response = await client.get("/.well-known/host-meta")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/xrd+xml")
    body = await response.text()
    assert 'xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"' in body
    assert (
        '<Link rel="lrdd" template="http://kith.test/.well-known/webfinger?resource={uri}"/>'
        in body
    )
    data = await _json(await client.get("/.well-known/host-meta.json"))
    assert data == {
        "links": [
            {"rel": "lrdd", "template": "http://kith.test/.well-known/webfinger?resource={uri}"}
        ]
    }


async def test_nodeinfo_discovery(client):
    data = await _json(await client.get("/.well-known/nodeinfo"))
    assert data["links"] == [
        {
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
            "href": "http://kith.test/nodeinfo/2.0",
        },
        {
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
            "href": "http://kith.test/nodeinfo/2.1",
        },
    ]


@pytest.mark.parametrize("version", ["2.0", "2.1"])
async def test_nodeinfo_document(client, make_member, version):
    app = client.server.app
    alice = await make_member("alice")
    await make_member("bob")
    for visibility in ("public", "private"):
        await create_status(
            app[POOL], app[URLS], author_id=alice.account_id, text="hi", visibility=visibility
        )
    response = await client.get(f"/nodeinfo/{version}")
    assert response.headers["Content-Type"] == (
        f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
    )
    data = await _json(response)
    assert data["version"] == version
    assert data["software"] == {"name": "kith", "version": KITH_VERSION}
    assert data["protocols"] == ["activitypub"]
    assert data["services"] == {"outbound": [], "inbound": []}
    # Both members hold tokens made just now, and alice posted: all active.
    assert data["usage"] == {
        "users": {"total": 2, "activeMonth": 2, "activeHalfyear": 2},
        "localPosts": 2,
    }
    assert data["openRegistrations"] is True
    assert data["metadata"] == {"nodeName": "Kith", "upstream": {"name": "mastodon"}}


async def test_nodeinfo_follows_instance_settings(client):
    await _set(client, "registrations_mode", "closed")
    await _set(client, "title", "Quiet Garden")
    data = await _json(await client.get("/nodeinfo/2.1"))
    assert data["openRegistrations"] is False
    assert data["metadata"]["nodeName"] == "Quiet Garden"
    assert data["usage"]["users"]["total"] == 0


async def test_nodeinfo_unknown_version_is_404(client):
    assert (await client.get("/nodeinfo/1.0")).status == 404


async def test_another_instance_discovers_and_fetches_a_member(network):
    """Over loopback, as a peer would: WebFinger, then a signed fetch of the actor and a note."""
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    urls = alpha.federation.urls
    user = await create_local_account(
        alpha.pool, urls, username="alice", email="alice@example.org", password="long enough pw"
    )
    status = await create_status(alpha.pool, urls, author_id=user["account_id"], text="hello")

    actor_uri = await webfinger(beta.federation, "alice", "alpha.test")
    assert actor_uri == "http://alpha.test/users/alice"
    actor = await fetch_object(beta.federation, actor_uri)
    assert actor["preferredUsername"] == "alice"
    note = await fetch_object(beta.federation, status["uri"])
    assert note["type"] == "Note"
    assert note["content"] == "<p>hello</p>"
