"""The media API: uploads, describing them, attaching them to posts and edits, serving the files,
and the clean-up job. Real uploads through the real pipeline (Pillow, ffmpeg)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from server.jobs.runner import Worker
from server.jobs.worker import build_registry
from server.state import FEDERATION, POOL
from server.usecases import media_cleanup
from storage.media_files import MediaStore
from tests.api import api

DAY = 24 * 3600


def jpeg(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def form(data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg", **fields):
    body = aiohttp.FormData()
    for name, value in fields.items():
        body.add_field(name, value)
    body.add_field("file", data, filename=filename, content_type=content_type)
    return body


async def upload(client, who, data: bytes | None = None, *, path="/api/v2/media", **fields):
    return await api(client, who, "POST", path, data=form(data or jpeg(), **fields))


def store_of(client) -> MediaStore:
    store = client.server.app[FEDERATION].media
    assert store is not None
    return store


def stored_files(client) -> set[str]:
    root = store_of(client).root
    return {p.name for p in root.iterdir() if p.is_file()} if root.exists() else set()


async def drain(client) -> int:
    app = client.server.app
    return await Worker(app[POOL], build_registry(), app[FEDERATION]).drain()


async def test_an_image_upload_is_processed_described_and_served(client, make_member):
    alice = await make_member("alice")
    entity = await upload(client, alice, description="A red square", focus="0.5,-0.25")
    assert entity["type"] == "image"
    assert entity["description"] == "A red square"
    assert entity["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    assert entity["meta"]["original"]["width"] == 64
    assert entity["blurhash"]
    assert entity["url"].startswith("http://kith.test/media/")

    path = "/media/" + entity["url"].rsplit("/", 1)[1]
    async with client.get(path) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        served = await response.read()
    assert Image.open(io.BytesIO(served)).size == (64, 48)

    changed = await api(
        client,
        alice,
        "PUT",
        f"/api/v1/media/{entity['id']}",
        json={"description": "Alt text", "focus": "-1,1"},
    )
    assert changed["description"] == "Alt text"
    assert changed["meta"]["focus"] == {"x": -1.0, "y": 1.0}
    shown = await api(client, alice, "GET", f"/api/v1/media/{entity['id']}")
    assert shown["description"] == "Alt text"

    # The v1 endpoint answers the same way.
    assert (await upload(client, alice, path="/api/v1/media"))["type"] == "image"


async def test_only_the_owner_sees_or_changes_an_upload(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    entity = await upload(client, alice)
    await api(client, bob, "GET", f"/api/v1/media/{entity['id']}", expect=404)
    await api(
        client, bob, "PUT", f"/api/v1/media/{entity['id']}", json={"description": "x"}, expect=404
    )
    await api(client, None, "POST", "/api/v2/media", data=form(jpeg()), expect=401)


async def test_bad_details_are_refused_and_leave_nothing(client, make_member):
    alice = await make_member("alice")
    pool = client.server.app[POOL]
    error = await api(
        client, alice, "POST", "/api/v2/media", data=form(jpeg(), focus="2,0"), expect=422
    )
    assert "focus" in error["error"]
    error = await api(
        client,
        alice,
        "POST",
        "/api/v2/media",
        data=form(jpeg(), description="x" * 1501),
        expect=422,
    )
    assert "1500" in error["error"]
    error = await api(
        client,
        alice,
        "POST",
        "/api/v2/media",
        data=form(b"just some text, not a picture\n" * 20, filename="holiday.jpg"),
        expect=422,
    )
    assert await pool.fetchval("SELECT count(*) FROM media_attachments") == 0
    assert stored_files(client) == set()
    assert not list((store_of(client).root / "incoming").glob("*"))


@pytest.mark.parametrize(
    "body",
    [
        b"garbage",  # no boundary at all
        b'--XX\r\nContent-Disposition: form-data; name="FIELD"; filename="a.jpg"\r\n\r\n\xff\xd8',
    ],
    ids=["no-boundary", "cut-short"],
)
@pytest.mark.parametrize("path", ["/api/v2/media", "/api/v1/accounts/update_credentials"])
async def test_a_malformed_multipart_body_is_a_400_and_leaves_nothing(
    client, make_member, body: bytes, path: str
):
    alice = await make_member("alice")
    method, field = ("POST", b"file") if path.endswith("media") else ("PATCH", b"avatar")
    body = body.replace(b"FIELD", field)
    headers = {"Content-Type": "multipart/form-data; boundary=XX"}
    error = await api(client, alice, method, path, data=body, headers=headers, expect=400)
    assert "parsing" in error["error"]
    assert await client.server.app[POOL].fetchval("SELECT count(*) FROM media_attachments") == 0
    assert stored_files(client) == set()
    assert not list((store_of(client).root / "incoming").glob("*"))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
async def test_a_video_is_processed_in_the_background(client, make_member, tmp_path: Path):
    alice = await make_member("alice")
    video = tmp_path / "clip.mp4"
    testsrc = "testsrc=size=64x48:rate=10:duration=1"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", testsrc, "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )
    body = form(video.read_bytes(), filename="clip.mp4", content_type="video/mp4")
    queued = await api(client, alice, "POST", "/api/v2/media", data=body, expect=202)
    assert queued["url"] is None
    assert queued["type"] == "video"
    await api(client, alice, "GET", f"/api/v1/media/{queued['id']}", expect=206)
    # Not attachable while processing.
    error = await api(
        client,
        alice,
        "POST",
        "/api/v1/statuses",
        json={"status": "clip", "media_ids": [queued["id"]]},
        expect=422,
    )
    assert error["error"] == (
        "Cannot attach files that have not finished processing. Try again in a moment!"
    )
    assert await drain(client) >= 1
    done = await api(client, alice, "GET", f"/api/v1/media/{queued['id']}")
    assert done["type"] == "video"
    assert done["url"] and done["preview_url"]
    async with client.get("/media/" + done["url"].rsplit("/", 1)[1]) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/mp4"
    # The stored upload is gone: only the processed video and its preview remain.
    assert len(stored_files(client)) == 2
    posted = await api(
        client, alice, "POST", "/api/v1/statuses", json={"status": "", "media_ids": [done["id"]]}
    )
    assert posted["media_attachments"][0]["type"] == "video"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
async def test_a_background_upload_that_fails_says_why(client, make_member):
    alice = await make_member("alice")
    # Declared and named a video, sniffed as an MP4 from its first bytes, but broken after.
    broken = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00garbage" * 100
    body = form(broken, filename="clip.mp4", content_type="video/mp4")
    entity = await api(client, alice, "POST", "/api/v2/media", data=body, expect=202)
    assert len(stored_files(client)) == 1  # the upload, kept for its job
    await drain(client)
    error = await api(client, alice, "GET", f"/api/v1/media/{entity['id']}", expect=422)
    assert error["error"]
    assert stored_files(client) == set()
    error = await api(
        client,
        alice,
        "POST",
        "/api/v1/statuses",
        json={"status": "x", "media_ids": [entity["id"]]},
        expect=422,
    )
    assert error["error"].startswith("Cannot attach files that have not finished processing")


async def test_media_ids_attach_uploads_in_order_with_empty_text(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    first = await upload(client, alice, jpeg(colour=(255, 0, 0)), description="first")
    second = await upload(client, alice, jpeg(colour=(0, 255, 0)))
    posted = await api(
        client,
        alice,
        "POST",
        "/api/v1/statuses",
        json={"status": "", "media_ids": [second["id"], first["id"]], "visibility": "private"},
    )
    assert [m["id"] for m in posted["media_attachments"]] == [second["id"], first["id"]]
    assert posted["media_attachments"][1]["description"] == "first"
    # Attached: no longer editable or fetchable through the media API, as in Mastodon.
    await api(client, alice, "PUT", f"/api/v1/media/{first['id']}", json={}, expect=404)
    shown = await api(client, alice, "GET", f"/api/v1/statuses/{posted['id']}")
    assert [m["url"] for m in shown["media_attachments"]] == [
        second["url"],
        first["url"],
    ]
    # Bob, who may not read the followers-only post, still cannot find it.
    await api(client, bob, "GET", f"/api/v1/statuses/{posted['id']}", expect=404)


async def test_media_ids_rules(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    pool = client.server.app[POOL]
    bobs = await upload(client, bob)
    mine = [await upload(client, alice) for _ in range(5)]

    async def refused(media_ids: list[str]) -> str:
        error = await api(
            client,
            alice,
            "POST",
            "/api/v1/statuses",
            json={"status": "look", "media_ids": media_ids},
            expect=422,
        )
        return error["error"]

    assert await refused([bobs["id"]]) == (
        f"Media {bobs['id']} not found or already attached to another post"
    )
    assert await refused([m["id"] for m in mine]) == "Cannot attach more than 4 files"
    assert await refused(["12345"]) == "Media 12345 not found or already attached to another post"
    assert await pool.fetchval("SELECT count(*) FROM statuses") == 0
    assert (
        await pool.fetchval("SELECT count(*) FROM media_attachments WHERE status_id IS NOT NULL")
        == 0
    )

    await api(
        client,
        alice,
        "POST",
        "/api/v1/statuses",
        json={"status": "a", "media_ids": [mine[0]["id"]]},
    )
    assert await refused([mine[1]["id"], mine[0]["id"]]) == (
        f"Media {mine[0]['id']} not found or already attached to another post"
    )
    assert await pool.fetchval("SELECT count(*) FROM statuses") == 1
    # A status without text or media is still refused.
    error = await api(
        client, alice, "POST", "/api/v1/statuses", json={"status": "", "media_ids": []}, expect=422
    )
    assert error["error"] == "Validation failed: Text can't be blank"


async def test_a_deleted_status_media_can_be_redrafted(client, make_member):
    alice = await make_member("alice")
    photo = await upload(client, alice)
    posted = await api(
        client, alice, "POST", "/api/v1/statuses", json={"status": "a", "media_ids": [photo["id"]]}
    )
    deleted = await api(client, alice, "DELETE", f"/api/v1/statuses/{posted['id']}")
    assert [m["id"] for m in deleted["media_attachments"]] == [photo["id"]]
    again = await api(
        client, alice, "POST", "/api/v1/statuses", json={"status": "b", "media_ids": [photo["id"]]}
    )
    assert [m["id"] for m in again["media_attachments"]] == [photo["id"]]


async def test_edits_add_remove_reorder_and_describe_media(client, make_member):
    alice = await make_member("alice")
    one, two, three = [await upload(client, alice) for _ in range(3)]
    posted = await api(
        client,
        alice,
        "POST",
        "/api/v1/statuses",
        json={"status": "v1", "media_ids": [one["id"], two["id"]]},
    )
    path = f"/api/v1/statuses/{posted['id']}"
    edited = await api(
        client,
        alice,
        "PUT",
        path,
        json={
            "status": "v2",
            "media_ids": [three["id"], one["id"]],
            "media_attributes": [{"id": one["id"], "description": "now described", "focus": "0,1"}],
        },
    )
    assert [m["id"] for m in edited["media_attachments"]] == [three["id"], one["id"]]
    assert edited["media_attachments"][1]["description"] == "now described"
    assert edited["media_attachments"][1]["meta"]["focus"] == {"x": 0.0, "y": 1.0}

    history = await api(client, alice, "GET", f"{path}/history")
    assert [[m["id"] for m in v["media_attachments"]] for v in history] == [
        [one["id"], two["id"]],
        [three["id"], one["id"]],
    ]
    # The removed upload is free again; an edit without media_ids removes them all (Mastodon).
    await api(client, alice, "PUT", f"/api/v1/media/{two['id']}", json={"description": "free"})
    cleared = await api(client, alice, "PUT", path, json={"status": "v3"})
    assert cleared["media_attachments"] == []
    other = await upload(client, await make_member("bob"))
    error = await api(
        client, alice, "PUT", path, json={"status": "v4", "media_ids": [other["id"]]}, expect=422
    )
    assert "not found or already attached" in error["error"]
    assert (await api(client, alice, "GET", path))["content"] == "<p>v3</p>"


async def test_serving_refuses_what_is_not_a_media_file(client, make_member):
    alice = await make_member("alice")
    await upload(client, alice)
    store = store_of(client)
    pending = store.new_name("part")
    store.write(pending, b"an upload waiting for its job")
    for path in (
        f"/media/{pending}",
        "/media/" + store.new_name("jpg"),
        "/media/..%2Fsecret.jpg",
        "/media/nope.jpg",
    ):
        async with client.get(path) as response:
            assert response.status == 404, path
            assert (await response.json())["error"]


async def test_the_clean_up_job_removes_stale_media_and_nothing_else(client, make_member):
    alice = await make_member("alice")
    app = client.server.app
    pool, store = app[POOL], store_of(client)
    kept = await upload(client, alice)
    attached = await upload(client, alice)
    stale = await upload(client, alice)
    of_deleted = await upload(client, alice)
    await api(
        client,
        alice,
        "POST",
        "/api/v1/statuses",
        json={"status": "stays", "media_ids": [attached["id"]]},
    )
    doomed = await api(
        client,
        alice,
        "POST",
        "/api/v1/statuses",
        json={"status": "goes", "media_ids": [of_deleted["id"]]},
    )
    await api(client, alice, "DELETE", f"/api/v1/statuses/{doomed['id']}")
    # Everything is two days old, except `kept`, an upload of an hour ago.
    await pool.execute(
        "UPDATE media_attachments SET created_at = now() - interval '2 days' WHERE id <> $1",
        int(kept["id"]),
    )
    await pool.execute(
        "UPDATE statuses SET deleted_at = now() - interval '2 days' WHERE deleted_at IS NOT NULL"
    )
    names = {
        row["id"]: [row["file_path"], row["preview_path"]]
        for row in await pool.fetch("SELECT id, file_path, preview_path FROM media_attachments")
    }
    orphan = store.new_name("jpg")
    store.write(orphan, jpeg())
    young_orphan = store.new_name("jpg")
    store.write(young_orphan, jpeg())
    avatar = store.new_name("png")
    store.write(avatar, b"an avatar")
    await pool.execute(
        "UPDATE accounts SET avatar_path = $1 WHERE id = $2", avatar, alice.account_id
    )
    two_days_ago = time.time() - 2 * DAY
    for name in stored_files(client) - {young_orphan}:
        os.utime(store.path(name), (two_days_ago, two_days_ago))

    swept = await media_cleanup.sweep(pool, store)

    remaining = {row["id"] for row in await pool.fetch("SELECT id FROM media_attachments")}
    assert remaining == {int(kept["id"]), int(attached["id"])}
    on_disk = stored_files(client)
    for media_id in (kept["id"], attached["id"]):
        assert {n for n in names[int(media_id)] if n} <= on_disk
    for media_id in (stale["id"], of_deleted["id"]):
        assert not {n for n in names[int(media_id)] if n} & on_disk
    assert orphan not in on_disk
    assert {young_orphan, avatar} <= on_disk
    assert swept.rows == 2
    # Served files of what remains still answer.
    async with client.get("/media/" + attached["url"].rsplit("/", 1)[1]) as response:
        assert response.status == 200


async def test_the_clean_up_job_starts_with_the_first_upload_and_keeps_going(client, make_member):
    alice = await make_member("alice")
    pool = client.server.app[POOL]

    async def waiting() -> list[bool]:
        rows = await pool.fetch(
            "SELECT run_at > now() AS later FROM jobs WHERE queue = $1", media_cleanup.QUEUE
        )
        return [row["later"] for row in rows]

    await media_cleanup.ensure_scheduled(pool)  # a worker starting: no media, no job
    assert await waiting() == []
    await upload(client, alice)
    await upload(client, alice)
    await media_cleanup.ensure_scheduled(pool)
    assert await waiting() == [True]  # one run, an interval from now
    await pool.execute("UPDATE jobs SET run_at = now() WHERE queue = $1", media_cleanup.QUEUE)
    assert await drain(client) == 1
    assert await waiting() == [True]  # the run queued the next one


async def test_an_unattached_upload_can_be_deleted_with_its_files(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    pool = client.server.app[POOL]
    loose = await upload(client, alice)
    used = await upload(client, alice)
    await api(client, alice, "POST", "/api/v1/statuses", json={"media_ids": [used["id"]]})
    files_before = stored_files(client)

    await api(client, bob, "DELETE", f"/api/v1/media/{loose['id']}", expect=404)
    error = await api(client, alice, "DELETE", f"/api/v1/media/{used['id']}", expect=422)
    assert error["error"] == "Media attachment is currently used by a status"
    assert await api(client, alice, "DELETE", f"/api/v1/media/{loose['id']}") == {}

    remaining = await pool.fetch("SELECT id FROM media_attachments")
    assert [row["id"] for row in remaining] == [int(used["id"])]
    gone = files_before - stored_files(client)
    assert loose["url"].rsplit("/", 1)[1] in gone
    assert used["url"].rsplit("/", 1)[1] not in gone
    assert len(stored_files(client)) == len(files_before) - 2  # the original and its preview
