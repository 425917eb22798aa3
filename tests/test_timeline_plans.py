"""Timeline queries stay index range scans on a sizeable database.

200,000 statuses by 3,000 accounts (5% of them local), a reader following 1,000 of them with
65,000 rows of home feed (196,000 in all) and 2,000 hashtags are seeded with `generate_series`.
Every production timeline query is then EXPLAINed: no sequential scan of the big tables, one of
the intended indexes, and an execution time of milliseconds; the generic plan that a prepared
statement switches to after a few runs is checked as well.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import orjson
import pytest

from storage import timelines
from storage.pagination import Page
from tests.conftest import TEMPLATE_DB, dsn_for

STATUSES = 200_000
ACCOUNTS = 3_000
LOCAL_ACCOUNTS = 150  # ids 1..150 are local, the rest remote: local statuses are a minority
FOLLOWED = 1_000  # the reader (account 1) follows accounts 2..1001
READER = 1
BIG_TABLES = {"statuses", "home_feed", "statuses_tags"}
MAX_EXECUTION_MS = 50.0

# Status number g gets this id (one status a second, newest last) and this author (spread
# evenly: 7919 is prime to ACCOUNTS).
STATUS_ID = "((1700000000000 + g * 1000) << 16)"
AUTHOR = f"(1 + (g::bigint * 7919) % {ACCOUNTS})"

SEED = f"""
-- The data is consistent by construction; skipping foreign-key triggers halves seeding time.
SET session_replication_role = replica;

INSERT INTO accounts (id, username, domain, uri)
SELECT g, 'user' || g, CASE WHEN g > {LOCAL_ACCOUNTS} THEN 'remote.example' END,
       'https://seed.test/a/' || g
FROM generate_series(1, {ACCOUNTS}) g;

INSERT INTO follows (account_id, target_account_id)
SELECT {READER}, g FROM generate_series(2, {FOLLOWED + 1}) g;
-- Two more readers, so that home_feed holds more than one reader's rows.
INSERT INTO follows (account_id, target_account_id)
SELECT f, g FROM generate_series(2, 3) f, generate_series(500, 1500) g;

INSERT INTO statuses (id, uri, account_id, local, visibility, local_only, reblog_of_id,
                      in_reply_to_id, in_reply_to_account_id, deleted_at, content)
SELECT {STATUS_ID}, 'https://seed.test/s/' || g, {AUTHOR}, {AUTHOR} <= {LOCAL_ACCOUNTS},
       CASE WHEN g % 10 = 1 THEN 'unlisted' WHEN g % 10 = 2 THEN 'private'
            WHEN g % 50 = 3 THEN 'direct' ELSE 'public' END,
       {AUTHOR} <= {LOCAL_ACCOUNTS} AND g % 40 = 4,
       CASE WHEN g % 20 = 5 AND g > 10 THEN ((1700000000000 + (g - 7) * 1000) << 16) END,
       CASE WHEN g % 13 = 6 AND g > 10 THEN ((1700000000000 + (g - 1) * 1000) << 16) END,
       CASE WHEN g % 13 = 6 AND g > 10 THEN 1 + ((g - 1)::bigint * 7919) % {ACCOUNTS} END,
       CASE WHEN g % 100 = 7 THEN now() END,
       '<p>seeded</p>'
FROM generate_series(1, {STATUSES}) g;

-- Three tags to query, and a long tail of 2,000 others (as in real data: the planner's guess
-- for a tag it does not know yet depends on how many distinct tags there are).
INSERT INTO tags (id, name) VALUES (1, 'Common'), (2, 'rare'), (3, 'other');
INSERT INTO tags (id, name) SELECT g, 'tail' || g FROM generate_series(4, 2003) g;
INSERT INTO statuses_tags (status_id, tag_id)
SELECT {STATUS_ID}, 1 FROM generate_series(1, {STATUSES}) g WHERE g % 5 = 0
UNION ALL
SELECT {STATUS_ID}, 2 FROM generate_series(1, {STATUSES}) g WHERE g % 1000 = 0
UNION ALL
SELECT {STATUS_ID}, 3 FROM generate_series(1, {STATUSES}) g WHERE g % 7 = 0
UNION ALL
SELECT {STATUS_ID}, 4 + g % 2000 FROM generate_series(1, {STATUSES}) g WHERE g % 3 = 0;

-- What fan-out on write would have produced: followers' rows plus the authors' own.
INSERT INTO home_feed (account_id, status_id, author_account_id)
SELECT f.account_id, s.id, s.account_id
FROM follows f JOIN statuses s ON s.account_id = f.target_account_id
WHERE s.visibility <> 'direct'
UNION ALL
SELECT s.account_id, s.id, s.account_id FROM statuses s WHERE s.account_id <= 3;

