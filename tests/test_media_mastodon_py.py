"""Mastodon.py 2.3 posting a photo to a real Kith server: the photo carried GPS coordinates in
its EXIF; the file Kith serves has no EXIF at all. Then the alt text is changed through a status
edit (`media_attributes`), as Mastodon.py does it."""

from __future__ import annotations

import asyncio
import io
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from mastodon import Mastodon
from PIL import ExifTags, Image

if TYPE_CHECKING:
    from tests.live_server import LiveServer, Login

pytest_plugins = ["tests.live_server"]

SCOPES = ["read", "write"]


def photo_with_gps(path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "GPS-CAMERA"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    Image.new("RGB", (160, 120), (40, 160, 90)).save(path, format="JPEG", exif=exif.tobytes())
    with Image.open(path) as check:  # the sample really carries what the test says it does
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)


def _scenario(url: str, login: Login, photo: Path) -> None:
    client_id, client_secret = Mastodon.create_app("Kith media", scopes=SCOPES, api_base_url=url)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=url)
    api.log_in(login.email, login.password, scopes=SCOPES, allow_http=True)

    media = api.media_post(str(photo), mime_type="image/jpeg", description="A field", focus=(0, 1))
    assert media.type == "image"
    assert media.description == "A field"
    status = api.status_post("Where was this taken?", media_ids=[media])
    [attached] = status.media_attachments
    assert str(attached.id) == str(media.id)

    with urllib.request.urlopen(attached.url) as response:
        assert response.headers["Content-Type"] == "image/jpeg"
        served = response.read()
    with Image.open(io.BytesIO(served)) as image:
        assert image.size == (160, 120)
        assert not image.getexif()
        assert "exif" not in image.info
    assert b"Exif" not in served and b"GPS-CAMERA" not in served

    edited = api.status_update(
        status,
        "Where was this taken? Somewhere green.",
        media_attributes=[api.generate_media_edit_attributes(media, description="A green field")],
    )
    assert [m.description for m in edited.media_attachments] == ["A green field"]
    history = api.status_history(status)
    assert [[m.description for m in v.media_attachments] for v in history] == [
        ["A green field"],  # the row is shared: earlier versions show its current alt text
        ["A green field"],
    ]


async def test_mastodon_py_posts_a_photo_without_its_gps_position(
    live_server: LiveServer, tmp_path: Path
):
    photo = tmp_path / "field.jpg"
    photo_with_gps(photo)
    alice = await live_server.create_login("alice")
    await asyncio.to_thread(_scenario, live_server.url, alice, photo)
