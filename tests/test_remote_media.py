"""Remote attachments: every corpus shape shown in the API, `reject_media` on the author's and
on the file's host, and the `remote_media` setting ("link" fetches nothing; "cache" copies each
file here through the safe fetcher and the media pipeline, metadata stripped).

Everything goes through the real signed inbox and the worker; the remote files are served over
real HTTP by the scripted peer (`tests/inbox_peer.py`).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from federation.parse.notes import parse_note
from server.limits import IMAGE_SIZE_LIMIT
from server.usecases import domain_blocks, policies
from tests import media_samples as samples
from tests.api import api
from tests.cli import kith_env, run_kith
from tests.federation_harness import Instance
from tests.inbox_peer import (  # noqa: F401 - fixtures
    PUBLIC,
    Local,
    Peer,
    kith_fixture,
    make_local,
    peer_fixture,
    remote_followed_by,
)
from tests.remote_server import RemoteServer
from tests.test_domain_blocks import admin_of
from tests.test_inbox_fixtures import FIXTURES, move_to_peer
from tests.test_policy_fixtures import deliver, status_of

JPEG = "image/jpeg"


async def attachments_of(kith: Instance, who: Local, status: Any) -> list[dict[str, Any]]:
    """The status's attachments as the client API shows them to `who`."""
    shown = await api(kith.client, who, "GET", f"/api/v1/statuses/{status['id']}")
    return shown["media_attachments"]


async def block_media(kith: Instance, domain: str) -> None:
    await domain_blocks.create_block(
        kith.pool, domain, {"severity": "noop", "reject_media": True}, actor_id=None
    )


# -- every corpus shape ---------------------------------------------------------------------------


async def test_a_mastodon_image_keeps_alt_text_blurhash_focus_and_sizes(kith, peer, network):
    scene, activity, outcome = await deliver(kith, peer, network, "mastodon/objects/note_2.json")
    assert outcome == "ok"
    [shown] = await attachments_of(kith, scene.amy, await status_of(kith, activity))
    url = move_to_peer(
        "https://cdn.masto.host/floss/media_attachments/files/113/306/826/682/985/891/original/"
        "c8d906a2f2ab2334.jpg"
    )
    assert shown["type"] == "image"
    assert shown["url"] == shown["remote_url"] == url
    assert shown["description"].startswith("The KDE dragons Katie and Konqi")
    assert shown["blurhash"] == "USQv:h-W-qI-^,W;RPs=^-R%NZxbo#sDobSc"
    original = shown["meta"]["original"]
    assert (original["width"], original["height"], original["size"]) == (1500, 1095, "1500x1095")
    assert original["aspect"] == pytest.approx(1500 / 1095)
    assert shown["meta"]["focus"] == {"x": 0.0, "y": 0.0}


async def test_a_peertube_video_is_its_playable_mp4_with_its_thumbnail(kith, peer, network):
    scene, activity, outcome = await deliver(kith, peer, network, "peertube/objects/video.json")
    assert outcome == "ok"
    [shown] = await attachments_of(kith, scene.amy, await status_of(kith, activity))
    assert shown["type"] == "video"
    # Of the 1080p, 360p and 144p MP4s (and an HLS playlist, torrents), the 360p one.
    assert shown["remote_url"].endswith("-360-fragmented.mp4")
    assert shown["url"] == shown["remote_url"]
    preview = move_to_peer(
        "https://tilvids.com/lazy-static/previews/ef6088ee-c83a-4fcf-8be2-58db95ca5135.jpg"
    )
    assert shown["preview_url"] == shown["preview_remote_url"] == preview
    assert shown["meta"]["original"]["size"] == "640x360"
    assert shown["meta"]["original"]["duration"] == 1145


LEMMY_IMAGE = "https://enterprise.lemmy.ml/pictrs/image/eOtYb9iEiB.png"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # The post link names the same file as `image`: it is that image.
        ("lemmy/objects/page.json", [("image", LEMMY_IMAGE)]),
        (
            "lemmy/objects/page_image_and_link.json",
            [("image", LEMMY_IMAGE), ("unknown", "https://example.com/some-article")],
        ),
    ],
)
async def test_lemmy_image_and_link_shapes(kith, peer, network, name, expected):
    """Lemmy's `image` is an image; its post link (a Link with no media type) is not media."""
    scene, activity, outcome = await deliver(kith, peer, network, name)
    assert outcome == "ok"
    shown = await attachments_of(kith, scene.amy, await status_of(kith, activity))
    assert [(a["type"], a["remote_url"]) for a in shown] == [
        (kind, move_to_peer(url)) for kind, url in expected
    ]
    assert [a["preview_url"] for a in shown if a["type"] == "unknown"] == [None] * (
        len(expected) - 1
    )


