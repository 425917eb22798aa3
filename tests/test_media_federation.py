"""A photo posted on one Kith instance, federated to another: the Note carries the attachment as
Mastodon sends it, and the receiving instance shows it as a remote attachment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from server.usecases.actors import Actor
from server.usecases.status_edits import Revision, edit_status
from tests.federation_harness import Instance
from tests.test_federation_e2e import User, alice_follows_bob, find_in_home
from tests.test_media_api import jpeg

ACTIVITY_JSON = "application/activity+json"


async def upload(user: User, data: bytes, **fields: str) -> dict[str, Any]:
    body = aiohttp.FormData()
    for name, value in fields.items():
        body.add_field(name, value)
    body.add_field("file", data, filename="photo.jpg", content_type="image/jpeg")
    return await user.call("POST", "/api/v2/media", data=body)


async def note_of(instance: Instance, uri: str) -> dict[str, Any]:
    path = uri.removeprefix(instance.base_url)
    async with instance.client.get(path, headers={"Accept": ACTIVITY_JSON}) as response:
        assert response.status == 200
        return await response.json(content_type=None)


async def test_a_photo_with_alt_text_reaches_another_kith(network):
    _, beta, alice, bob, _ = await alice_follows_bob(network)
    photo = await upload(bob, jpeg(120, 80), description="A harbour at dusk", focus="0.25,-0.5")
    posted = await bob.post("/api/v1/statuses", status="Evening", media_ids=[photo["id"]])

    note = await note_of(beta, posted["uri"])
    assert note["attachment"] == [
        {
            "type": "Document",
            "mediaType": "image/jpeg",
            "url": photo["url"],
            "name": "A harbour at dusk",
            "blurhash": photo["blurhash"],
            "focalPoint": [0.25, -0.5],
            "width": 120,
            "height": 80,
        }
    ]
    assert any("blurhash" in part for part in note["@context"] if isinstance(part, dict))

    await network.drain()
    copy = await find_in_home(alice, posted["uri"])
    [attachment] = copy["media_attachments"]
    assert attachment["type"] == "image"
    assert attachment["remote_url"] == photo["url"]
    assert attachment["url"] == photo["url"]  # linked, not copied (the default)
    assert attachment["description"] == "A harbour at dusk"
    assert attachment["blurhash"] == photo["blurhash"]
    # The file alpha links to is served by beta.
    path = photo["url"].removeprefix(beta.base_url)
    async with beta.client.get(path) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/jpeg"


async def test_an_edit_sends_the_new_attachments(network):
    _, beta, _alice, bob, _ = await alice_follows_bob(network)
    first = await upload(bob, jpeg(colour=(255, 0, 0)), description="first")
    second = await upload(bob, jpeg(colour=(0, 0, 255)), description="second")
    posted = await bob.post("/api/v1/statuses", status="v1", media_ids=[first["id"]])
    await network.drain()
    await bob.call(
        "PUT",
        f"/api/v1/statuses/{posted['id']}",
        json={"status": "v2", "media_ids": [second["id"], first["id"]]},
    )
    note = await note_of(beta, posted["uri"])
    assert [a["name"] for a in note["attachment"]] == ["second", "first"]
    bodies = [
        json.loads(row["body"])
        for row in await beta.pool.fetch("SELECT body FROM outgoing_activities ORDER BY id")
    ]
    updates = [body for body in bodies if body["type"] == "Update"]
    assert [[a["name"] for a in u["object"]["attachment"]] for u in updates] == [
        ["second", "first"]
    ]
    await network.drain()


@dataclass(frozen=True)
class RemoteEdit:
    """A remote author's edit as the inbox would make it, with only new attachments."""

    attachments: list[dict[str, Any]]

    async def revise(self, conn, urls, status) -> Revision:
        return Revision(
            content=status["content"],
            text=status["text"],
            spoiler_text=status["spoiler_text"],
            sensitive=status["sensitive"],
            language=status["language"],
            attachments=self.attachments,
        )


def remote_attachment(url: str, description: str) -> dict[str, Any]:
    return {"type": "image", "url": url, "description": description, "blurhash": None}


async def test_a_remote_edit_replaces_or_redescribes_attachments(network):
    alpha, beta, alice, bob, _ = await alice_follows_bob(network)
    photo = await upload(bob, jpeg(), description="before")
    posted = await bob.post("/api/v1/statuses", status="v1", media_ids=[photo["id"]])
    await network.drain()
    copy = await find_in_home(alice, posted["uri"])
    [shown] = copy["media_attachments"]
    author = Actor.remote(int(copy["account"]["id"]), None)

    async def edit(attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await edit_status(
            alpha.pool, alpha.federation.urls, author, int(copy["id"]), RemoteEdit(attachments)
        )
        return (await find_in_home(alice, posted["uri"]))["media_attachments"]

    # The same file: the same attachment, with the new alt text.
    [same] = await edit([remote_attachment(photo["url"], "after")])
    assert (same["id"], same["description"]) == (shown["id"], "after")
    # Another file: a new attachment; the old one is detached for the clean-up job.
    other = f"{beta.base_url}/media/{'x' * 32}.png"
    [new] = await edit([remote_attachment(other, "another")])
    assert new["id"] != shown["id"] and new["remote_url"] == other
    detached = await alpha.pool.fetchval(
        "SELECT status_id FROM media_attachments WHERE id = $1", int(shown["id"])
    )
    assert detached is None
