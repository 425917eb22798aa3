"""What real apps rely on beyond the documented API (issue 11, "Compatibility"): Rails-style
trailing slashes, native apps' redirect URIs (Ice Cubes' registration and sign-in as it sends
them), how detection-based clients recognise Kith, honest instance entities, and search by a
local post's URL with hashtag history. megalodon itself runs in tests/test_megalodon.py."""

from __future__ import annotations

import asyncio
import importlib.util
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from mastodon import Mastodon

import web as web_package
from server.limits import IMAGE_SIZE_LIMIT, VIDEO_SIZE_LIMIT
from server.state import POOL
from tests.api import api
from tests.test_oauth import PASSWORD, hidden_fields

if TYPE_CHECKING:
    from tests.live_server import LiveServer, Login

pytest_plugins = ["tests.live_server"]

ICE_CUBES_SCHEME = "icecubesapp://"
ICE_CUBES_SCOPES = "read write follow push"


# --- Trailing slashes ------------------------------------------------------------------------


def _report_scenario(url: str, login: Login, target_id: int) -> Any:
    client_id, secret = Mastodon.create_app(
        "Kith compat", scopes=["read", "write"], api_base_url=url
    )
    api_client = Mastodon(client_id=client_id, client_secret=secret, api_base_url=url)
    api_client.log_in(login.email, login.password, scopes=["read", "write"], allow_http=True)
    # Mastodon.py posts this to `/api/v1/reports/`, with the slash.
    return api_client.report(target_id, comment="spam from a compat test", category="spam")


async def test_mastodon_py_report_posts_with_a_trailing_slash(live_server: LiveServer):
    alice = await live_server.create_login("alice")
    bob = await live_server.create_login("bob")
    report = await asyncio.to_thread(_report_scenario, live_server.url, alice, bob.account_id)
    assert str(report.target_account.id) == str(bob.account_id)
    assert report.comment == "spam from a compat test"
    stored = await live_server.app[POOL].fetchval(
        "SELECT count(*) FROM reports WHERE target_account_id = $1", bob.account_id
    )
    assert stored == 1


async def test_a_trailing_slash_reaches_the_same_handler_with_body_and_query(client, make_member):
    alice = await make_member("alice")
    posted = await api(client, alice, "POST", "/api/v1/statuses/", json={"status": "slash"})
    assert posted["content"] == "<p>slash</p>"
    await api(client, alice, "POST", "/api/v1/statuses", json={"status": "later"})
    home = await api(client, alice, "GET", "/api/v1/timelines/home/", params={"limit": "1"})
    assert [status["content"] for status in home] == ["<p>later</p>"]
    nodeinfo = await client.get("/.well-known/nodeinfo/")
    assert nodeinfo.status == 200
    assert "links" in await nodeinfo.json()


@pytest.mark.parametrize(
    "path", ["/api/v1/no_such_thing/", "/api/v1/statuses//", "/oauth/nowhere/", "/@alice/"]
)
async def test_a_trailing_slash_on_an_unknown_path_stays_404(client, make_member, path):
    alice = await make_member("alice")
    resp = await client.get(path, headers=alice.headers)
    assert resp.status == 404


# --- Redirect URIs, and Ice Cubes' sign-in -----------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        ICE_CUBES_SCHEME,
        "org.joinmastodon.android://oauth",
        "com.tapbots.ivory:/",
        "urn:ietf:wg:oauth:2.0:oob",
        "http://127.0.0.1:4000/callback",
    ],
)
async def test_any_absolute_redirect_uri_registers(client, uri):
    app = await api(
        client, None, "POST", "/api/v1/apps", data={"client_name": "A", "redirect_uris": uri}
    )
    assert app["redirect_uris"] == [uri]
    assert app["redirect_uri"] == uri


async def test_several_redirect_uris_separated_by_spaces_and_newlines(client):
    uris = "icecubesapp:// https://a.example/cb\nurn:ietf:wg:oauth:2.0:oob"
    app = await api(
        client, None, "POST", "/api/v1/apps", data={"client_name": "A", "redirect_uris": uris}
    )
    expected = ["icecubesapp://", "https://a.example/cb", "urn:ietf:wg:oauth:2.0:oob"]
    assert app["redirect_uris"] == expected
    assert app["redirect_uri"] == "\n".join(expected)


