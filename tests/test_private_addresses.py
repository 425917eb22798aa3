"""The address guard (`federation/http.py`) against IPv6 forms of private IPv4 addresses.

A hostile server can name, or resolve its host name to, `::ffff:127.0.0.1`, `64:ff9b::7f00:1`
(NAT64), `2002:7f00:1::` (6to4), a Teredo address or `::127.0.0.1`: all of them reach (or are
translated to) loopback. Every fetch path through the guarded session must refuse them, also at
the end of a redirect from a host that looks public.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from federation import remote_accounts
from federation.blocklists.fetch import ListFetchError, fetch_list
from federation.context import Federation
from federation.fetch import FetchError, fetch_json, fetch_object
from federation.http import (
    GuardedResolver,
    PrivateAddressError,
    create_client_session,
    is_public_address,
    refuse_private_literals,
)
from federation.webfinger_client import webfinger
from tests.federation_harness import LoopbackResolver
from tests.remote_server import ACTIVITY_JSON, RemoteServer

# Loopback and private IPv4 addresses in IPv6 clothing.
PRIVATE_FORMS = [
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:0:7f00:1",  # IPv4-translated
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata address
    "64:ff9b::c0a8:101",  # NAT64 of 192.168.1.1
    "64:ff9b:1::808:808",  # local-use NAT64: an operator's own translator, whatever it carries
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
]
PUBLIC_FORMS = [
    "8.8.8.8",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]
# Names a hostile server could point at the private forms.
HOSTS = {f"form{n}.test": address for n, address in enumerate(PRIVATE_FORMS)}


@pytest.mark.parametrize("address", PRIVATE_FORMS)
def test_ipv6_forms_of_private_addresses_are_not_public(address):
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC_FORMS)
def test_public_addresses_stay_public_in_every_form(address):
    assert is_public_address(address)


class FormsResolver(AbstractResolver):
    """What a hostile DNS answers: each of `HOSTS` resolves to its private IPv6 form, on `port`
    (the test server's, so that `::ffff:127.0.0.1` would really reach it)."""

    def __init__(self) -> None:
        self.port = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, Any]]:
        if host not in HOSTS:
            raise OSError(f"unknown test host {host}")
        return [
            {
                "hostname": host,
                "host": HOSTS[host],
                "port": self.port,
                "family": socket.AF_INET6,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


class PublicLookingResolver(AbstractResolver):
    """The harness's test hosts stand for public servers (they are on loopback, which the guard
    would refuse); every other name goes through the real guard, over the hostile answers."""

    def __init__(self, loopback: LoopbackResolver, forms: FormsResolver) -> None:
        self.loopback = loopback
        self.guarded = GuardedResolver(forms)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, Any]]:
        if host in self.loopback.ports:
            return await self.loopback.resolve(host, port, family)
        return await self.guarded.resolve(host, port, family)

    async def close(self) -> None:
        pass


