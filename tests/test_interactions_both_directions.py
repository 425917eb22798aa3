"""A favourite or a boost is the same act whoever makes it.

alice (on kith.test) posts; a booster favourites and boosts it, then takes both back, either as
bob, a member of kith.test, through the client API, or as ana, on peer.test, through signed
Like, Announce and Undo activities delivered to the inbox. carl, a member, follows the booster.
Both directions must leave the same rows, counters, notifications and streaming announcements
(the database's NOTIFYs on `kith_stream`, which the streaming API renders): the boost enters
carl's home feed, alice hears of both acts, and undoing takes all of it back. Each act is
idempotent both ways, and an Undo finds a remote act by its activity's id or by its object.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from federation import remote_accounts
from storage import streaming
from tests.api import api
from tests.federation_harness import Instance
from tests.inbox_peer import (  # noqa: F401 - fixtures
    PUBLIC,
    Local,
    Peer,
    follow_row,
    kith_fixture,
    make_local,
    peer_fixture,
    process,
)

SENTINEL = "x:sentinel"


@dataclass
class Events:
    """What the database announced on the streaming channel, in commit order."""

    payloads: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def receive(self, payload: str) -> None:
        self.payloads.append(payload)
        if payload == SENTINEL:
            self.arrived.set()

    async def take(self, kith: Instance) -> list[str]:
        """Everything announced so far: NOTIFYs arrive in commit order, so once a sentinel sent
        now has arrived, so has every announcement before it."""
        self.arrived.clear()
        await kith.pool.execute("SELECT pg_notify($1, $2)", streaming.CHANNEL, SENTINEL)
        await asyncio.wait_for(self.arrived.wait(), 10)
        taken = [p for p in self.payloads if p != SENTINEL]
        self.payloads.clear()
        return taken


@dataclass
class Scene:
    kith: Instance
    alice: Local
    carl: Local
    status: dict[str, Any]
    events: Events


class Booster:
    """Who favourites and boosts alice's post; each act must succeed."""

    account_id: int
    acct: str
    is_local: bool

    def act_uri(self, kind: str) -> str | None:
        """The id of the last activity of `kind` that carried an act (a remote act only)."""
        return None

    async def favourite(self, s: Scene) -> None:
        raise NotImplementedError

    async def unfavourite(self, s: Scene) -> None:
        raise NotImplementedError

    async def boost(self, s: Scene) -> None:
        raise NotImplementedError

    async def unboost(self, s: Scene) -> None:
        raise NotImplementedError


class Member(Booster):
    """bob, through the client API."""

    is_local = True

    def __init__(self, bob: Local) -> None:
        self.bob, self.account_id, self.acct = bob, bob.account_id, "bob"

    async def _post(self, s: Scene, action: str) -> None:
        path = f"/api/v1/statuses/{s.status['id']}/{action}"
        async with s.kith.client.post(path, headers=self.bob.headers) as response:
            assert response.status == 200, await response.text()

    async def favourite(self, s: Scene) -> None:
        await self._post(s, "favourite")

    async def unfavourite(self, s: Scene) -> None:
        await self._post(s, "unfavourite")

    async def boost(self, s: Scene) -> None:
        await self._post(s, "reblog")

    async def unboost(self, s: Scene) -> None:
        await self._post(s, "unreblog")


class Remote(Booster):
    """ana, through activities delivered to the inbox; an Undo embeds the last act it undoes."""

    is_local = False

    def __init__(self, peer: Peer, account_id: int) -> None:
        self.peer, self.account_id, self.acct = peer, account_id, "ana@peer.test"
        self.likes: list[dict[str, Any]] = []
        self.announces: list[dict[str, Any]] = []

    def act_uri(self, kind: str) -> str | None:
        return (self.likes if kind == "Like" else self.announces)[-1]["id"]

    async def favourite(self, s: Scene) -> None:
        self.likes.append(self.peer.activity("Like", s.status["uri"]))
        assert await process(s.kith, self.peer, self.likes[-1]) == "ok"

    async def unfavourite(self, s: Scene) -> None:
        undo = self.peer.activity("Undo", self.likes[-1])
        assert await process(s.kith, self.peer, undo) == "ok"

    async def boost(self, s: Scene) -> None:
        announce = self.peer.activity("Announce", s.status["uri"], to=[PUBLIC], cc=[s.alice.uri])
        self.announces.append(announce)
        assert await process(s.kith, self.peer, announce) == "ok"

    async def unboost(self, s: Scene) -> None:
        undo = self.peer.activity("Undo", self.announces[-1])
        assert await process(s.kith, self.peer, undo) == "ok"