async def test_a_lemmy_link_post_is_a_link_not_media(kith, peer, network):
    name = "lemmy/activities/create_or_update/create_page.json"
    scene, activity, _ = await deliver(kith, peer, network, name)
    [shown] = await attachments_of(kith, scene.amy, await status_of(kith, activity))
    assert shown["type"] == "unknown"
    assert shown["remote_url"] == move_to_peer("https://lemmy.ml/pictrs/image/xl8W7FZfk9.jpg")


async def test_a_mobilizon_event_banner(kith, peer, network):
    scene, activity, _ = await deliver(kith, peer, network, "mobilizon/objects/event.json")
    [shown] = await attachments_of(kith, scene.amy, await status_of(kith, activity))
    assert (shown["type"], shown["description"]) == ("image", "Banner")
    assert shown["remote_url"].startswith("http://rendezvous.nomagic.uk.test/")


@pytest.mark.parametrize(
    "name",
    [
        "friendica/objects/note_1.json",
        "pleroma/activities/create_note.json",
        "mastodon/activities/create_note.json",
    ],
)
async def test_posts_without_media_have_no_attachments(kith, peer, network, name):
    scene, activity, outcome = await deliver(kith, peer, network, name)
    assert outcome == "ok"
    assert await attachments_of(kith, scene.amy, await status_of(kith, activity)) == []


def test_every_corpus_post_with_media_is_covered_above():
    """A new fixture with media must get a test here."""
    covered = {
        "mastodon/objects/note_2.json",
        "peertube/objects/video.json",
        "lemmy/objects/page.json",
        "lemmy/objects/page_image_and_link.json",
        "lemmy/activities/create_or_update/create_page.json",
        "lemmy/activities/create_or_update/update_page.json",  # an edit of create_page
        "mobilizon/objects/event.json",
    }
    with_media = set()
    for path in FIXTURES.rglob("*.json"):
        doc = json.loads(path.read_text())
        post = doc.get("object") if isinstance(doc.get("object"), dict) else doc
        if post.get("type") in ("Note", "Page", "Article", "Video", "Event") and (
            post.get("attachment") or post.get("image") or post.get("type") == "Video"
        ):
            with_media.add(str(path.relative_to(FIXTURES)))
    assert with_media == covered


# -- reject_media ---------------------------------------------------------------------------------


async def test_reject_media_on_the_files_host_drops_the_attachment(kith, peer, network):
    """The author (floss.social) is not blocked; its media host (cdn.masto.host) is."""
    await block_media(kith, "cdn.masto.host.test")
    scene, activity, outcome = await deliver(kith, peer, network, "mastodon/objects/note_2.json")
    assert outcome == "ok"
    status = await status_of(kith, activity)
    assert status is not None
    assert await kith.pool.fetchval("SELECT count(*) FROM media_attachments") == 0
    assert await attachments_of(kith, scene.amy, status) == []


async def test_reject_media_on_the_authors_domain_drops_a_peertube_video(kith, peer, network):
    await block_media(kith, "tilvids.com.test")
    _, activity, outcome = await deliver(kith, peer, network, "peertube/objects/video.json")
    assert outcome == "ok"
    assert await status_of(kith, activity) is not None
    assert await kith.pool.fetchval("SELECT count(*) FROM media_attachments") == 0


async def test_reject_media_on_a_preview_host_keeps_the_file_without_its_preview(kith, peer):
    amy, ana = await follower_of(kith, peer)
    await block_media(kith, "thumbs.test")

    def clip(name: str, thumbnail_host: str) -> dict[str, Any]:
        return {
            "type": "Document",
            "mediaType": "video/mp4",
            "url": f"{peer.base_url}/files/{name}.mp4",
            "icon": {"type": "Image", "url": f"http://{thumbnail_host}/{name}.jpg"},
        }

    status = await receive(kith, peer, ana, [clip("one", "thumbs.test"), clip("two", "ok.test")])
    one, two = await attachments_of(kith, amy, status)
    assert one["remote_url"] == f"{peer.base_url}/files/one.mp4"
    assert one["preview_url"] is None and one["preview_remote_url"] is None
    assert two["preview_url"] == two["preview_remote_url"] == "http://ok.test/two.jpg"


