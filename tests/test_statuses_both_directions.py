"""Posting, editing and deleting a status do the same things whichever way they come: a member
of `kith.test` through the client API, or `ana@peer.test` through the inbox.

amy (local) posts; carl (local) follows the author. The author replies to amy mentioning her
with a hashtag, carl boosts the reply, the author edits it (carl newly mentioned, another
hashtag), then deletes it. After each step the rows the timelines, notifications and streaming
read (statuses, mentions, tags, home feeds, notifications, reply counts) are the same in both
directions.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import api
from tests.federation_harness import Instance
from tests.inbox_peer import (  # noqa: F401 - fixtures
    PUBLIC,
    Local,
    Peer,
    kith_fixture,
    make_local,
    peer_fixture,
    process,
    remote_followed_by,
)

DIRECTIONS = ("local", "remote")


class Author:
    """The reply's author on one side: `bob` here, or the peer's actor."""

    def __init__(self, kith: Instance, peer: Peer, direction: str) -> None:
        self.kith, self.peer, self.direction = kith, peer, direction
        self.member: Local | None = None
        self.note: dict[str, Any] = {}

    async def start(self, follower: Local) -> None:
        if self.direction == "local":
            self.member = await make_local(self.kith, "bob")
            path = f"/api/v1/accounts/{self.member.account_id}/follow"
            await api(self.kith.client, follower, "POST", path)
        else:
            await remote_followed_by(self.kith, self.peer, follower)

    async def reply(self, parent: dict[str, Any], to: list[Local], tag: str) -> int:
        """Reply to `parent` mentioning `to`, with hashtag `tag`; the reply's id here."""
        if self.member is not None:
            text = " ".join(f"@{m.username}" for m in to) + f" look #{tag}"
            body = {"status": text, "in_reply_to_id": parent["id"]}
            return int((await self._call("POST", "/api/v1/statuses", body))["id"])
        actor = self.peer.actor()
        self.note = {
            "id": f"{actor}/statuses/1",
            "type": "Note",
            "attributedTo": actor,
            "inReplyTo": parent["uri"],
            "published": "2024-01-02T03:04:05Z",
            "to": [PUBLIC],
            "cc": [f"{actor}/followers"],
            **self._text(to, tag),
        }
        activity = self.peer.activity("Create", self.note, to=[PUBLIC])
        assert await process(self.kith, self.peer, activity) == "ok"
        return await self.kith.pool.fetchval(
            "SELECT id FROM statuses WHERE uri = $1", self.note["id"]
        )

    async def edit(self, status_id: int, to: list[Local], tag: str) -> None:
        if self.member is not None:
            text = " ".join(f"@{m.username}" for m in to) + f" look again #{tag}"
            await self._call("PUT", f"/api/v1/statuses/{status_id}", {"status": text})
            return
        self.note = {**self.note, **self._text(to, tag), "updated": "2024-01-03T00:00:00Z"}
        activity = self.peer.activity("Update", self.note)
        assert await process(self.kith, self.peer, activity) == "ok"

    async def delete(self, status_id: int) -> None:
        if self.member is not None:
            await self._call("DELETE", f"/api/v1/statuses/{status_id}")
            return
        tombstone = {"id": self.note["id"], "type": "Tombstone"}
        assert await process(self.kith, self.peer, self.peer.activity("Delete", tombstone)) == "ok"

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self.member is not None
        return await api(self.kith.client, self.member, method, path, json=body)

    @staticmethod
    def _text(to: list[Local], tag: str) -> dict[str, Any]:
        """A remote post's content and tags naming `to` and hashtag `tag`."""
        mentions = [{"type": "Mention", "href": m.uri, "name": f"@{m.username}"} for m in to]
        hashtag = {"type": "Hashtag", "name": f"#{tag}", "href": f"https://peer.test/tags/{tag}"}
        names = " ".join(f"@{m.username}" for m in to)
        return {"content": f"<p>{names} look #{tag}</p>", "tag": [*mentions, hashtag]}