@pytest.fixture(params=["member", "remote"])
async def both(request, kith: Instance, peer: Peer):
    """The scene and its booster, in either direction; the stream listened to throughout."""
    alice, carl = await make_local(kith, "alice"), await make_local(kith, "carl")
    booster: Booster
    if request.param == "member":
        booster = Member(await make_local(kith, "bob"))
    else:
        peer.server.serve("/inbox", {}, status=202)
        ana = await remote_accounts.resolve_actor(kith.federation, peer.actor())
        booster = Remote(peer, ana["id"])
    await follow_row(kith, carl.account_id, booster.account_id)
    async with kith.client.post(
        "/api/v1/statuses", json={"status": "hello"}, headers=alice.headers
    ) as response:
        assert response.status == 200, await response.text()
        status = await response.json()
    await kith.drain()
    events = Events()
    listener = await streaming.listen(kith.dsn, events.receive, lambda: None)
    try:
        scene = Scene(kith, alice, carl, status, events)
        await events.take(kith)  # what came before the acts
        yield scene, booster
    finally:
        await listener.close()


# -- What the acts left behind ---------------------------------------------------------------------


async def get(s: Scene, member: Local, path: str) -> Any:
    return await api(s.kith.client, member, "GET", path)


async def counts(s: Scene) -> tuple[int, int]:
    """(favourites, boosts) of alice's post, as the API shows it."""
    shown = await get(s, s.alice, f"/api/v1/statuses/{s.status['id']}")
    return shown["favourites_count"], shown["reblogs_count"]


async def notifications(s: Scene) -> list[tuple[str, str]]:
    return [
        (n["type"], n["account"]["acct"]) for n in await get(s, s.alice, "/api/v1/notifications")
    ]


async def favourite_rows(s: Scene, booster: Booster) -> list[asyncpg.Record]:
    return await s.kith.pool.fetch(
        "SELECT status_id, uri FROM favourites WHERE account_id = $1", booster.account_id
    )


async def boost_rows(s: Scene, booster: Booster) -> list[asyncpg.Record]:
    return await s.kith.pool.fetch(
        "SELECT id, uri, local, visibility, reblog_of_id, deleted_at FROM statuses"
        " WHERE account_id = $1 AND reblog_of_id IS NOT NULL",
        booster.account_id,
    )


def announced(payloads: list[str], s: Scene, booster: Booster) -> list[tuple[str, Any]]:
    """The announcements, in a form that does not depend on the direction: home feeds entered
    (local readers other than the booster), notifications (by recipient), statuses created and
    deleted (by id)."""
    events: list[tuple[str, Any]] = []
    for payload in payloads:
        kind, _, rest = payload.partition(":")
        if kind == "h":
            status_id, _, readers = rest.partition(":")
            others = {int(r) for r in readers.split(",")} - {booster.account_id}
            events.append(("home", (int(status_id), others)))
        elif kind == "n":
            events.extend(("notified", int(item.split("/")[1])) for item in rest.split(","))
        elif kind in ("s", "d"):
            events.extend(
                ("created" if kind == "s" else "deleted", int(i)) for i in rest.split(",")
            )
        else:
            events.append((kind, rest))
    return events


# -- Both directions ------------------------------------------------------------------------------


async def test_a_favourite_and_its_undoing_are_the_same_both_ways(both):
    s, booster = both
    await booster.favourite(s)
    [row] = await favourite_rows(s, booster)
    assert row["status_id"] == int(s.status["id"])
    # A remote favourite keeps its Like's id, for an Undo that names only that.
    assert row["uri"] == booster.act_uri("Like")
    assert await counts(s) == (1, 0)
    assert await notifications(s) == [("favourite", booster.acct)]
    assert announced(await s.events.take(s.kith), s, booster) == [("notified", s.alice.account_id)]

    await booster.unfavourite(s)
    assert await favourite_rows(s, booster) == []
    assert await counts(s) == (0, 0)
    assert await notifications(s) == []
    assert announced(await s.events.take(s.kith), s, booster) == []


