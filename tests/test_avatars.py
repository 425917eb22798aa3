"""Avatars and headers: uploaded through `update_credentials` (multipart, streamed to disk),
processed (cropped, metadata removed), served under /media/, named in the actor document, and
sent to remote followers in the profile's Update."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import aiohttp
from PIL import Image

from server.entities.accounts import DEFAULT_AVATAR, DEFAULT_HEADER
from server.limits import AVATAR_SIZE_LIMIT
from server.state import CONFIG, POOL
from tests import media_samples as samples
from tests.api import api
from tests.test_federation_e2e import follow_remote, two_instances

pytest_plugins = ["tests.live_server"]

PATH = "/api/v1/accounts/update_credentials"
PHOTO = samples.jpeg_with_everything(image=samples.picture(3000, 2000))


def form(**fields: str | bytes) -> aiohttp.FormData:
    """A multipart form; bytes values are sent as JPEG files."""
    data = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, bytes):
            data.add_field(name, value, filename=f"{name}.jpg", content_type="image/jpeg")
        else:
            data.add_field(name, value)
    return data


def media_dir(client) -> Path:
    return client.server.app[CONFIG].media_dir


def files_in(directory: Path) -> list[str]:
    """Every file under the media folder (the incoming folder included)."""
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


async def served_image(client, url: str) -> Image.Image:
    """Fetch a media URL from the app; its bytes carry none of the sample's metadata."""
    path = url.removeprefix(client.server.app[CONFIG].base_url)
    async with client.get(path) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        body = await response.read()
    assert samples.SECRET not in body and b"Exif" not in body
    image = Image.open(io.BytesIO(body))
    assert not image.getexif()
    return image


async def image_names(client, account_id: int) -> tuple[str | None, str | None]:
    row = await client.server.app[POOL].fetchrow(
        "SELECT avatar_path, header_path FROM accounts WHERE id = $1", account_id
    )
    return row["avatar_path"], row["header_path"]


async def test_an_avatar_and_header_upload_with_other_fields(client, make_member):
    alice = await make_member("alice")
    account = await api(
        client,
        alice,
        "PATCH",
        PATH,
        data=form(
            avatar=PHOTO,
            header=PHOTO,
            display_name="Alice A.",
            note="hello",
            **{"fields_attributes[0][name]": "site", "fields_attributes[0][value]": "kith"},
        ),
    )
    assert account["display_name"] == "Alice A."
    assert account["source"]["note"] == "hello"
    assert account["fields"][0]["name"] == "site"
    avatar_name, header_name = await image_names(client, alice.account_id)
    assert avatar_name and header_name
    base = client.server.app[CONFIG].base_url
    assert account["avatar"] == account["avatar_static"] == f"{base}/media/{avatar_name}"
    assert account["header"] == account["header_static"] == f"{base}/media/{header_name}"
    assert (await served_image(client, account["avatar"])).size == (400, 400)
    assert (await served_image(client, account["header"])).size == (1500, 500)
    # Only the two processed files are left: the uploads in `incoming/` are gone.
    assert files_in(media_dir(client)) == sorted([avatar_name, header_name])


async def test_a_new_avatar_replaces_and_deletes_the_old_file(client, make_member):
    alice = await make_member("alice")
    await api(client, alice, "PATCH", PATH, data=form(avatar=PHOTO))
    first, _ = await image_names(client, alice.account_id)
    account = await api(client, alice, "PATCH", PATH, data=form(avatar=PHOTO))
    second, _ = await image_names(client, alice.account_id)
    assert second and second != first
    assert account["avatar"].endswith(second)
    assert files_in(media_dir(client)) == [second]
    # A change without a file keeps the avatar.
    account = await api(client, alice, "PATCH", PATH, json={"display_name": "A"})
    assert account["avatar"].endswith(second)


async def test_a_bad_avatar_is_refused_and_changes_nothing(client, make_member):
    alice = await make_member("alice")
    data = form(display_name="Not Applied")
    data.add_field("avatar", b"just text\n" * 50, filename="me.jpg", content_type="image/jpeg")
    body = await api(client, alice, "PATCH", PATH, expect=422, data=data)
    assert "not a supported image" in body["error"]
    account = await api(client, alice, "GET", "/api/v1/accounts/verify_credentials")
    assert account["display_name"] != "Not Applied"
    assert await image_names(client, alice.account_id) == (None, None)
    assert files_in(media_dir(client)) == []


async def test_a_refused_profile_leaves_no_processed_file(client, make_member):
    """The avatar is processed, then the fields are refused inside the transaction."""
    alice = await make_member("alice")
    fields = {f"fields_attributes[{i}][name]": f"f{i}" for i in range(5)}
    body = await api(client, alice, "PATCH", PATH, expect=422, data=form(avatar=PHOTO, **fields))
    assert "Fields are too many" in body["error"]
    assert await image_names(client, alice.account_id) == (None, None)
    assert files_in(media_dir(client)) == []


