"""Kith federating with a real Fedify 1.5 server (tests/fedify_peer/peer.mjs, run with Node).

Kith serves a real TCP port (`tests.live_server`); the peer listens on another loopback port
and is driven through its control API. Fedify verifies every signature Kith sends: an activity
shows up in the peer's `received` list only after its HTTP signature checked out.

Node and the peer's packages are a requirement, not an option: `make test` installs them
(`npm ci` in tests/fedify_peer), and without them these tests fail, saying what is missing.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from server.jobs.runner import Worker
from server.jobs.worker import build_registry
from server.state import FEDERATION, POOL
from storage.settings import set_setting
from tests.test_federation_e2e import create_user, notifications, post

pytest_plugins = ["tests.live_server"]

PEER_DIR = Path(__file__).resolve().parent / "fedify_peer"
START_TIMEOUT = 30.0


# -- the Fedify peer ------------------------------------------------------------------------------


def node_or_fail() -> str:
    """The `node` executable and the peer's installed packages, or a failed test saying why."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not installed: the Fedify interop test needs `node` (20 or later)")
    if not (PEER_DIR / "node_modules" / "@fedify" / "fedify" / "package.json").is_file():
        pytest.fail(
            f"the Fedify peer's packages are not installed: run `make test`, or "
            f"`npm ci --prefix {PEER_DIR}`"
        )
    return node


@dataclass
class FedifyPeer:
    process: asyncio.subprocess.Process
    origin: str
    actor: str
    http: aiohttp.ClientSession
    stderr_path: Path

    @property
    def host(self) -> str:
        return self.origin.removeprefix("http://")

    @property
    def acct(self) -> str:
        return f"{self.actor.rsplit('/', 1)[1]}@{self.host}"

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    async def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(method, f"{self.origin}/_control/{path}", json=body) as res:
            data = await res.json()
            if res.status != 200:
                raise AssertionError(f"peer {path} failed: {data.get('error')}\n{self.log()}")
            return data

    async def state(self) -> dict[str, Any]:
        return await self.control("GET", "state")

    async def received(self, type_: str) -> list[dict[str, Any]]:
        """Activities of `type_` that the peer's inbox accepted, signatures verified."""
        return [item for item in (await self.state())["received"] if item["type"] == type_]

    async def explain(self) -> str:
        """What reached the peer's inboxes, for failure messages."""
        state = await self.state()
        requests = [
            f"  {r['status']} {r['path']}: {r['body'][:300]} -> {r['response'][:300]}"
            for r in state["inboxRequests"]
        ]
        return (
            "inbox requests:\n"
            + ("\n".join(requests) or "  none")
            + f"\ninbox errors: {state['inboxErrors']}\npeer log:\n{self.log()}"
        )


@pytest.fixture
async def fedify_peer(tmp_path: Path) -> AsyncIterator[FedifyPeer]:
    node = node_or_fail()
    stderr_path = tmp_path / "fedify-peer.log"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            node,
            str(PEER_DIR / "peer.mjs"),
            "--port",
            "0",
            cwd=PEER_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
    try:
        try:
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
            ready = json.loads(line)
        except (TimeoutError, ValueError):
            pytest.fail(f"the Fedify peer did not start:\n{stderr_path.read_text()}")
        async with aiohttp.ClientSession() as http:
            yield FedifyPeer(process, ready["origin"], ready["actor"], http, stderr_path)
    finally:
        if process.returncode is None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


# -- Kith's side ----------------------------------------------------------------------------------


async def drain(live_server) -> int:
    """Run Kith's queued jobs (deliveries, inbox processing) until none are due."""
    app = live_server.app
    return await Worker(app[POOL], build_registry(), app[FEDERATION]).drain()


@pytest.fixture
async def kith_api(live_server) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=live_server.url) as http:
        yield http


# -- the scenario ---------------------------------------------------------------------------------


async def test_a_fedify_server_follows_receives_mentions_and_unfollows(
    live_server, kith_api, fedify_peer
):
    peer = fedify_peer
    alice = await create_user(live_server.app, kith_api, "alice")
    alice_actor = f"{live_server.url}/users/alice"

    # Fedify dereferences alice's actor by its http URL.
    found = await peer.control("POST", "lookup", {"id": alice_actor})
    assert found["found"] is True, found
    assert (found["type"], found["id"]) == ("Person", alice_actor)
    assert found["preferredUsername"] == "alice"
    assert found["inbox"] == f"{alice_actor}/inbox"
    assert found["publicKey"] == f"{alice_actor}#main-key"

    # The peer follows alice; Kith accepts and tells the peer, with a signature Fedify verifies.
    follow = await peer.control("POST", "follow", {"actor": alice_actor})
    await drain(live_server)
    followers = await alice.get(f"/api/v1/accounts/{alice.account_id}/followers")
    assert [a["acct"] for a in followers] == [peer.acct], await peer.explain()
    accepts = await peer.received("Accept")
    assert len(accepts) == 1, await peer.explain()
    assert accepts[0]["actor"] == alice_actor
    assert accepts[0]["object"]["id"] == follow["id"]

    # alice posts; the peer receives the Create, signed by alice.
    status = await post(alice, "Hello, Fedify! This is Kith.")
    await drain(live_server)
    creates = await peer.received("Create")
    assert len(creates) == 1, await peer.explain()
    create = creates[0]
    assert create["actor"] == alice_actor
    note = create["object"]
    assert (note["type"], note["id"]) == ("Note", status["uri"])
    assert "Hello, Fedify! This is Kith." in note["content"]
    assert note["attributedTo"] == alice_actor

    # The peer mentions alice in a Note addressed to her; Kith stores it and notifies her.
    sent = await peer.control(
        "POST",
        "note",
        {
            "to": [alice_actor],
            "content": (
                f'<p><span class="h-card"><a href="{alice_actor}" class="u-url mention">'
                f"@<span>alice</span></a></span> Hello from Fedify</p>"
            ),
            "mentions": [{"href": alice_actor, "name": f"@alice@{live_server.config.domain}"}],
        },
    )
    await drain(live_server)
    mentions = [n for n in await notifications(alice) if n["type"] == "mention"]
    assert len(mentions) == 1, mentions
    mention = mentions[0]
    assert mention["account"]["acct"] == peer.acct
    assert mention["status"]["uri"] == sent["note"]
    assert "Hello from Fedify" in mention["status"]["content"]
    assert mention["status"]["visibility"] == "direct"

    # The peer unfollows alice (Undo of its Follow); Kith drops the follower.
    await peer.control("POST", "unfollow", {"actor": alice_actor, "follow": follow["id"]})
    await drain(live_server)
    assert await alice.get(f"/api/v1/accounts/{alice.account_id}/followers") == []

    # Fedify 1.5 knows only draft-cavage signatures: Kith may knock with RFC 9421 first and get
    # a 401, but once a delivery got through it remembers the scheme and knocks once.
    statuses = [r["status"] for r in (await peer.state())["inboxRequests"]]
    first_ok = statuses.index(202)
    assert set(statuses[first_ok:]) == {202}, await peer.explain()
    assert set(statuses[:first_ok]) <= {401}, await peer.explain()