async def test_a_boost_and_its_undoing_are_the_same_both_ways(both):
    s, booster = both
    await booster.boost(s)
    [row] = await boost_rows(s, booster)
    assert (row["reblog_of_id"], row["visibility"], row["deleted_at"]) == (
        int(s.status["id"]),
        "public",
        None,
    )
    assert row["local"] is booster.is_local
    if not booster.is_local:  # its id is its Announce's, for an Undo that names only that
        assert row["uri"] == booster.act_uri("Announce")
    assert await counts(s) == (0, 1)
    assert await notifications(s) == [("reblog", booster.acct)]
    [entry] = await get(s, s.carl, "/api/v1/timelines/home")
    assert (entry["id"], entry["reblog"]["id"]) == (str(row["id"]), s.status["id"])
    assert announced(await s.events.take(s.kith), s, booster) == [
        ("created", row["id"]),
        ("home", (row["id"], {s.carl.account_id})),
        ("notified", s.alice.account_id),
    ]

    await booster.unboost(s)
    [row] = await boost_rows(s, booster)
    assert row["deleted_at"] is not None
    assert await counts(s) == (0, 0)
    assert await notifications(s) == []
    assert await get(s, s.carl, "/api/v1/timelines/home") == []
    assert announced(await s.events.take(s.kith), s, booster) == [("deleted", row["id"])]


async def test_each_act_is_idempotent_both_ways(both):
    s, booster = both
    for _ in range(2):
        await booster.favourite(s)
        await booster.boost(s)
    assert len(await favourite_rows(s, booster)) == 1
    assert len(await boost_rows(s, booster)) == 1
    assert await counts(s) == (1, 1)
    assert sorted(await notifications(s)) == [("favourite", booster.acct), ("reblog", booster.acct)]
    assert len(await get(s, s.carl, "/api/v1/timelines/home")) == 1

    for _ in range(2):
        await booster.unfavourite(s)
        await booster.unboost(s)
    assert await favourite_rows(s, booster) == []
    assert [row["deleted_at"] is not None for row in await boost_rows(s, booster)] == [True]
    assert await counts(s) == (0, 0)  # never below zero
    assert await notifications(s) == []


# -- An Undo names the remote act by its id, or by what it acted on -------------------------------


def naming(activity: dict[str, Any], by: str, peer: Peer) -> dict[str, Any]:
    """The undone activity as an Undo embeds it: its id alone (with its type and actor), or an id
    Kith never saw with the object it acted on."""
    if by == "id":
        return {"id": activity["id"], "type": activity["type"], "actor": activity["actor"]}
    return {**activity, "id": f"{peer.base_url}/activities/never-seen"}


@pytest.mark.parametrize("by", ["id", "object"])
async def test_an_undo_finds_a_favourite_by_its_likes_id_or_by_its_object(kith, peer, by):
    alice = await make_local(kith, "alice")
    async with kith.client.post(
        "/api/v1/statuses", json={"status": "hello"}, headers=alice.headers
    ) as response:
        status = await response.json()
    like = peer.activity("Like", status["uri"])
    assert await process(kith, peer, like) == "ok"
    assert await kith.pool.fetchval("SELECT count(*) FROM favourites") == 1
    assert await process(kith, peer, peer.activity("Undo", naming(like, by, peer))) == "ok"
    assert await kith.pool.fetchval("SELECT count(*) FROM favourites") == 0
    assert (
        await kith.pool.fetchval(
            "SELECT favourites_count FROM statuses WHERE uri = $1", status["uri"]
        )
        == 0
    )


@pytest.mark.parametrize("by", ["id", "object"])
async def test_an_undo_finds_a_boost_by_its_announces_id_or_by_its_object(kith, peer, by):
    alice = await make_local(kith, "alice")
    async with kith.client.post(
        "/api/v1/statuses", json={"status": "hello"}, headers=alice.headers
    ) as response:
        status = await response.json()
    announce = peer.activity("Announce", status["uri"], to=[PUBLIC])
    assert await process(kith, peer, announce) == "ok"
    live = "SELECT count(*) FROM statuses WHERE reblog_of_id IS NOT NULL AND deleted_at IS NULL"
    assert await kith.pool.fetchval(live) == 1
    assert await process(kith, peer, peer.activity("Undo", naming(announce, by, peer))) == "ok"
    assert await kith.pool.fetchval(live) == 0
    assert (
        await kith.pool.fetchval("SELECT reblogs_count FROM statuses WHERE uri = $1", status["uri"])
        == 0
    )