def _caused_by_the_guard(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, PrivateAddressError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@pytest.fixture
async def alpha(network):
    return await network.start("alpha.test")


@pytest.fixture
async def remote(network) -> AsyncIterator[RemoteServer]:
    server = await RemoteServer("remote.test").start(network.resolver)
    yield server
    await server.close()


@pytest.fixture
def forms(remote) -> FormsResolver:
    resolver = FormsResolver()
    resolver.port = remote.server.port
    return resolver


@pytest.fixture
async def production(alpha, forms) -> AsyncIterator[Federation]:
    """A federation context exactly as production builds it, over the hostile resolver."""
    async with create_client_session(
        user_agent="test", allow_private_addresses=False, resolver=forms
    ) as http:
        yield Federation(pool=alpha.pool, urls=alpha.federation.urls, http=http)


@pytest.fixture
async def public_looking(alpha, network, forms) -> AsyncIterator[Federation]:
    """The guard with remote.test taken for a public host, so that it can redirect; plain http
    is allowed so that a request that gets through really reaches the test server."""
    connector = aiohttp.TCPConnector(resolver=PublicLookingResolver(network.resolver, forms))
    async with aiohttp.ClientSession(
        connector=connector, middlewares=(refuse_private_literals,)
    ) as http:
        yield Federation(
            pool=alpha.pool, urls=alpha.federation.urls, http=http, allow_private_addresses=True
        )


def _literal(address: str, port: int, path: str, scheme: str = "https") -> str:
    return f"{scheme}://[{address}]:{port}{path}"


@pytest.mark.parametrize("host", list(HOSTS))
async def test_a_host_resolving_to_a_private_form_is_refused(production, remote, host):
    with pytest.raises(FetchError) as caught:
        await fetch_object(production, f"https://{host}/users/x")
    assert _caused_by_the_guard(caught.value)


@pytest.mark.parametrize("address", PRIVATE_FORMS)
async def test_a_private_form_as_an_ip_literal_is_refused(production, remote, address):
    with pytest.raises(FetchError) as caught:
        await fetch_object(production, _literal(address, remote.server.port, "/users/x"))
    assert _caused_by_the_guard(caught.value)
    # The session refuses it for every caller, deliveries included.
    with pytest.raises(aiohttp.ClientOSError) as caught_post:
        await production.http.post(_literal(address, remote.server.port, "/inbox", "http"))
    assert _caused_by_the_guard(caught_post.value)
    assert remote.seen == []


def _redirect(remote: RemoteServer, path: str, location: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": location})

    remote.routes[path] = handler


def _targets(port: int) -> list[str]:
    """Redirect targets: private forms as literals and as host names, all on the test port."""
    literals = [
        _literal(a, port, "/users/x", "http") for a in ("::ffff:127.0.0.1", "64:ff9b::7f00:1")
    ]
    return [*literals, f"http://form0.test:{port}/users/x", f"http://form4.test:{port}/users/x"]


async def test_the_test_setup_reaches_the_server_through_a_mapped_address(alpha, remote):
    """Without the guard `::ffff:127.0.0.1` reaches the test server: what the guard stops is
    real."""
    remote.fixture_actor("mastodon/objects/person.json")
    url = _literal("::ffff:127.0.0.1", remote.server.port, "/users/mastodon", "http")
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
    assert remote.requests_to("/users/mastodon")


@pytest.mark.parametrize("index", range(4))
async def test_a_redirect_to_a_private_form_is_refused(public_looking, remote, index):
    target = _targets(remote.server.port)[index]
    remote.serve("/users/x", {"id": target, "type": "Person"}, content_type=ACTIVITY_JSON)
    _redirect(remote, "/moved", target)

    with pytest.raises(FetchError) as caught:
        await fetch_json(public_looking, "http://remote.test/moved")
    assert _caused_by_the_guard(caught.value)
    assert [seen.path_qs for seen in remote.seen] == ["/moved"]


async def test_an_actor_on_a_private_form_is_not_resolved(public_looking, remote):
    remote.fixture_actor("mastodon/objects/person.json")
    port = remote.server.port
    with pytest.raises(FetchError) as caught:
        await remote_accounts.resolve_actor(
            public_looking, f"http://form0.test:{port}/users/mastodon"
        )
    assert _caused_by_the_guard(caught.value)
    assert remote.seen == []


async def test_a_key_on_a_private_form_is_not_fetched(public_looking, remote):
    remote.fixture_actor("mastodon/objects/person.json")
    port = remote.server.port
    for key_id in (
        f"http://form0.test:{port}/users/mastodon#main-key",
        _literal("::ffff:127.0.0.1", port, "/users/mastodon#main-key", "http"),
    ):
        assert await remote_accounts.load_key(public_looking, key_id, False) is None
    _redirect(remote, "/key", f"http://form0.test:{port}/users/mastodon")
    assert await remote_accounts.load_key(public_looking, "http://remote.test/key", False) is None
    assert [seen.path_qs for seen in remote.seen] == ["/key"]


async def test_webfinger_on_a_private_form_is_refused(production, remote):
    with pytest.raises(FetchError) as caught:
        await webfinger(production, "x", "form4.test")
    assert _caused_by_the_guard(caught.value)


async def test_a_block_list_on_a_private_form_is_not_fetched(public_looking, remote):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="evil.example\n", content_type="text/plain")

    remote.routes["/list.txt"] = handler
    port = remote.server.port
    urls = [
        _literal("::ffff:127.0.0.1", port, "/list.txt", "http"),
        f"http://form0.test:{port}/list.txt",
        "http://remote.test/to-list",
    ]
    _redirect(remote, "/to-list", urls[0])
    for url in urls:
        with pytest.raises(ListFetchError) as caught:
            await fetch_list(public_looking, url)
        assert _caused_by_the_guard(caught.value)
    assert [seen.path_qs for seen in remote.seen] == ["/to-list"]
