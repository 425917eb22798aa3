"""Markers (`/api/v1/markers`): each member's reading positions, saved by one app and read by
another, with a version that counts the saves."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mastodon import Mastodon

from tests.api import api

if TYPE_CHECKING:
    from tests.live_server import LiveServer

pytest_plugins = ["tests.live_server"]

PATH = "/api/v1/markers"


async def test_markers_are_saved_per_member_and_counted(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    query = [("timeline[]", "home"), ("timeline[]", "notifications")]
    assert await api(client, alice, "GET", PATH, params=query) == {}

    saved = await api(client, alice, "POST", PATH, json={"home": {"last_read_id": "103"}})
    assert list(saved) == ["home"]
    assert saved["home"]["last_read_id"] == "103" and saved["home"]["version"] == 0

    form = {"home[last_read_id]": "107", "notifications[last_read_id]": "9"}
    saved = await api(client, alice, "POST", PATH, data=form)
    assert saved["home"]["last_read_id"] == "107" and saved["home"]["version"] == 1
    assert saved["notifications"] == {**saved["notifications"], "last_read_id": "9", "version": 0}

    both = await api(client, alice, "GET", PATH, params=query)
    assert both == saved
    only_home = await api(client, alice, "GET", PATH, params={"timeline[]": "home"})
    assert list(only_home) == ["home"]
    assert await api(client, bob, "GET", PATH, params=query) == {}


async def test_markers_refuse_bad_input_and_need_scopes(client, make_member):
    alice = await make_member("alice")
    await api(client, alice, "POST", PATH, json={"home": {"last_read_id": "x"}}, expect=422)
    await api(client, alice, "POST", PATH, json={"home": "103"}, expect=422)
    # Nothing was saved by the refused requests, and unknown timelines are ignored.
    assert await api(client, alice, "GET", PATH, params={"timeline[]": "home"}) == {}
    assert await api(client, alice, "POST", PATH, json={"public": {"last_read_id": "1"}}) == {}
    await api(client, None, "GET", PATH, expect=401)
    reader = await make_member("reader", scopes=("read",))
    await api(client, reader, "POST", PATH, json={"home": {"last_read_id": "1"}}, expect=403)


def _mastodon_py_scenario(url: str, email: str, password: str) -> None:
    client_id, secret = Mastodon.create_app("markers", scopes=["read", "write"], api_base_url=url)
    app = Mastodon(client_id=client_id, client_secret=secret, api_base_url=url)
    app.log_in(email, password, scopes=["read", "write"], allow_http=True)
    app.markers_set(["home", "notifications"], [1234, 56])
    markers = app.markers_get(["home", "notifications"])
    assert str(markers["home"]["last_read_id"]) == "1234"
    assert str(markers["notifications"]["last_read_id"]) == "56"
    assert markers["home"]["version"] == 0


async def test_mastodon_py_sets_and_reads_markers(live_server: LiveServer):
    alice = await live_server.create_login("alice")
    await asyncio.to_thread(_mastodon_py_scenario, live_server.url, alice.email, alice.password)
