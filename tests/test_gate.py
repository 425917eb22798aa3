"""The federation gate on its own: the pure rule, subdomain matching and allowlist mode, against
a real database, and the audience gate inside `deliver`."""

from __future__ import annotations

import asyncio

import pytest

from federation import gate
from federation.delivery.enqueue import deliver
from server.usecases import domain_blocks as service
from storage import domain_blocks as store
from storage.db import create_pool


@pytest.fixture
async def pool(db_dsn: str):
    pool = await create_pool(db_dsn, max_size=2)
    yield pool
    await pool.close()


async def allowlist_mode(pool) -> None:
    await pool.execute(
        "INSERT INTO instance_settings (key, value) "
        "VALUES ('federation_mode', to_jsonb('allowlist'::text))"
    )


ACTIVITY = {
    "id": "https://kith.example/activities/1",
    "type": "Create",
    "actor": "https://kith.example/users/alice",
    "object": {"id": "https://kith.example/statuses/1", "type": "Note"},
}


async def local_actor(pool) -> int:
    return await pool.fetchval(
        "INSERT INTO accounts (username, uri) VALUES ('alice', 'https://kith.example/users/alice')"
        " RETURNING id"
    )


def test_suffixes_cover_parent_domains_and_ignore_the_port():
    assert store.suffixes("A.Example.com:8443") == ["a.example.com", "example.com", "com"]
    assert store.suffixes("localhost") == ["localhost"]


def test_the_pure_rule():
    suspend = {"domain": "example.com", "severity": "suspend"}
    silence = {"domain": "example.com", "severity": "silence", "reject_media": True}
    silence["reject_reports"] = False
    with pytest.raises(gate.Refused):
        gate.decide("a.example.com", allowlist=False, allowed=False, block=suspend)
    with pytest.raises(gate.Refused):
        gate.decide("other.org", allowlist=True, allowed=False, block=None)
    assert gate.decide("other.org", allowlist=False, allowed=False, block=None).severity is None
    decision = gate.decide("example.com", allowlist=True, allowed=True, block=silence)
    assert (decision.severity, decision.reject_media) == ("silence", True)


async def test_a_suspension_covers_subdomains_but_not_lookalikes(pool):
    await service.create_block(pool, "Example.COM", {"severity": "suspend"}, actor_id=None)
    for host in ("example.com", "a.example.com", "b.a.example.com:8080"):
        with pytest.raises(gate.Refused):
            await gate.check_incoming(pool, host)
    for host in ("notexample.com", "example.com.evil.org", "example.org"):
        assert (await gate.check_incoming(pool, host)).severity is None


async def test_the_most_specific_block_wins(pool):
    await service.create_block(pool, "example.com", {"severity": "suspend"}, actor_id=None)
    await service.create_block(pool, "ok.example.com", {"severity": "silence"}, actor_id=None)
    assert (await gate.check_incoming(pool, "a.ok.example.com")).severity == "silence"
    with pytest.raises(gate.Refused):
        await gate.check_incoming(pool, "b.example.com")


async def test_allowlist_mode_lets_only_allowed_domains_and_their_subdomains_in(pool):
    await service.create_allow(pool, "friends.example", actor_id=None)
    assert (await gate.check_incoming(pool, "a.friends.example")).severity is None
    assert (await gate.check_incoming(pool, "stranger.example")).severity is None
    await allowlist_mode(pool)
    assert (await gate.check_incoming(pool, "a.friends.example")).severity is None
    with pytest.raises(gate.Refused, match="allowlist"):
        await gate.check_incoming(pool, "stranger.example")


async def test_a_suspension_beats_an_allow(pool):
    await allowlist_mode(pool)
    await service.create_allow(pool, "example.com", actor_id=None)
    await service.create_block(pool, "bad.example.com", {"severity": "suspend"}, actor_id=None)
    with pytest.raises(gate.Refused):
        await gate.check_incoming(pool, "bad.example.com")