async def test_media_removal_strips_a_peertube_video_but_keeps_its_page_link(kith, peer, network):
    await policies.create_policy(
        kith.pool, "media_removal", {"domains": ["tilvids.com.test"]}, actor_id=None
    )
    _, activity, outcome = await deliver(kith, peer, network, "peertube/objects/video.json")
    assert outcome == "ok"
    status = await status_of(kith, activity)
    assert await kith.pool.fetchval("SELECT count(*) FROM media_attachments") == 0
    page = move_to_peer("https://tilvids.com/videos/watch/e7946124-7b72-4ad7-9d22-844a84bb2de1")
    assert page in status["content"]


async def test_media_nsfw_marks_a_peertube_video_sensitive(kith, peer, network):
    await policies.create_policy(
        kith.pool, "media_nsfw", {"domains": ["tilvids.com.test"]}, actor_id=None
    )
    _, activity, _ = await deliver(kith, peer, network, "peertube/objects/video.json")
    status = await status_of(kith, activity)
    assert status["sensitive"] is True
    assert await kith.pool.fetchval("SELECT count(*) FROM media_attachments") == 1


# -- remote_media: link and cache -----------------------------------------------------------------


async def follower_of(kith: Instance, peer: Peer) -> tuple[Local, str]:
    """Member amy, following the peer's actor ana (so ana's posts are kept)."""
    amy = await make_local(kith, f"amy{uuid.uuid4().hex[:6]}")
    await remote_followed_by(kith, peer, amy)
    return amy, peer.actor()


async def receive(
    kith: Instance,
    peer: Peer,
    actor: str,
    attachments: list[dict[str, Any]],
    *,
    edit_of: Any = None,
) -> Any:
    """Deliver a public Note by `actor` with `attachments` (an Update of status `edit_of`'s
    post when given), run the queue; the stored status."""
    note = {
        "id": edit_of["uri"] if edit_of is not None else f"{actor}/notes/{uuid.uuid4()}",
        "type": "Note",
        "attributedTo": actor,
        "content": "<p>look</p>" if edit_of is None else "<p>look again</p>",
        "to": [PUBLIC],
        "attachment": attachments,
    }
    kind = "Create" if edit_of is None else "Update"
    status, body = await peer.deliver(kith, peer.activity(kind, note, actor=actor))
    assert status == 202, body
    await kith.drain()
    return await kith.pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", note["id"])


def photo(peer: Peer, path: str = "/files/photo.jpg") -> dict[str, Any]:
    return {
        "type": "Document",
        "mediaType": JPEG,
        "url": f"{peer.base_url}{path}",
        "name": "a red corner on blue",
        "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
    }


def serve_file(peer: Peer, path: str, body: bytes, content_type: str = JPEG) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": content_type})

    peer.server.routes[path] = handler


def stored_files(kith: Instance) -> list[str]:
    root = kith.federation.media.root  # type: ignore[union-attr]
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def cache_remote_media(kith: Instance) -> None:
    """Switch the setting through the admin API, as an admin would."""
    root = await admin_of(kith)
    changed = await root.call("PUT", "/api/v1/admin/federation", json={"remote_media": "cache"})
    assert changed["remote_media"] == "cache"


async def test_with_link_nothing_is_fetched(kith, peer):
    amy, ana = await follower_of(kith, peer)
    serve_file(peer, "/files/photo.jpg", samples.jpeg_with_everything())
    status = await receive(kith, peer, ana, [photo(peer)])
    [shown] = await attachments_of(kith, amy, status)
    assert shown["url"] == shown["remote_url"] == f"{peer.base_url}/files/photo.jpg"
    assert peer.server.requests_to("/files/photo.jpg") == []
    assert stored_files(kith) == []