async def test_the_fedify_peer_refuses_what_kith_did_not_sign(live_server, kith_api, fedify_peer):
    """The interop test means something only if the peer really checks signatures."""
    await create_user(live_server.app, kith_api, "alice")  # a real actor, with a real key
    alice_actor = f"{live_server.url}/users/alice"
    forged = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{alice_actor}/statuses/1/activity",
        "type": "Create",
        "actor": alice_actor,
        "to": [fedify_peer.actor],
        "object": {
            "id": f"{alice_actor}/statuses/1",
            "type": "Note",
            "attributedTo": alice_actor,
            "content": "forged",
            "to": [fedify_peer.actor],
        },
    }
    async with fedify_peer.http.post(
        f"{fedify_peer.actor}/inbox",
        data=json.dumps(forged),
        headers={"Content-Type": "application/activity+json"},
    ) as response:
        assert response.status == 401
    assert await fedify_peer.received("Create") == []


async def test_with_authorized_fetch_a_fedify_server_still_follows_but_reads_no_posts(
    live_server, kith_api, fedify_peer
):
    """Fedify looks objects up unsigned: in authorized-fetch mode it gets the member's minimal
    key document (enough to follow and verify), and a post only with a signature."""
    peer = fedify_peer
    await set_setting(live_server.app[POOL], "authorized_fetch", True)
    alice = await create_user(live_server.app, kith_api, "alice")
    alice_actor = f"{live_server.url}/users/alice"
    status = await post(alice, "for those who sign")

    found = await peer.control("POST", "lookup", {"id": alice_actor})
    assert found["found"] is True, found
    assert (found["type"], found["inbox"]) == ("Person", f"{alice_actor}/inbox")
    assert found["publicKey"] == f"{alice_actor}#main-key"
    assert "followers" not in found["json"] and "summary" not in found["json"]  # minimal

    follow = await peer.control("POST", "follow", {"actor": alice_actor})
    await drain(live_server)
    followers = await alice.get(f"/api/v1/accounts/{alice.account_id}/followers")
    assert [a["acct"] for a in followers] == [peer.acct], await peer.explain()
    accepts = await peer.received("Accept")
    assert [a["object"]["id"] for a in accepts] == [follow["id"]], await peer.explain()

    assert (await peer.control("POST", "lookup", {"id": status["uri"]}))["found"] is False


async def test_a_fedify_server_receives_a_photo_with_its_alt_text(
    live_server, kith_api, fedify_peer
):
    """Fedify's vocabulary reads the attachment Kith sends: a Document with its media type,
    URL, alt text and size; the blurhash and focal point travel in the raw JSON."""
    peer = fedify_peer
    alice = await create_user(live_server.app, kith_api, "alice")
    alice_actor = f"{live_server.url}/users/alice"
    await peer.control("POST", "follow", {"actor": alice_actor})
    await drain(live_server)

    photo = Image.new("RGB", (90, 60), (10, 120, 200))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG")
    body = aiohttp.FormData()
    body.add_field("description", "Blue, mostly")
    body.add_field("focus", "0.5,0.5")
    body.add_field("file", buffer.getvalue(), filename="blue.jpg", content_type="image/jpeg")
    media = await alice.call("POST", "/api/v2/media", data=body)
    status = await alice.post("/api/v1/statuses", status="A photo", media_ids=[media["id"]])
    await drain(live_server)

    creates = await peer.received("Create")
    assert len(creates) == 1, await peer.explain()
    assert creates[0]["object"]["attachments"] == [
        {
            "type": "Document",
            "mediaType": "image/jpeg",
            "url": media["url"],
            "name": "Blue, mostly",
            "width": 90,
            "height": 60,
        }
    ], await peer.explain()
    delivered = [
        json.loads(r["body"])
        for r in (await peer.state())["inboxRequests"]
        if r["status"] == 202 and json.loads(r["body"])["type"] == "Create"
    ]
    assert [d["object"]["id"] for d in delivered] == [status["uri"]]
    [sent] = delivered[0]["object"]["attachment"]
    assert sent["blurhash"] == media["blurhash"]
    assert sent["focalPoint"] == [0.5, 0.5]
    # The URL the peer was given serves the file.
    async with peer.http.get(media["url"]) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/jpeg"