async def test_refused_hosts_applies_check_incomings_rule_to_each_host(pool):
    await service.create_block(pool, "example.com", {"severity": "suspend"}, actor_id=None)
    await service.create_block(pool, "ok.example.com", {"severity": "silence"}, actor_id=None)
    await service.create_allow(pool, "friends.example", actor_id=None)
    hosts = [
        "example.com",
        "b.example.com:8443",
        "a.ok.example.com",
        "notexample.com",
        "a.friends.example",
        "stranger.example",
    ]

    async def one_by_one() -> set[str]:
        refused = set()
        for host in hosts:
            try:
                await gate.check_incoming(pool, host)
            except gate.Refused:
                refused.add(host)
        return refused

    assert await gate.refused_hosts(pool, hosts) == {"example.com", "b.example.com:8443"}
    assert await gate.refused_hosts(pool, hosts) == await one_by_one()
    await allowlist_mode(pool)
    refused = await gate.refused_hosts(pool, hosts)
    assert refused == await one_by_one()
    assert "stranger.example" in refused and "a.friends.example" not in refused
    assert await gate.refused_hosts(pool, []) == set()


async def test_deliver_drops_refused_inboxes(pool):
    await service.create_block(pool, "blocked.example", {"severity": "suspend"}, actor_id=None)
    actor = await local_actor(pool)
    activity = ACTIVITY
    inboxes = ["https://a.blocked.example/inbox", "https://fine.example/inbox"]
    async with pool.acquire() as conn, conn.transaction():
        assert await deliver(conn, actor_id=actor, activity=activity, inboxes=inboxes) == 1
    assert await pool.fetchval("SELECT array_agg(inbox_url) FROM deliveries") == [
        "https://fine.example/inbox"
    ]
    async with pool.acquire() as conn, conn.transaction():
        only_blocked = {**activity, "id": "https://kith.example/activities/2"}
        assert await deliver(conn, actor_id=actor, activity=only_blocked, inboxes=inboxes[:1]) == 0


async def test_suspending_gives_up_deliveries_queued_before(pool):
    actor = await local_actor(pool)
    activity = ACTIVITY
    inboxes = ["https://a.late.example:8443/inbox", "https://fine.example/inbox"]
    async with pool.acquire() as conn, conn.transaction():
        assert await deliver(conn, actor_id=actor, activity=activity, inboxes=inboxes) == 2
    await service.create_block(pool, "late.example", {"severity": "suspend"}, actor_id=None)
    rows = await pool.fetch("SELECT host, state FROM deliveries ORDER BY host")
    assert [tuple(row) for row in rows] == [
        ("a.late.example:8443", "failed"),
        ("fine.example", "pending"),
    ]


async def eventually(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_the_gate_cache_remembers_only_while_listening_and_forgets_any_change(pool):
    cache = gate.GateCache()
    await cache.check(pool, "a.example")
    assert "a.example" not in cache  # not listening: nothing kept
    async with cache.listening(pool):
        await cache.check(pool, "a.example")
        assert "a.example" in cache
        await service.create_block(pool, "example", {"severity": "suspend"}, actor_id=None)
        await eventually(lambda: "a.example" not in cache)
        with pytest.raises(gate.Refused, match="suspended"):
            await cache.check(pool, "a.example")
        with pytest.raises(gate.Refused):  # the refusal is remembered too, and raised anew
            await cache.check(pool, "a.example")
        assert "a.example" in cache
        await cache.check(pool, "friends.test")
        await allowlist_mode(pool)  # a setting changed: every decision is dropped
        await eventually(lambda: "friends.test" not in cache)
        with pytest.raises(gate.Refused, match="allowlist"):
            await cache.check(pool, "friends.test")
    assert "a.example" not in cache


async def test_the_gate_cache_stops_caching_when_its_listener_is_lost(pool):
    cache = gate.GateCache()
    async with cache.listening(pool):
        await cache.check(pool, "a.test")
        assert "a.test" in cache
        await pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
        )
        await eventually(lambda: "a.test" not in cache)
        await cache.check(pool, "b.test")
        assert "b.test" not in cache