@pytest.mark.parametrize(
    "uri",
    [
        "callback",
        "/oauth/callback",
        "icecubesapp://#fragment",
        "https://a.example/cb#x",
        "javascript:alert(1)",
        "JavaScript://%0aalert(1)",
        "data:text/html,hi",
        "vbscript:msgbox",
        "1app://cb",
    ],
)
async def test_unsafe_or_relative_redirect_uris_are_refused(client, uri):
    body = await api(
        client,
        None,
        "POST",
        "/api/v1/apps",
        expect=422,
        data={"client_name": "A", "redirect_uris": uri},
    )
    assert "Redirect URI" in body["error"]
    assert await client.server.app[POOL].fetchval("SELECT count(*) FROM oauth_applications") == 0


async def test_ice_cubes_registers_signs_in_and_gets_a_token(client, make_member):
    """The requests Ice Cubes makes (Packages/NetworkClient: Apps.swift, Oauth.swift): a JSON
    registration with snake_case keys, the authorize URL, then a JSON token request."""
    alice = await make_member("alice")
    app = await api(
        client,
        None,
        "POST",
        "/api/v1/apps",
        json={
            "client_name": "IceCubesApp",
            "redirect_uris": ICE_CUBES_SCHEME,
            "scopes": ICE_CUBES_SCOPES,
            "website": "https://github.com/Dimillian/IceCubesApp",
        },
    )
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": ICE_CUBES_SCHEME,
        "scope": ICE_CUBES_SCOPES,
    }
    page = await client.get("/oauth/authorize", params=query)
    assert page.status == 200, await page.text()
    form = {
        **hidden_fields(await page.text()),
        "login": f"{alice.username}@example.org",
        "password": PASSWORD,
        "decision": "approve",
    }
    answer = await client.post("/oauth/authorize", data=form, allow_redirects=False)
    assert answer.status == 302, await answer.text()
    location = urlsplit(answer.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("icecubesapp", "", "")
    code = parse_qs(location.query)["code"][0]
    token = await client.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": ICE_CUBES_SCHEME,
            "code": code,
            "scope": ICE_CUBES_SCOPES,
        },
    )
    assert token.status == 200, await token.text()
    access = (await token.json())["access_token"]
    me = await api(
        client,
        None,
        "GET",
        "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {access}"},
    )
    assert me["username"] == "alice"


async def test_authorize_needs_the_exact_registered_uri(client):
    app = await api(
        client,
        None,
        "POST",
        "/api/v1/apps",
        data={"client_name": "A", "redirect_uris": ICE_CUBES_SCHEME},
    )
    query = {"response_type": "code", "client_id": app["client_id"], "scope": "read"}
    for near_miss in ("icecubesapp://evil", "icecubesapp:/", "ICECUBESAPP://"):
        page = await client.get("/oauth/authorize", params={**query, "redirect_uri": near_miss})
        assert page.status == 400, near_miss


# --- Detection ---------------------------------------------------------------------------------


async def test_nodeinfo_names_kith_and_the_api_it_follows(client):
    for version in ("2.0", "2.1"):
        document = await (await client.get(f"/nodeinfo/{version}")).json()
        assert document["software"]["name"] == "kith"
        assert document["metadata"]["upstream"] == {"name": "mastodon"}


# --- Instance entities ---------------------------------------------------------------------------


async def test_versions_claim_grouped_notifications_only_when_served(client, make_member):
    """Phanpy reads grouped notifications at `api_versions.mastodon` 2, Ice Cubes at a version
    of 4.3: both must say so exactly when `/api/v2/notifications` answers."""
    alice = await make_member("alice")
    instance = await api(client, None, "GET", "/api/v2/instance")
    served = (await client.get("/api/v2/notifications", headers=alice.headers)).status == 200
    assert (instance["api_versions"]["mastodon"] >= 2) == served
    assert instance["api_versions"]["mastodon"] >= 1
    major, minor = (int(part) for part in instance["version"].split(".")[:2])
    assert ((major, minor) >= (4, 3)) == served


def _png_size(path: Path) -> str:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return f"{width}x{height}"


async def test_instance_icon_is_a_served_image_of_the_stated_size(client):
    instance = await api(client, None, "GET", "/api/v2/instance")
    [icon] = instance["icon"]
    path = urlsplit(icon["src"]).path
    assert icon["size"] == _png_size(Path(web_package.__file__).parent / path.removeprefix("/"))
    served = await client.get(path)
    assert (served.status, served.content_type) == (200, "image/png")