async def test_with_cache_the_served_copy_has_no_gps_and_keeps_the_remote_details(kith, peer):
    await cache_remote_media(kith)
    amy, ana = await follower_of(kith, peer)
    original = samples.jpeg_with_everything()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # it has a position
    serve_file(peer, "/files/photo.jpg", original)

    status = await receive(kith, peer, ana, [photo(peer)])

    assert len(peer.server.requests_to("/files/photo.jpg")) == 1
    [shown] = await attachments_of(kith, amy, status)
    assert shown["remote_url"] == f"{peer.base_url}/files/photo.jpg"
    assert shown["url"].startswith(f"{kith.base_url}/media/")
    assert shown["preview_url"].startswith(f"{kith.base_url}/media/")
    assert shown["description"] == "a red corner on blue"
    assert shown["meta"]["original"]["width"] == 300
    for url in (shown["url"], shown["preview_url"]):
        async with kith.client.get(url.removeprefix(kith.base_url)) as response:
            assert response.status == 200
            served = await response.read()
        assert samples.SECRET not in served
        image = Image.open(io.BytesIO(served))
        assert not image.getexif().get_ifd(0x8825)
        assert not image.getexif()
    assert [n for n in stored_files(kith) if n.startswith("incoming/")] == []


async def test_the_cli_switches_remote_media(tmp_path, db_dsn):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    code, out, err = await run_kith("federation", "remote-media", "cache", env=env)
    assert code == 0, err
    assert "remote media: cache" in out.splitlines()
    code, out, err = await run_kith("federation", "remote-media", "sometimes", env=env)
    assert code != 0 and "invalid choice" in err


async def test_a_bad_remote_media_value_is_422(kith):
    root = await admin_of(kith)
    before = await root.get("/api/v1/admin/federation")
    refused = await root.call(
        "PUT", "/api/v1/admin/federation", expect=422, json={"remote_media": "copy"}
    )
    assert refused == {"error": "Validation failed: Remote media must be one of link, cache"}
    assert await root.get("/api/v1/admin/federation") == before


def too_large(*, declared: bool, sent: list[bool]) -> Callable[[web.Request], Any]:
    """A JPEG, then 64 MB more than the image limit allows, with or without a Content-Length;
    `sent` gets True if the whole body could be sent (nobody stopped reading)."""
    chunk = b"\0" * (1024 * 1024)
    head = samples.jpeg_with_everything()
    chunks = IMAGE_SIZE_LIMIT // len(chunk) + 64

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": JPEG})
        if declared:
            response.content_length = len(head) + chunks * len(chunk)
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        complete = False
        try:  # a reader that stops makes a write fail, or the handler be cancelled
            await response.write(head)
            for _ in range(chunks):
                await response.write(chunk)
            complete = True
        finally:
            sent.append(complete)
        return response

    return handler


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_file_stays_linked_and_leaves_nothing_on_disk(kith, peer, declared):
    await cache_remote_media(kith)
    amy, ana = await follower_of(kith, peer)
    sent: list[bool] = []
    peer.server.routes["/files/huge.jpg"] = too_large(declared=declared, sent=sent)
    status = await receive(kith, peer, ana, [photo(peer, "/files/huge.jpg")])
    assert len(peer.server.requests_to("/files/huge.jpg")) == 1
    assert sent == [False]  # Kith stopped reading at the limit
    [shown] = await attachments_of(kith, amy, status)
    assert shown["url"] == shown["remote_url"] == f"{peer.base_url}/files/huge.jpg"
    assert stored_files(kith) == []
    assert await kith.pool.fetchval("SELECT count(*) FROM jobs WHERE queue = 'remote_media'") == 0


async def test_a_redirect_to_a_reject_media_host_is_not_followed(kith, peer, network):
    await cache_remote_media(kith)
    amy, ana = await follower_of(kith, peer)
    await block_media(kith, "cdn.test")
    cdn = Peer(await RemoteServer("cdn.test").start(network.resolver))
    try:
        serve_file(cdn, "/photo.jpg", samples.jpeg_with_everything())

        async def redirect(request: web.Request) -> web.Response:
            return web.Response(status=302, headers={"Location": "http://cdn.test/photo.jpg"})

        peer.server.routes["/files/moved.jpg"] = redirect
        status = await receive(kith, peer, ana, [photo(peer, "/files/moved.jpg")])
        assert len(peer.server.requests_to("/files/moved.jpg")) == 1
        assert cdn.server.requests_to("/photo.jpg") == []
        [shown] = await attachments_of(kith, amy, status)
        assert shown["url"] == shown["remote_url"]
        assert stored_files(kith) == []
    finally:
        await cdn.server.close()


async def test_a_server_error_is_retried_later_and_the_file_stays_linked(kith, peer):
    await cache_remote_media(kith)
    amy, ana = await follower_of(kith, peer)

    async def unavailable(request: web.Request) -> web.Response:
        return web.Response(status=503)

    peer.server.routes["/files/later.jpg"] = unavailable
    status = await receive(kith, peer, ana, [photo(peer, "/files/later.jpg")])
    job = await kith.pool.fetchrow("SELECT * FROM jobs WHERE queue = 'remote_media'")
    assert job is not None and job["attempts"] == 1 and job["failed_at"] is None
    [shown] = await attachments_of(kith, amy, status)
    assert shown["url"] == shown["remote_url"]
    assert stored_files(kith) == []