async def rows(kith: Instance, status_id: int, root_id: int) -> dict[str, Any]:
    """What the status left in the tables, with accounts by username."""
    status = await kith.pool.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)
    assert status is not None

    async def names(query: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(row.values()) for row in await kith.pool.fetch(query, status_id))

    return {
        "deleted": status["deleted_at"] is not None,
        "visibility": status["visibility"],
        "thread": (status["in_reply_to_id"] == root_id, status["thread_root_id"] == root_id),
        "root replies": await kith.pool.fetchval(
            "SELECT replies_count FROM statuses WHERE id = $1", root_id
        ),
        "mentions": await names(
            "SELECT a.username, m.silent FROM mentions m JOIN accounts a ON a.id = m.account_id"
            " WHERE m.status_id = $1"
        ),
        "tags": await names(
            "SELECT t.name FROM statuses_tags st JOIN tags t ON t.id = st.tag_id"
            " WHERE st.status_id = $1"
        ),
        # Other homes: only a local author has a home of their own here, where their posts go.
        "home": await names(
            "SELECT a.username FROM home_feed h JOIN accounts a ON a.id = h.account_id"
            " WHERE h.status_id = $1 AND h.account_id <> h.author_account_id"
        ),
        # What the author's acts notified (carl's boost notifies only a local author).
        "notifications": await names(
            "SELECT a.username, n.type FROM notifications n JOIN accounts a ON a.id = n.account_id"
            " JOIN statuses s ON s.id = n.status_id"
            " WHERE n.status_id = $1 AND n.from_account_id = s.account_id"
        ),
    }


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_reply_edit_and_delete_leave_the_same_rows(kith, peer, direction):
    amy, carl = await make_local(kith, "amy"), await make_local(kith, "carl")
    author = Author(kith, peer, direction)
    await author.start(follower=carl)
    root = await api(kith.client, amy, "POST", "/api/v1/statuses", json={"status": "hello"})
    root_id = int(root["id"])

    reply_id = await author.reply(root, to=[amy], tag="kith")
    assert await rows(kith, reply_id, root_id) == {
        "deleted": False,
        "visibility": "public",
        "thread": (True, True),
        "root replies": 1,
        "mentions": [("amy", False)],
        "tags": [("kith",)],
        "home": [("carl",)],
        "notifications": [("amy", "mention")],
    }

    await api(kith.client, carl, "POST", f"/api/v1/statuses/{reply_id}/reblog")
    await author.edit(reply_id, to=[amy, carl], tag="fediverse")
    edited = await rows(kith, reply_id, root_id)
    assert edited["mentions"] == [("amy", False), ("carl", False)]
    assert edited["tags"] == [("fediverse",)]
    assert edited["notifications"] == [("amy", "mention"), ("carl", "mention"), ("carl", "update")]
    assert await kith.pool.fetchval("SELECT count(*) FROM status_edits") == 1

    await author.delete(reply_id)
    gone = await rows(kith, reply_id, root_id)
    assert (gone["deleted"], gone["root replies"], gone["home"]) == (True, 0, [])
    assert gone["notifications"] == []
    boosts = await kith.pool.fetchval(
        "SELECT count(*) FROM statuses WHERE reblog_of_id = $1 AND deleted_at IS NULL", reply_id
    )
    assert boosts == 0


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_an_edit_that_adds_a_mention_notifies_the_newly_mentioned(kith, peer, direction):
    amy, carl = await make_local(kith, "amy"), await make_local(kith, "carl")
    author = Author(kith, peer, direction)
    await author.start(follower=carl)
    root = await api(kith.client, carl, "POST", "/api/v1/statuses", json={"status": "hi"})
    reply_id = await author.reply(root, to=[carl], tag="kith")
    assert await api(kith.client, amy, "GET", "/api/v1/notifications") == []

    await author.edit(reply_id, to=[carl, amy], tag="kith")
    [notification] = await api(kith.client, amy, "GET", "/api/v1/notifications")
    assert (notification["type"], notification["status"]["id"]) == ("mention", str(reply_id))
    carls = await api(kith.client, carl, "GET", "/api/v1/notifications")
    assert [n["type"] for n in carls] == ["mention"]  # not notified twice