async def test_media_limits_follow_what_this_machine_can_process(client, monkeypatch, tmp_path):
    v2 = await api(client, None, "GET", "/api/v2/instance")
    media = v2["configuration"]["media_attachments"]
    assert media["image_size_limit"] == IMAGE_SIZE_LIMIT
    assert {"image/jpeg", "image/png", "image/gif", "image/webp"} <= set(
        media["supported_mime_types"]
    )
    heif = importlib.util.find_spec("pillow_heif") is not None
    assert ("image/heic" in media["supported_mime_types"]) == heif
    assert "video/mp4" in media["supported_mime_types"]  # ffmpeg is installed here
    assert media["video_size_limit"] == VIDEO_SIZE_LIMIT

    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg to be found
    for path in ("/api/v1/instance", "/api/v2/instance"):
        media = (await api(client, None, "GET", path))["configuration"]["media_attachments"]
        assert all(t.startswith("image/") for t in media["supported_mime_types"])
        assert media["video_size_limit"] == media["video_matrix_limit"] == 0


# --- Search --------------------------------------------------------------------------------------


async def _search(client, who, q: str) -> dict[str, Any]:
    return await api(client, who, "GET", "/api/v2/search", params={"q": q})


async def test_search_finds_a_local_status_by_its_page_and_its_id(client, make_member):
    alice = await make_member("alice")
    carol = await make_member("carol")
    status = await api(client, alice, "POST", "/api/v1/statuses", json={"status": "find me"})
    assert status["url"].endswith(f"/@alice/{status['id']}")
    for query in (status["url"], status["uri"]):
        for who in (carol, None):
            found = await _search(client, who, query)
            assert [s["id"] for s in found["statuses"]] == [status["id"]], query
            assert found["statuses"][0]["filtered"] == []


async def test_search_by_url_shows_only_what_the_viewer_may_read(client, make_member):
    alice = await make_member("alice")
    bob = await make_member("bob")
    carol = await make_member("carol")
    await api(client, bob, "POST", f"/api/v1/accounts/{alice.account_id}/follow")
    private = await api(
        client, alice, "POST", "/api/v1/statuses", json={"status": "hi", "visibility": "private"}
    )
    for query in (private["url"], private["uri"]):
        assert [s["id"] for s in (await _search(client, bob, query))["statuses"]] == [private["id"]]
        assert (await _search(client, carol, query))["statuses"] == []
        assert (await _search(client, None, query))["statuses"] == []
    base = private["url"].rsplit("/@", 1)[0]
    for wrong in (
        f"{base}/@bob/{private['id']}",  # another member's page
        f"{base}/@alice/99999999999999999999",  # beyond bigint
        f"{base}/@alice/{private['id']}/extra",
    ):
        assert (await _search(client, alice, wrong))["statuses"] == []


async def test_hashtag_results_carry_id_and_seven_days_of_history(client, make_member):
    alice = await make_member("alice")
    bob = await make_member("bob")
    for who, text, visibility in [
        (alice, "one #Compat", "public"),
        (alice, "two #compat", "unlisted"),
        (bob, "three #compat", "public"),
        (bob, "four #compat", "private"),  # not counted: not public
        (bob, "six #compat", "local"),  # not counted: meant for this community only
    ]:
        await api(
            client, who, "POST", "/api/v1/statuses", json={"status": text, "visibility": visibility}
        )
    gone = await api(client, bob, "POST", "/api/v1/statuses", json={"status": "five #compat"})
    await api(client, bob, "DELETE", f"/api/v1/statuses/{gone['id']}")

    [tag] = (await _search(client, alice, "#compat"))["hashtags"]
    assert tag["id"].isdigit()
    assert tag["name"].lower() == "compat"
    assert tag["url"].endswith(f"/tags/{tag['name']}")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [str(int((today - timedelta(days=n)).timestamp())) for n in range(7)]
    assert [entry["day"] for entry in tag["history"]] == days
    assert tag["history"][0] == {"day": days[0], "uses": "3", "accounts": "2"}
    assert all(entry["uses"] == entry["accounts"] == "0" for entry in tag["history"][1:])
