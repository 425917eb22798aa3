"""Status ids (`kith_status_id()`, migration 0014): unique and time-ordered, but one id does not
give away the next, and two databases scramble the same sequence value differently. Other
tables keep `kith_id()`, whose ids follow the order rows were made in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from itertools import pairwise

import asyncpg
import pytest

from server.state import POOL
from storage.migrate import migrate
from tests.conftest import dsn_for

LOW_BITS = 0xFFFF
FIXED_AT = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(db_dsn)
    yield connection
    await connection.close()


async def _ids_at(conn: asyncpg.Connection, count: int, at: datetime | None = None) -> list[int]:
    """`count` ids made one after another (at `at`, or now), in the order they were made."""
    rows = await conn.fetch(
        "SELECT g, CASE WHEN $2::timestamptz IS NULL THEN kith_status_id()"
        " ELSE kith_status_id($2) END AS id"
        " FROM generate_series(1, $1) AS g",
        count,
        at,
    )
    return [row["id"] for row in sorted(rows, key=lambda row: row["g"])]


async def test_ids_made_in_a_tight_loop_are_unique_and_ordered_across_milliseconds(conn):
    ids = await _ids_at(conn, 10_000)

    assert len(set(ids)) == len(ids)
    millis = [i >> 16 for i in ids]
    assert millis == sorted(millis)
    assert len(set(millis)) > 1, "the loop should span several milliseconds"
    # Across milliseconds the ids increase, whatever their low bits.
    for earlier, later in pairwise(ids):
        if earlier >> 16 < later >> 16:
            assert earlier < later


async def test_low_bits_of_consecutive_ids_do_not_follow_the_sequence(conn):
    ids = await _ids_at(conn, 10_000, FIXED_AT)
    low = [i & LOW_BITS for i in ids]
    steps = [(b - a) & LOW_BITS for a, b in pairwise(low)]

    # With the plain sequence every step was 1. A permutation keyed per database and millisecond
    # gives steps spread over the whole 16-bit range.
    assert steps.count(1) < 10
    assert len(set(steps)) > 5_000
    assert max(steps.count(step) for step in set(steps)) < 10


async def test_one_millisecond_holds_65536_distinct_ids(conn):
    """The low bits are a permutation of the sequence value, not a hash that could collide."""
    ids = await _ids_at(conn, 65_536, FIXED_AT)

    assert len(set(ids)) == 65_536
    assert {i >> 16 for i in ids} == {int(FIXED_AT.timestamp() * 1000)}
    assert sorted(i & LOW_BITS for i in ids) == list(range(65_536))
    assert [i & LOW_BITS for i in ids] != list(range(65_536))


async def test_other_milliseconds_scramble_the_same_sequence_values_differently(conn):
    await conn.execute("SELECT setval('kith_id_seq', 1000)")
    first = [i & LOW_BITS for i in await _ids_at(conn, 16, FIXED_AT)]
    await conn.execute("SELECT setval('kith_id_seq', 1000)")
    again = [i & LOW_BITS for i in await _ids_at(conn, 16, FIXED_AT)]
    await conn.execute("SELECT setval('kith_id_seq', 1000)")
    next_milli = [i & LOW_BITS for i in await _ids_at(conn, 16, FIXED_AT.replace(microsecond=1000))]

    assert first == again, "the same millisecond and sequence value give the same id"
    assert first != next_milli


@pytest.fixture
async def freshly_migrated(pg_server_dsn: str) -> AsyncIterator[list[asyncpg.Connection]]:
    """Two databases migrated from scratch (not copied from the test template, whose secret
    every test database shares)."""
    admin = await asyncpg.connect(pg_server_dsn)
    names = [f"ids_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    connections = []
    try:
        for name in names:
            await admin.execute(f"CREATE DATABASE {name}")
            connection = await asyncpg.connect(dsn_for(pg_server_dsn, name))
            connections.append(connection)
            await migrate(connection)
        yield connections
    finally:
        for connection in connections:
            await connection.close()
        for name in names:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def test_each_database_has_its_own_secret(freshly_migrated):
    lows = []
    for connection in freshly_migrated:
        await connection.execute("SELECT setval('kith_id_seq', 4242)")
        lows.append([i & LOW_BITS for i in await _ids_at(connection, 16, FIXED_AT)])
    secrets = [await c.fetchval("SELECT secret FROM kith_id_secret") for c in freshly_migrated]

    assert secrets[0] != secrets[1]
    assert len(secrets[0]) == 64
    assert lows[0] != lows[1]


async def test_statuses_take_unguessable_ids_and_other_tables_keep_ordered_ones(
    client, make_member
):
    member = await make_member("alice")
    pool = client.server.app[POOL]
    await pool.execute("SELECT setval('kith_id_seq', 7000)")
    response = await client.post("/api/v1/statuses", json={"status": "hi"}, headers=member.headers)
    assert response.status == 200
    status_id = int((await response.json())["id"])
    permuted = await pool.fetchval(
        "SELECT array_agg(kith_id_permute(s, secret || ':' || $1::bigint))"
        " FROM generate_series(7001, 7100) AS s, kith_id_secret",
        status_id >> 16,
    )
    ordered = await pool.fetchrow("SELECT kith_id($1) AS first, kith_id($1) AS second", FIXED_AT)

    # The status's low bits are the permutation of a sequence value just after 7000...
    assert status_id & LOW_BITS in permuted
    assert not 7001 <= status_id & LOW_BITS <= 7100
    # ...while two ids of another table made in one millisecond still follow the sequence.
    assert ordered["second"] - ordered["first"] == 1
