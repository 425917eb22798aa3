"""Mastodon.py 2.3 against a real Kith server on a TCP port.

Mastodon.py is synchronous, so each scenario runs in a thread while the server answers on the
test's event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mastodon import Mastodon

if TYPE_CHECKING:
    from tests.live_server import LiveServer, Login

pytest_plugins = ["tests.live_server"]

SCOPES = ["read", "write", "follow"]


def _register(url: str) -> tuple[str, str]:
    return Mastodon.create_app("Kith interop", scopes=SCOPES, api_base_url=url)


def _sign_in(url: str, app: tuple[str, str], login: Login) -> Mastodon:
    client_id, client_secret = app
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=url)
    # Kith's OAuth metadata lists http:// endpoints on a test server.
    api.log_in(login.email, login.password, scopes=SCOPES, allow_http=True)
    return api


def _version_scenario(url: str, login: Login) -> None:
    api = _sign_in(url, _register(url), login)
    assert api.retrieve_mastodon_version() == "4.2.0"
    assert api.verify_minimum_version("4.2.0", cached=True)
    assert api.mastodon_api_version == 1
    v1 = api.instance_v1()
    assert v1.uri == url.removeprefix("http://")
    v2 = api.instance_v2()
    assert v2.domain == v1.uri
    assert v2.configuration.statuses.max_characters == 500
    assert api.instance_rules() == []
    assert api.me().username == login.username


async def test_login_detects_the_mastodon_version(live_server: LiveServer):
    alice = await live_server.create_login("alice")
    await asyncio.to_thread(_version_scenario, live_server.url, alice)


def _social_scenario(url: str, alice_login: Login, bob_login: Login) -> None:
    app = _register(url)
    alice = _sign_in(url, app, alice_login)
    bob = _sign_in(url, app, bob_login)
    bob_id = str(bob_login.account_id)

    relationship = alice.account_follow(bob_id)
    assert relationship.following is True

    bob_status = bob.status_post("Hello from bob via Mastodon.py")
    assert "Hello from bob" in bob_status.content
    alice_status = alice.status_post("Hello from alice via Mastodon.py")

    home = alice.timeline_home()
    assert {str(alice_status.id), str(bob_status.id)} <= {str(s.id) for s in home}
    public = alice.timeline_public()
    assert {str(alice_status.id), str(bob_status.id)} <= {str(s.id) for s in public}

    favourited = alice.status_favourite(bob_status.id)
    assert favourited.favourited is True
    assert favourited.favourites_count == 1

    notifications = bob.notifications()
    seen = {(n.type, str(n.account.id)) for n in notifications}
    alice_id = str(alice_login.account_id)
    assert ("follow", alice_id) in seen
    assert ("favourite", alice_id) in seen
    favourite = next(n for n in notifications if n.type == "favourite")
    assert str(favourite.status.id) == str(bob_status.id)


async def test_post_follow_favourite_and_notifications(live_server: LiveServer):
    alice = await live_server.create_login("alice")
    bob = await live_server.create_login("bob")
    await asyncio.to_thread(_social_scenario, live_server.url, alice, bob)