async def test_an_oversized_avatar_is_refused_naming_the_limit(client, make_member):
    alice = await make_member("alice")
    too_big = PHOTO + b"\x00" * (AVATAR_SIZE_LIMIT + 1 - len(PHOTO))
    body = await api(client, alice, "PATCH", PATH, expect=413, data=form(avatar=too_big))
    assert f"{AVATAR_SIZE_LIMIT // (1024 * 1024)} MB" in body["error"]
    assert files_in(media_dir(client)) == []


async def test_a_file_in_an_unknown_field_is_refused(client, make_member):
    alice = await make_member("alice")
    body = await api(client, alice, "PATCH", PATH, expect=422, data=form(portrait=PHOTO))
    assert "portrait" in body["error"]
    assert files_in(media_dir(client)) == []


async def test_the_actor_names_its_avatar_and_header_with_their_types(client, make_member):
    alice = await make_member("alice")
    account = await api(client, alice, "PATCH", PATH, data=form(avatar=PHOTO, header=PHOTO))
    uri = await client.server.app[POOL].fetchval(
        "SELECT uri FROM accounts WHERE id = $1", alice.account_id
    )
    path = uri.removeprefix(client.server.app[CONFIG].base_url)
    async with client.get(path, headers={"Accept": "application/activity+json"}) as response:
        assert response.status == 200
        actor = await response.json(content_type=None)
    assert actor["icon"] == {"type": "Image", "url": account["avatar"], "mediaType": "image/jpeg"}
    assert actor["image"] == {"type": "Image", "url": account["header"], "mediaType": "image/jpeg"}


async def test_a_new_avatar_reaches_remote_followers(network):
    _, _, alice, bob = await two_instances(network)
    remote_bob = await follow_remote(network, alice, bob)
    updated = await bob.call("PATCH", PATH, data=form(avatar=PHOTO))
    assert "/media/" in updated["avatar"]
    await network.drain()
    seen = await alice.get(f"/api/v1/accounts/{remote_bob['id']}")
    # alpha links bob's new file (or, when it caches remote media, serves its own copy).
    assert seen["avatar"] != remote_bob["avatar"]
    assert seen["avatar"] == updated["avatar"] or seen["avatar"].startswith(
        "http://alpha.test/media/"
    )


def _mastodon_py_scenario(url: str, login, photo: Path) -> str:
    from tests.test_interop_mastodon_py import _register, _sign_in

    api_client = _sign_in(url, _register(url), login)
    account = api_client.account_update_credentials(avatar=str(photo), display_name="Alice")
    assert account.display_name == "Alice"
    return account.avatar


async def test_mastodon_py_sets_an_avatar_that_the_actor_serves(live_server, tmp_path):
    alice = await live_server.create_login("alice")
    photo = tmp_path / "me.jpg"
    photo.write_bytes(PHOTO)
    avatar = await asyncio.to_thread(_mastodon_py_scenario, live_server.url, alice, photo)
    assert avatar.startswith(f"{live_server.url}/media/")
    async with aiohttp.ClientSession() as session:
        actor_url = f"{live_server.url}/users/alice"
        headers = {"Accept": "application/activity+json"}
        async with session.get(actor_url, headers=headers) as response:
            assert response.status == 200
            actor = await response.json(content_type=None)
        assert actor["icon"]["url"] == avatar
        async with session.get(actor["icon"]["url"]) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/jpeg"
            image = Image.open(io.BytesIO(await response.read()))
    assert image.size == (400, 400)
    assert not image.getexif()


async def test_an_avatar_part_without_a_file_name_is_still_a_file(client, make_member):
    alice = await make_member("alice")
    with aiohttp.MultipartWriter("form-data") as body:
        part = body.append(PHOTO, {"Content-Type": "image/jpeg"})
        part.set_content_disposition("form-data", name="avatar")
    assert "filename" not in part.headers["Content-Disposition"]
    account = await api(client, alice, "PATCH", PATH, data=body)
    avatar_name, _ = await image_names(client, alice.account_id)
    assert avatar_name and account["avatar"].endswith(avatar_name)


async def test_removing_the_avatar_brings_back_the_default_and_deletes_the_file(
    client, make_member
):
    alice = await make_member("alice")
    await api(client, alice, "PATCH", PATH, data=form(avatar=PHOTO, header=PHOTO))
    avatar_name, header_name = await image_names(client, alice.account_id)
    account = await api(client, alice, "DELETE", "/api/v1/profile/avatar")
    assert account["avatar"].endswith(DEFAULT_AVATAR)
    assert account["header"].endswith(header_name)
    assert await image_names(client, alice.account_id) == (None, header_name)
    assert files_in(media_dir(client)) == [header_name]
    # Twice is no error.
    await api(client, alice, "DELETE", "/api/v1/profile/avatar")
    account = await api(client, alice, "DELETE", "/api/v1/profile/header")
    assert account["header"].endswith(DEFAULT_HEADER)
    assert files_in(media_dir(client)) == []
    assert avatar_name not in account["avatar"]