INSERT INTO blocks (account_id, target_account_id) VALUES ({READER}, 5), (7, {READER});
INSERT INTO mutes (account_id, target_account_id) VALUES ({READER}, 6);
INSERT INTO account_domain_blocks (account_id, domain) VALUES ({READER}, 'blocked.example');

RESET session_replication_role;
ANALYZE;
"""


async def _seed(server_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn_for(server_dsn, name))
    try:
        await conn.execute(SEED)
    finally:
        await conn.close()


async def _drop(server_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def seeded_dsn(pg_server_dsn: str) -> Iterator[str]:
    """One seeded database shared by this module's tests (seeding takes a few seconds)."""
    name = f"plans_{uuid.uuid4().hex[:12]}"
    asyncio.run(_seed(pg_server_dsn, name))
    yield dsn_for(pg_server_dsn, name)
    asyncio.run(_drop(pg_server_dsn, name))


def _status_id(g: int) -> int:
    return (1_700_000_000_000 + g * 1000) << 16


MIDDLE = _status_id(STATUSES // 2)

HOME = {"home_feed_pkey"}
# The planner may walk the primary key instead when few statuses are filtered out: also an
# ordered range scan that stops after a page.
PUBLIC = {"statuses_public_idx", "statuses_pkey"}
TAG = {"statuses_tags_tag_idx"}

# name -> (query builder, indexes of which one must be used)
QUERIES: dict[str, tuple[Callable[[], timelines.Query], set[str]]] = {
    "home": (lambda: timelines.home_query(READER, Page(limit=20)), HOME),
    "home max_id": (
        lambda: timelines.home_query(READER, Page(max_id=MIDDLE, limit=40)),
        HOME,
    ),
    "home min_id": (
        lambda: timelines.home_query(READER, Page(min_id=MIDDLE, limit=20)),
        HOME,
    ),
    "public all": (lambda: timelines.public_query(READER, Page()), PUBLIC),
    "public local": (
        lambda: timelines.public_query(READER, Page(limit=40), local=True),
        PUBLIC,
    ),
    "public remote anonymous": (
        lambda: timelines.public_query(None, Page(max_id=MIDDLE), remote=True),
        PUBLIC,
    ),
    "tag common": (lambda: timelines.tag_query(READER, Page(), [1]), TAG),
    "tag rare anonymous": (
        lambda: timelines.tag_query(None, Page(max_id=MIDDLE), [2]),
        TAG,
    ),
    "tag any/all/none": (
        lambda: timelines.tag_query(READER, Page(), [2, 4], all_ids=[1], none_ids=[3]),
        TAG,
    ),
}


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _check_plan(plan: dict[str, Any], indexes: set[str]) -> None:
    nodes = list(_nodes(plan["Plan"]))
    seq_scans = [
        n["Relation Name"]
        for n in nodes
        if n["Node Type"] == "Seq Scan" and n["Relation Name"] in BIG_TABLES
    ]
    assert not seq_scans, f"sequential scan of {seq_scans}"
    used = {n.get("Index Name") for n in nodes}
    assert indexes & used, f"none of {indexes} used"


async def _generic_plan(conn: asyncpg.Connection, query: timelines.Query) -> dict[str, Any]:
    """The plan a prepared statement switches to after a few runs (planned without arguments).

    EXPLAIN (GENERIC_PLAN) refuses bound arguments, so the text goes through PL/pgSQL's EXECUTE.
    """
    await conn.execute(
        """
        CREATE OR REPLACE FUNCTION pg_temp.generic_plan(statement text) RETURNS json
        LANGUAGE plpgsql AS $$
        DECLARE plan json;
        BEGIN
            EXECUTE 'EXPLAIN (GENERIC_PLAN, FORMAT JSON) ' || statement INTO plan;
            RETURN plan;
        END $$
        """
    )
    return orjson.loads(await conn.fetchval("SELECT pg_temp.generic_plan($1)", query.sql))[0]


@pytest.mark.parametrize("name", list(QUERIES))
async def test_timeline_query_is_an_index_scan(seeded_dsn: str, name: str):
    build, indexes = QUERIES[name]
    query = build()
    conn = await asyncpg.connect(seeded_dsn)
    try:
        plan = await timelines.explain(conn, query, analyze=True)
        _check_plan(plan, indexes)
        assert plan["Plan"]["Actual Rows"] >= 20  # a full page
        assert plan["Execution Time"] < MAX_EXECUTION_MS, plan["Execution Time"]

        _check_plan(await _generic_plan(conn, query), indexes)
    finally:
        await conn.close()
