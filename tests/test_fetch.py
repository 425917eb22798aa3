"""Fetching from other servers: limits, origin check, redirects, signing, the address guard."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from federation import fetch as fetch_module
from federation.context import Federation
from federation.fetch import MAX_BODY_BYTES, FetchError, fetch_json, fetch_object
from federation.http import PrivateAddressError, create_client_session
from federation.keycache import KeyCache
from federation.signatures import verify_request
from federation.webfinger_client import webfinger
from tests.remote_server import ACTIVITY_JSON, RemoteServer

ACTOR_PATH = "/users/mastodon"


@pytest.fixture
async def alpha(network):
    return await network.start("alpha.test")


@pytest.fixture
async def remote(network):
    server = await RemoteServer("remote.test").start(network.resolver)
    yield server
    await server.close()


@pytest.fixture
def actor(remote) -> dict:
    return remote.fixture_actor("mastodon/objects/person.json")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


async def test_fetches_an_object_asking_for_activity_json(alpha, remote, actor):
    doc = await fetch_object(alpha.federation, actor["id"])
    assert doc["inbox"] == "http://remote.test/users/mastodon/inbox"
    (seen,) = remote.requests_to(ACTOR_PATH)
    assert seen.method == "GET"
    assert seen.headers["Accept"].startswith("application/activity+json")


async def test_ld_json_with_profile_is_accepted(alpha, remote, actor):
    remote.serve(
        ACTOR_PATH,
        actor,
        content_type='application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    )
    assert (await fetch_object(alpha.federation, actor["id"]))["id"] == actor["id"]


def _hops(remote: RemoteServer, count: int) -> None:
    """/hop/N redirects to /hop/N-1 ... /hop/0 redirects to the actor."""
    for n in range(count + 1):
        target = f"/hop/{n - 1}" if n else ACTOR_PATH
        status = (301, 302, 303, 307, 308)[n % 5]

        async def handler(request: web.Request, target=target, status=status) -> web.Response:
            return web.Response(status=status, headers={"Location": target})

        remote.routes[f"/hop/{n}"] = handler


async def test_three_redirects_are_followed(alpha, remote, actor):
    _hops(remote, 2)
    doc = await fetch_object(alpha.federation, "http://remote.test/hop/2")
    assert doc["id"] == actor["id"]
    assert [s.path_qs for s in remote.seen] == ["/hop/2", "/hop/1", "/hop/0", ACTOR_PATH]


async def test_a_fourth_redirect_is_refused(alpha, remote, actor):
    _hops(remote, 3)
    with pytest.raises(FetchError, match="redirects"):
        await fetch_object(alpha.federation, "http://remote.test/hop/3")
    assert ACTOR_PATH not in [s.path_qs for s in remote.seen]


async def test_redirect_to_another_host_applies_the_origin_check_to_the_final_url(
    alpha, remote, network, actor
):
    other = await RemoteServer("other.test").start(network.resolver)
    try:
        other.serve("/users/mastodon", actor)  # claims an id on remote.test

        async def handler(request: web.Request) -> web.Response:
            return web.Response(
                status=302, headers={"Location": "http://other.test/users/mastodon"}
            )

        remote.routes["/moved"] = handler
        with pytest.raises(FetchError, match="not on the host"):
            await fetch_object(alpha.federation, "http://remote.test/moved")
    finally:
        await other.close()


async def test_an_id_on_another_host_is_refused(alpha, remote, actor):
    remote.serve("/spoof", {**actor, "id": "http://victim.test/users/mastodon"})
    with pytest.raises(FetchError, match="not on the host"):
        await fetch_object(alpha.federation, "http://remote.test/spoof")
    # fetch_json makes no origin claim, so it returns the document.
    assert (await fetch_json(alpha.federation, "http://remote.test/spoof"))["id"].startswith(
        "http://victim.test/"
    )


async def test_a_document_without_id_is_refused_as_an_object(alpha, remote):
    remote.serve("/anonymous", {"type": "Note"})
    with pytest.raises(FetchError, match="no http"):
        await fetch_object(alpha.federation, "http://remote.test/anonymous")


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_oversized_body_is_refused(alpha, remote, chunked):
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": ACTIVITY_JSON})
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = MAX_BODY_BYTES + 1
        await response.prepare(request)
        await response.write(b'{"id": "' + b"x" * (MAX_BODY_BYTES - 9) + b'"}')
        await response.write_eof()
        return response

    remote.routes["/big"] = handler
    with pytest.raises(FetchError, match="larger than"):
        await fetch_json(alpha.federation, "http://remote.test/big")


@pytest.mark.parametrize("content_type", ["text/html", "application/json", "text/plain"])
async def test_other_content_types_are_refused(alpha, remote, actor, content_type):
    remote.serve(ACTOR_PATH, actor, content_type=content_type)
    with pytest.raises(FetchError, match="content type"):
        await fetch_object(alpha.federation, actor["id"])


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
async def test_a_body_that_is_not_a_json_object_is_refused(alpha, remote, body):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": ACTIVITY_JSON})

    remote.routes["/odd"] = handler
    with pytest.raises(FetchError, match="JSON"):
        await fetch_json(alpha.federation, "http://remote.test/odd")


@pytest.mark.parametrize("status", [410, 404, 500])
async def test_error_statuses_carry_the_status(alpha, remote, status):
    remote.serve("/status", {"error": "x"}, status=status)
    with pytest.raises(FetchError) as caught:
        await fetch_object(alpha.federation, "http://remote.test/status")
    assert caught.value.status == status


async def test_a_slow_server_times_out(alpha, remote, monkeypatch):
    monkeypatch.setattr(fetch_module, "TOTAL_TIMEOUT", 0.3)

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(status=204)

    remote.routes["/slow"] = handler
    with pytest.raises(FetchError, match="timed out"):
        await fetch_json(alpha.federation, "http://remote.test/slow")


@pytest.mark.parametrize("url", ["ftp://remote.test/x", "/users/x", "remote.test/x", "http://"])
async def test_only_http_urls_are_fetched(alpha, url):
    with pytest.raises(FetchError, match="https URLs only"):
        await fetch_json(alpha.federation, url)


@pytest.fixture
async def guarded(alpha, network):
    """A federation context of a production instance: private addresses refused."""
    async with create_client_session(
        user_agent="test", allow_private_addresses=False, resolver=network.resolver
    ) as http:
        yield Federation(pool=alpha.pool, urls=alpha.federation.urls, http=http)


async def test_plain_http_is_refused_in_production(guarded, remote, actor):
    with pytest.raises(FetchError, match="https URLs only"):
        await fetch_object(guarded, actor["id"])
    assert remote.seen == []


async def test_a_host_resolving_to_a_private_address_is_refused(guarded, remote):
    with pytest.raises(FetchError) as caught:
        await fetch_json(guarded, "https://remote.test/users/mastodon")
    assert _caused_by(caught.value, PrivateAddressError)
    assert remote.seen == []


async def test_a_private_ip_literal_is_refused(guarded, remote):
    port = remote.server.port
    with pytest.raises(FetchError) as caught:
        await fetch_json(guarded, f"https://127.0.0.1:{port}/users/mastodon")
    assert _caused_by(caught.value, PrivateAddressError)
    # The session itself refuses it too, for every caller (deliveries included).
    with pytest.raises(aiohttp.ClientOSError) as caught:
        await guarded.http.get(f"http://127.0.0.1:{port}/")
    assert _caused_by(caught.value, PrivateAddressError)
    assert remote.seen == []


async def test_unsigned_fetch_sends_no_signature(alpha, remote, actor):
    await fetch_object(alpha.federation, actor["id"], signed=False)
    (seen,) = remote.requests_to(ACTOR_PATH)
    assert "Signature" not in seen.headers


async def test_webfinger_finds_the_actor(alpha, remote, actor):
    remote.serve_webfinger("mastodon", actor["id"])
    assert await webfinger(alpha.federation, "mastodon", "remote.test") == actor["id"]
    (seen,) = remote.requests_to("/.well-known/webfinger")
    assert seen.path_qs.endswith("resource=acct:mastodon@remote.test")


async def test_webfinger_without_an_activitypub_link_fails(alpha, remote):
    remote.serve(
        "/.well-known/webfinger",
        {"subject": "acct:x@remote.test", "links": [{"rel": "self", "href": "http://x"}]},
        content_type="application/jrd+json",
    )
    with pytest.raises(FetchError, match="no ActivityPub actor"):
        await webfinger(alpha.federation, "x", "remote.test")


@pytest.mark.parametrize("domain", ["remote.test/evil", "user@remote.test", "", "-x.test"])
async def test_webfinger_refuses_what_is_not_a_domain(alpha, domain):
    with pytest.raises(FetchError, match="not a domain"):
        await webfinger(alpha.federation, "x", domain)


async def test_webfinger_of_an_unknown_user_fails_with_its_status(alpha, remote, actor):
    remote.serve_webfinger("mastodon", actor["id"])
    with pytest.raises(FetchError) as caught:
        await webfinger(alpha.federation, "nobody", "remote.test")
    assert caught.value.status == 404


async def _verify(alpha, seen) -> str:
    """The key id that signed `seen`, checked with alpha's instance actor key."""
    actor = await alpha.pool.fetchrow(
        "SELECT uri, public_key_pem FROM accounts WHERE uri = $1", "http://alpha.test/actor"
    )

    async def load_key(key_id: str, refresh: bool) -> tuple[str, str] | None:
        return (actor["uri"], actor["public_key_pem"]) if key_id.startswith(actor["uri"]) else None

    verified = await verify_request(
        seen.method,
        f"http://remote.test{seen.path_qs}",
        seen.headers,
        None,
        keys=KeyCache(),
        load_key=load_key,
    )
    return verified.key_id


async def test_fetches_are_signed_by_the_instance_actor(alpha, remote, actor):
    await fetch_object(alpha.federation, actor["id"])
    (seen,) = remote.requests_to(ACTOR_PATH)
    assert seen.headers["Signature"]
    assert await _verify(alpha, seen) == "http://alpha.test/actor#main-key"


async def test_every_redirect_hop_is_signed_for_its_own_url(alpha, remote, actor):
    _hops(remote, 2)
    await fetch_object(alpha.federation, "http://remote.test/hop/2")
    assert len(remote.seen) == 4
    for seen in remote.seen:
        assert await _verify(alpha, seen) == "http://alpha.test/actor#main-key"
