"""Editing statuses: PUT /api/v1/statuses/:id, its history and its source."""

from __future__ import annotations

from tests.schemas import assert_matches
from tests.test_statuses import post


async def edit(client, member, status_id: str, **params):
    response = await client.put(
        f"/api/v1/statuses/{status_id}", json=params, headers=member.headers
    )
    return response.status, await response.json()


async def test_edit_replaces_text_tags_and_keeps_history(client, make_member):
    alice = await make_member("alice")
    original = await post(client, alice, "first draft #draft")

    status, edited = await edit(
        client, alice, original["id"], status="second take #final", spoiler_text="cw"
    )
    assert status == 200
    assert_matches("status", edited)
    assert edited["id"] == original["id"]
    assert "second take" in edited["content"]
    assert [tag["name"] for tag in edited["tags"]] == ["final"]
    assert edited["spoiler_text"] == "cw" and edited["sensitive"] is True
    assert edited["edited_at"] is not None

    response = await client.get(f"/api/v1/statuses/{original['id']}/history")
    versions = await response.json()
    assert response.status == 200
    for version in versions:
        assert_matches("status_edit", version)
    assert ["first draft" in v["content"] for v in versions] == [True, False]
    assert "second take" in versions[-1]["content"]

    response = await client.get(f"/api/v1/statuses/{original['id']}/source", headers=alice.headers)
    source = await response.json()
    assert_matches("status_source", source)
    assert source == {"id": original["id"], "text": "second take #final", "spoiler_text": "cw"}

    # The hashtag timeline follows the edit.
    response = await client.get("/api/v1/timelines/tag/draft")
    assert await response.json() == []


async def test_only_the_author_can_edit_or_read_the_source(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    original = await post(client, alice, "mine")
    status, body = await edit(client, bob, original["id"], status="hijacked")
    assert status == 404 and body == {"error": "Record not found"}
    response = await client.get(f"/api/v1/statuses/{original['id']}/source", headers=bob.headers)
    assert response.status == 404


async def test_edit_validates_like_posting(client, make_member):
    alice = await make_member("alice")
    original = await post(client, alice, "mine")
    status, body = await edit(client, alice, original["id"], status="")
    assert status == 422 and "blank" in body["error"]
    status, body = await edit(client, alice, original["id"], status="x" * 501)
    assert status == 422
    status, _ = await edit(client, alice, "12345", status="nothing there")
    assert status == 404


async def test_newly_mentioned_and_boosters_are_notified(client, make_member):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    original = await post(client, alice, "hello")
    response = await client.post(f"/api/v1/statuses/{original['id']}/reblog", headers=bob.headers)
    assert response.status == 200

    status, _ = await edit(client, alice, original["id"], status="hello @carol")
    assert status == 200

    response = await client.get("/api/v1/notifications", headers=bob.headers)
    assert [n["type"] for n in await response.json()] == ["update"]
    response = await client.get("/api/v1/notifications", headers=carol.headers)
    assert [n["type"] for n in await response.json()] == ["mention"]