async def test_a_remote_edit_redescribes_or_replaces_attachments_and_caches_new_files(kith, peer):
    await cache_remote_media(kith)
    amy, ana = await follower_of(kith, peer)
    serve_file(peer, "/files/photo.jpg", samples.jpeg_with_everything())
    serve_file(peer, "/files/other.jpg", samples.jpeg_with_everything())
    status = await receive(kith, peer, ana, [photo(peer)])
    [before] = await attachments_of(kith, amy, status)

    redescribed = {**photo(peer), "name": "now with a better description"}
    status = await receive(kith, peer, ana, [redescribed], edit_of=status)
    [after] = await attachments_of(kith, amy, status)
    assert (after["id"], after["url"]) == (before["id"], before["url"])  # the same local copy
    assert after["description"] == "now with a better description"
    assert len(peer.server.requests_to("/files/photo.jpg")) == 1  # not fetched again

    status = await receive(kith, peer, ana, [photo(peer, "/files/other.jpg")], edit_of=status)
    [replaced] = await attachments_of(kith, amy, status)
    assert replaced["id"] != before["id"]
    assert replaced["remote_url"] == f"{peer.base_url}/files/other.jpg"
    assert replaced["url"].startswith(f"{kith.base_url}/media/")


# -- shapes beyond the corpus (parsing only) ------------------------------------------------------


def note_with(*attachments: Any, **fields: Any) -> dict[str, Any]:
    return {
        "id": "https://a.example/notes/1",
        "type": "Note",
        "attributedTo": "https://a.example/users/ana",
        "content": "<p>hi</p>",
        "attachment": list(attachments),
        **fields,
    }


def test_url_as_a_link_object_or_a_list_of_links():
    link = {"type": "Link", "href": "https://a.example/a.png", "mediaType": "image/png"}
    playable = [
        {"type": "Link", "href": "https://a.example/page", "mediaType": "text/html"},
        {"type": "Link", "href": "https://a.example/v.webm", "mediaType": "video/webm"},
        {
            "type": "Link",
            "href": "https://a.example/v.mp4",
            "mediaType": "video/mp4",
            "height": 480,
        },
    ]
    first, second = parse_note(
        note_with({"type": "Image", "url": link}, {"type": "Document", "url": playable})
    ).attachments
    assert (first.url, first.type, first.media_type) == (link["href"], "image", "image/png")
    assert (second.url, second.type, second.height) == ("https://a.example/v.mp4", "video", 480)


def test_bad_values_are_left_out_not_trusted():
    attachment = {
        "type": "Document",
        "mediaType": "image/jpeg",
        "url": "https://a.example/a.jpg",
        "focalPoint": [3, 0],  # outside [-1, 1]
        "width": -5,
        "height": "tall",
        "blurhash": 42,
        "name": "x" * 5000,
    }
    [parsed] = parse_note(
        note_with(attachment, {"type": "Document", "url": "javascript:alert(1)"})
    ).attachments
    assert parsed.focus is None and parsed.width is None and parsed.height is None
    assert parsed.blurhash is None and len(parsed.description or "") == 1500


def test_numbers_no_float_can_hold_are_left_out():
    """A fetched document is parsed with no limit on integers (`json.loads`)."""
    huge = 10**400
    attachment = {
        "type": "Document",
        "mediaType": "image/jpeg",
        "url": "https://a.example/a.jpg",
        "focalPoint": [huge, 0],
        "width": huge,
        "height": 10,
    }
    [parsed] = parse_note(note_with(attachment)).attachments
    assert parsed.focus is None and parsed.width is None and parsed.height == 10


def test_at_most_twenty_attachments_are_kept():
    many = [{"type": "Image", "url": f"https://a.example/{i}.png"} for i in range(30)]
    assert len(parse_note(note_with(*many)).attachments) == 20


def test_a_note_s_image_field_is_not_an_attachment():
    """Only titled posts (Lemmy's Page) carry their picture in `image`."""
    doc = note_with(image={"type": "Image", "url": "https://a.example/a.png"})
    assert parse_note(doc).attachments == []
