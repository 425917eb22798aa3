"""The inbox's door: size, JSON, signature, schema, key owner and de-duplication, each answered
with the right 4xx (never a 500), and only verified activities stored and queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from storage import jobs as job_store
from tests.inbox_peer import PUBLIC, kith_fixture, make_local, peer_fixture  # noqa: F401 - fixtures

FOLLOWERS_NOTE = "http://peer.test/users/ana/statuses/1"


async def stored(kith) -> list:
    return await kith.pool.fetch("SELECT * FROM inbox_activities ORDER BY id")


async def test_a_signed_activity_is_stored_queued_and_answered_202(kith, peer):
    activity = peer.activity("Follow", kith.federation.urls.actor("nobody"))
    status, body = await peer.deliver(kith, activity)
    assert status == 202, body
    rows = await stored(kith)
    assert [(r["activity_uri"], r["type"], r["actor_uri"]) for r in rows] == [
        (activity["id"], "Follow", activity["actor"])
    ]
    assert rows[0]["signer_key_id"] == f"{activity['actor']}#main-key"
    assert await job_store.count_pending(kith.pool, "inbox") == 1


async def test_every_inbox_route_accepts(kith, peer):
    await make_local(kith, "amy")
    for path in ("/inbox", "/actor/inbox", "/users/amy/inbox"):
        status, _ = await peer.deliver(kith, peer.activity("Like", FOLLOWERS_NOTE), path=path)
        assert status == 202, path
    status, body = await peer.deliver(
        kith, peer.activity("Like", FOLLOWERS_NOTE), path="/users/zed/inbox"
    )
    assert status == 404 and body == {"error": "Record not found"}


async def test_duplicate_delivery_is_stored_and_queued_once(kith, peer):
    activity = peer.activity("Like", FOLLOWERS_NOTE)
    assert (await peer.deliver(kith, activity))[0] == 202
    assert (await peer.deliver(kith, activity))[0] == 202
    assert len(await stored(kith)) == 1
    assert await job_store.count_pending(kith.pool, "inbox") == 1


async def test_unsigned_delivery_is_401(kith, peer):
    status, body = await peer.deliver(
        kith, json.dumps(peer.activity("Like", FOLLOWERS_NOTE)).encode()
    )
    assert status == 401 and "error" in body
    assert await stored(kith) == []


async def test_forged_signature_is_401(kith, peer):
    activity = peer.activity("Like", FOLLOWERS_NOTE)
    status, body = await peer.deliver(kith, activity, key=1)  # not the key the actor publishes
    assert status == 401 and "error" in body
    assert await stored(kith) == []


async def test_body_not_matching_its_digest_is_401(kith, peer):
    activity = peer.activity("Like", FOLLOWERS_NOTE)
    other = json.dumps({**activity, "object": "http://peer.test/other"}).encode()
    status, body = await peer.deliver(kith, activity, sign_body=other)
    assert status == 401 and "error" in body
    assert await stored(kith) == []


async def test_stale_date_is_401(kith, peer):
    activity = peer.activity("Like", FOLLOWERS_NOTE)
    stale = format_datetime(datetime.now(UTC) - timedelta(hours=3), usegmt=True)
    status, body = await peer.deliver(kith, activity, headers={"Date": stale})
    assert status == 401 and "error" in body


async def test_oversized_body_is_413(kith, peer):
    activity = peer.activity("Create", {"type": "Note", "content": "x" * (1024 * 1024 + 10)})
    status, body = await peer.deliver(kith, activity)
    assert status == 413 and body == {"error": "Request entity too large"}
    assert await stored(kith) == []


async def test_oversized_chunked_body_is_413(kith, peer):
    async def chunks():
        for _ in range(17):
            yield b" " * 65536

    async with kith.federation.http.post(f"{kith.base_url}/inbox", data=chunks()) as response:
        assert response.status == 413
        assert await response.json() == {"error": "Request entity too large"}


async def test_malformed_json_is_400(kith, peer):
    peer.actor()
    for body in (b"{not json", b"[1, 2]", b'"just a string"'):
        status, answer = await peer.deliver(kith, body, signer="http://peer.test/users/ana")
        assert status == 400 and "error" in answer, body
    assert await stored(kith) == []


async def test_schema_invalid_activity_is_400_with_the_reason(kith, peer):
    activity = peer.activity("Like", FOLLOWERS_NOTE)
    del activity["id"]
    status, body = await peer.deliver(kith, activity)
    assert status == 400 and "'id' is a required property" in body["error"]
    activity = peer.activity("Like", {"no": "id"})
    activity["object"] = 42
    status, body = await peer.deliver(kith, activity)
    assert status == 400 and body["error"].startswith("invalid activity: object")
    assert await stored(kith) == []


async def test_nul_characters_are_400(kith, peer):
    activity = peer.activity("Like", FOLLOWERS_NOTE, summary="a\u0000b")
    status, body = await peer.deliver(kith, activity)
    assert status == 400 and "error" in body


async def test_key_of_another_actor_without_a_refetchable_object_is_refused(kith, peer):
    ana = peer.actor()
    bob = peer.actor("/users/bob", key=1)
    note = {
        "id": FOLLOWERS_NOTE,
        "type": "Note",
        "attributedTo": ana,
        "content": "hi",
        "to": [PUBLIC],
    }
    activity = peer.activity("Create", note, actor=ana)
    status, _ = await peer.deliver(kith, activity, signer=bob, key=1)
    assert status == 202
    [row] = await stored(kith)
    assert row["outcome"] == "refused: forwarded, could not verify"
    assert row["processed_at"] is not None
    assert await job_store.count_pending(kith.pool, "inbox") == 0


async def test_forwarded_activity_is_trusted_as_refetched_from_its_origin(kith, peer):
    ana = peer.actor()
    bob = peer.actor("/users/bob", key=1)
    original = {
        "id": FOLLOWERS_NOTE,
        "type": "Note",
        "attributedTo": ana,
        "content": "real",
        "to": [PUBLIC],
    }
    peer.serve(original)
    forged = {**original, "content": "forged"}
    status, _ = await peer.deliver(
        kith, peer.activity("Create", forged, actor=ana), signer=bob, key=1
    )
    assert status == 202
    [row] = await stored(kith)
    assert row["outcome"] is None
    assert row["payload"]["object"]["content"] == "real"
    assert await job_store.count_pending(kith.pool, "inbox") == 1


async def test_unverifiable_deletion_of_an_unknown_actor_is_acknowledged(kith, peer):
    gone = "http://peer.test/users/gone"
    peer.server.serve("/users/gone", {"type": "Tombstone"}, status=410)
    activity = peer.activity("Delete", gone, actor=gone)
    status, _ = await peer.deliver(kith, activity, signer=gone)
    assert status == 202
    assert await stored(kith) == []
    other = peer.activity("Like", FOLLOWERS_NOTE, actor=gone)
    assert (await peer.deliver(kith, other, signer=gone))[0] == 401
