"""Every real-world payload in `../shared/fixtures/activitypub` through the real inbox path.

Each payload is moved to a test peer (`https://mastodon.madrid/users/felix` becomes
`http://mastodon.madrid.test/mastodon.madrid/users/felix`: every server keeps an origin of its
own, all served by one scripted peer), its actor is served there with a test key, and it is
signed, POSTed to `kith.test`'s shared inbox and processed by the worker. Objects are wrapped
as their servers would send them (a post in a Create, an actor in an Update of itself, a
Tombstone in a Delete).

To give each activity something here to act on, the peer's actor is followed by a local member,
references to other actors' accounts are pointed at that member, references to posts at one of
her statuses, and an undone, updated or deleted object is delivered first. Each payload must then
end accepted with its meaning intact, or with the refusal recorded in `EXPECTED` — never a crash
(the queue is drained with errors propagating).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from federation import remote_accounts
from federation.parse.actors import authority
from federation.parse.notes import POST_TYPES, audience, parse_note, reference
from storage import follows as follow_store
from tests.federation_harness import Instance
from tests.inbox_peer import (  # noqa: F401 - fixtures
    PUBLIC,
    Local,
    Peer,
    kith_fixture,
    make_local,
    peer_fixture,
    process,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "activitypub"
ACTOR_TYPES = {"Person", "Service", "Application", "Group", "Organization"}
# Vocabulary hosts: never rewritten (`as:Public` must stay what it is).
KEEP_HOSTS = {"www.w3.org", "w3id.org", "schema.org", "ostatus.org", "joinmastodon.org", "purl.org"}
URL = re.compile(r"https?://([A-Za-z0-9.\-]+(?::\d+)?)")

FEATURED = "ignored: featured collections are not kept yet"
COMMUNITY_BAN = "ignored: a ban from a community (Lemmy), not a block"
# What processing must record for each payload: "ok" unless listed here.
EXPECTED = {
    "friendica/activities/dislike_page.json": "ignored: unsupported type Dislike",
    "friendica/activities/undo_dislike_page.json": "ignored: undo of unsupported type Dislike",
    "lemmy/activities/block/block_user.json": COMMUNITY_BAN,
    "lemmy/activities/block/undo_block_user.json": "ignored: no such block",
    "lemmy/activities/community/add_featured_post.json": FEATURED,
    "lemmy/activities/community/add_mod.json": FEATURED,
    "lemmy/activities/community/announce_create_page.json": (
        "ignored: an announced activity (a group relaying), not a post"
    ),
    "lemmy/activities/community/lock_note.json": "ignored: unsupported type Lock",
    "lemmy/activities/community/lock_page.json": "ignored: unsupported type Lock",
    "lemmy/activities/community/remove_featured_post.json": FEATURED,
    "lemmy/activities/community/remove_mod.json": FEATURED,
    "lemmy/activities/community/resolve_report_page.json": "ignored: unsupported type Resolve",
    "lemmy/activities/community/undo_lock_note.json": "ignored: undo of unsupported type Lock",
    "lemmy/activities/community/undo_lock_page.json": "ignored: undo of unsupported type Lock",
    "lemmy/activities/community/update_community.json": (
        "refused: an actor can only update its own profile"
    ),
    "lemmy/activities/community/warn.json": "ignored: unsupported type Warn",
    "lemmy/activities/deletion/remove_note.json": "ignored: unknown status",
    "lemmy/activities/deletion/undo_delete_page.json": "ignored: undo of unsupported type Delete",
    "lemmy/activities/deletion/undo_delete_private_message.json": (
        "ignored: undo of unsupported type Delete"
    ),
    "lemmy/activities/deletion/undo_remove_note.json": "ignored: undo of unsupported type Delete",
    "lemmy/activities/voting/dislike_page.json": "ignored: unsupported type Dislike",
}


def fixture_files() -> list[str]:
    names = []
    for path in sorted(FIXTURES.rglob("*.json")):
        name = str(path.relative_to(FIXTURES))
        if "/activities/" in name:
            names.append(name)
        elif "/objects/" in name:
            doc = json.loads(path.read_text())
            if doc.get("type") in POST_TYPES | ACTOR_TYPES | {"Tombstone"}:
                names.append(name)
    return names


def peer_host(host: str) -> str:
    """`mastodon.madrid` -> `mastodon.madrid.test`; `lemmy-alpha:8541` -> `lemmy-alpha-8541.test`"""
    return f"{host.lower().replace(':', '-')}.test"


def hosts_in(value: Any) -> set[str]:
    text = json.dumps({k: v for k, v in value.items() if k != "@context"})
    return {m.lower() for m in URL.findall(text) if m.split(":")[0].lower() not in KEEP_HOSTS}


def move_to_peer(value: Any) -> Any:
    """Every URL moved to `http://<host>.test/<host>/<path>` (outside `@context`): each server
    keeps its own origin, and the peer (which routes by path) can serve them all."""

    def sub(match: re.Match[str]) -> str:
        host = match.group(1).lower()
        if host.split(":")[0] in KEEP_HOSTS:
            return match.group(0)
        return f"http://{peer_host(host)}/{host}"

    if isinstance(value, dict):
        return {k: v if k == "@context" else move_to_peer(v) for k, v in value.items()}
    if isinstance(value, list):
        return [move_to_peer(v) for v in value]
    return URL.sub(sub, value) if isinstance(value, str) else value


def as_activity(doc: dict[str, Any]) -> dict[str, Any]:
    """An object wrapped as its server would deliver it; activities as they are."""
    type_ = doc.get("type")
    if type_ in ACTOR_TYPES:
        return {"id": f"{doc['id']}#update", "type": "Update", "actor": doc["id"], "object": doc}
    if type_ == "Tombstone":
        actor = doc.get("attributedTo") or f"{doc['id'].rsplit('/', 1)[0]}/author"
        return {"id": f"{doc['id']}#delete", "type": "Delete", "actor": actor, "object": doc}
    if type_ in POST_TYPES:
        author = reference(doc.get("attributedTo")) or reference(doc["attributedTo"][0])
        audience = {k: doc[k] for k in ("to", "cc") if doc.get(k) is not None}
        return {
            "id": f"{doc['id']}#create",
            "type": "Create",
            "actor": author,
            "object": doc,
            **audience,
        }
    return doc


@functools.cache
def served_documents() -> dict[str, dict[str, Any]]:
    """Every fixture document with an id (moved to the peer), by id: the peer serves them so
    that refetches (a boosted video, a forwarded post) find them at their origin."""
    docs = {}
    for path in sorted(FIXTURES.rglob("*.json")):
        doc = move_to_peer(json.loads(path.read_text()))
        if isinstance(doc.get("id"), str) and "#" not in doc["id"]:
            docs[doc["id"]] = doc
    return docs


class Scene:
    """One payload's world: member `amy` (following the payload's actor), her status, the peer."""

    def __init__(self, kith: Instance, peer: Peer, amy: Local, status: dict[str, Any]) -> None:
        self.kith, self.peer, self.amy, self.status = kith, peer, amy, status

    def aim(self, activity: dict[str, Any]) -> dict[str, Any]:
        """The activity pointed at local things where it names other servers' accounts or
        posts (what a delivery to this server would name)."""
        activity = copy.deepcopy(activity)
        type_, obj = activity.get("type"), activity.get("object")
        if type_ in ("Follow", "Block") and isinstance(obj, str):
            activity["object"] = self.amy.uri
        elif type_ == "Flag":
            items = obj if isinstance(obj, list) else [obj]
            activity["object"] = [self.amy.uri] + [self.status["uri"]] * (len(items) - 1)
        elif (type_ in ("Like", "Dislike") and isinstance(obj, str)) or (
            type_ == "Announce" and isinstance(obj, str) and obj not in served_documents()
        ):
            activity["object"] = self.status["uri"]
        elif (
            type_ in ("Accept", "Reject") and isinstance(obj, dict) and obj.get("type") == "Follow"
        ):
            activity["object"] = {**obj, "actor": self.amy.uri, "object": activity["actor"]}
        elif type_ == "Undo" and isinstance(obj, dict):
            activity["object"] = self.aim(obj)
        return activity

    async def preludes(self, activity: dict[str, Any]) -> list[dict[str, Any]]:
        """What must have happened first for `activity` to mean something here."""
        type_, obj, actor = activity["type"], activity.get("object"), activity["actor"]
        if type_ == "Undo" and isinstance(obj, dict) and obj.get("id"):
            return [obj]
        if type_ in ("Accept", "Reject"):
            follow_uri = reference(obj) or f"{self.amy.uri}#follow"
            ana = await remote_accounts.resolve_actor(self.kith.federation, actor)
            await follow_store.insert_follow_request(
                self.kith.pool,
                self.amy.account_id,
                ana["id"],
                show_reblogs=True,
                notify=False,
                uri=follow_uri,
            )
        if type_ == "Update" and isinstance(obj, dict) and obj.get("type") in POST_TYPES:
            before = {**obj, "content": "<p>before the edit</p>"}
            return [
                {"id": f"{obj['id']}#created", "type": "Create", "actor": actor, "object": before}
            ]
        if type_ == "Delete":
            target = reference(obj)
            uri = target if target and target != actor else f"{actor}/posts/doomed"
            if authority(uri) != authority(actor):
                return []  # a moderator's removal of someone else's post
            doomed = {
                "id": uri,
                "type": "Note",
                "attributedTo": actor,
                "content": "<p>doomed</p>",
                "to": [PUBLIC],
            }
            return [{"id": f"{uri}#created", "type": "Create", "actor": actor, "object": doomed}]
        return []


async def setting(kith: Instance, peer: Peer, network: Any, name: str) -> Scene:
    raw = json.loads((FIXTURES / name).read_text())
    for host in hosts_in(raw):
        network.resolver.ports[peer_host(host)] = peer.server.server.port
    for doc in served_documents().values():
        peer.serve(doc)
    amy = await make_local(kith, "amy")
    async with kith.client.post(
        "/api/v1/statuses", json={"status": "a post of amy's"}, headers=amy.headers
    ) as response:
        status = await response.json()
    return Scene(kith, peer, amy, status)


@pytest.mark.parametrize("name", fixture_files())
async def test_fixture_payload(kith, peer, network, name):
    scene = await setting(kith, peer, network, name)
    activity = as_activity(move_to_peer(json.loads((FIXTURES / name).read_text())))
    actor = reference(activity["actor"])
    obj = activity.get("object")
    if isinstance(obj, dict) and obj.get("id") == actor and obj.get("type") in ACTOR_TYPES:
        peer.actor_from(obj)  # an actor's Update of itself: serve the document it sends
    else:
        peer.actor_from({"id": actor, "type": "Person"})
    account = await remote_accounts.resolve_actor(kith.federation, actor)
    await follow_store.insert_follow(
        kith.pool,
        scene.amy.account_id,
        account["id"],
        show_reblogs=True,
        notify=False,
        languages=None,
        uri=None,
    )
    activity = scene.aim(activity)
    for prelude in await scene.preludes(activity):
        await process(kith, peer, prelude)
    outcome = await process(kith, peer, activity)
    assert outcome == EXPECTED.get(name, "ok")
    if outcome == "ok":
        await check_meaning(scene, activity, account)


async def check_meaning(scene: Scene, activity: dict[str, Any], actor: Any) -> None:
    """What an accepted activity must have left behind."""
    db, amy = scene.kith.pool, scene.amy
    type_, obj = activity["type"], activity.get("object")
    if type_ == "Create":
        await check_status(scene, obj, actor)
    elif type_ == "Update" and obj.get("type") in ACTOR_TYPES:
        row = await db.fetchrow("SELECT * FROM accounts WHERE uri = $1", obj["id"])
        assert row["display_name"] == (obj.get("name") or "").strip()[:2048]
    elif type_ == "Update":
        row = await check_status(scene, obj, actor)
        assert (
            await db.fetchval("SELECT count(*) FROM status_edits WHERE status_id = $1", row["id"])
            == 1
        )
    elif type_ == "Delete":
        target = reference(obj)
        uri = target if target != actor["uri"] else f"{actor['uri']}/posts/doomed"
        assert await db.fetchval("SELECT deleted_at FROM statuses WHERE uri = $1", uri) is not None
    elif type_ == "Follow":
        follow = await follow_store.get_follow(db, actor["id"], amy.account_id)
        assert follow is not None and follow["uri"] == activity["id"]
    elif type_ == "Like":
        assert (
            await db.fetchval("SELECT uri FROM favourites WHERE account_id = $1", actor["id"])
            == activity["id"]
        )
    elif type_ == "Announce":
        boost = await db.fetchrow("SELECT * FROM statuses WHERE uri = $1", activity["id"])
        assert boost["account_id"] == actor["id"] and boost["reblog_of_id"] is not None
    elif type_ == "Block":
        assert await follow_store.is_blocking(db, actor["id"], amy.account_id)
        assert await follow_store.get_follow(db, amy.account_id, actor["id"]) is None
    elif type_ == "Flag":
        report = await db.fetchrow("SELECT * FROM reports WHERE uri = $1", activity["id"])
        assert report["account_id"] == actor["id"] and report["target_account_id"] == amy.account_id
    elif type_ == "Accept":
        assert await follow_store.get_follow(db, amy.account_id, actor["id"]) is not None
    elif type_ == "Undo":
        await check_undone(scene, obj, actor)
    else:
        raise AssertionError(f"no meaning check for accepted {type_}")


async def check_status(scene: Scene, obj: dict[str, Any], actor: Any) -> Any:
    """The stored status says what the post says: author, audience, content, reply target,
    tags and attachments."""
    db = scene.kith.pool
    row = await db.fetchrow(
        "SELECT * FROM statuses WHERE uri = $1 AND deleted_at IS NULL", obj["id"]
    )
    assert row is not None and row["account_id"] == actor["id"]
    to, cc = audience(obj.get("to")), audience(obj.get("cc"))
    if PUBLIC in to:
        assert row["visibility"] == "public"
    elif PUBLIC in cc:
        assert row["visibility"] == "unlisted"
    else:
        assert row["visibility"] in ("private", "direct")
    note = parse_note(obj)
    assert row["content"] == note.content and "<script" not in row["content"]
    text = re.sub(r"<[^>]+>", "", obj.get("content") or obj.get("name") or "").strip()
    assert text[:20].split("&")[0] in re.sub(r"<[^>]+>", "", row["content"]) or not text
    assert row["in_reply_to_uri"] == reference(obj.get("inReplyTo"))
    tags = await db.fetch(
        "SELECT t.name FROM statuses_tags st JOIN tags t ON t.id = st.tag_id"
        " WHERE st.status_id = $1",
        row["id"],
    )
    assert sorted(t["name"].lower() for t in tags) == sorted(n.lower() for n in note.hashtags)
    media = await db.fetchval(
        "SELECT count(*) FROM media_attachments WHERE status_id = $1", row["id"]
    )
    attachments = obj.get("attachment") or []
    attachments = attachments if isinstance(attachments, list) else [attachments]
    listed = [a for a in attachments if isinstance(a, dict) and (a.get("url") or a.get("href"))]
    own_file = obj["type"] == "Video" and not listed  # PeerTube: the video itself, from `url`
    assert media == len(listed) + own_file
    return row


async def check_undone(scene: Scene, undone: dict[str, Any], actor: Any) -> None:
    db, amy = scene.kith.pool, scene.amy
    kind = undone["type"]
    if kind == "Follow":
        assert await follow_store.get_follow(db, actor["id"], amy.account_id) is None
    elif kind in ("Like", "Dislike"):
        assert (
            await db.fetchval("SELECT count(*) FROM favourites WHERE account_id = $1", actor["id"])
            == 0
        )
    elif kind == "Block":
        assert not await follow_store.is_blocking(db, actor["id"], amy.account_id)
    else:
        raise AssertionError(f"no meaning check for an undone {kind}")
