"""Connection pools. Every connection decodes json/jsonb columns with orjson."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""One connection, for statements that must share it (a transaction, a lock): asyncpg's own
(`connect`) or one borrowed with `pool.acquire()`, which asyncpg's types keep apart from
`asyncpg.Connection` although `isinstance` says it is one."""

Executor: TypeAlias = asyncpg.Pool | Conn
"""Whatever runs a statement: the pool (any free connection) or a held connection."""

Row: TypeAlias = asyncpg.Record | Mapping[str, Any]
"""A row read by name: as asyncpg returns it, or built in Python with the same keys (a
`Record` is not a `Mapping` to the type checker: iterating one yields values)."""


class DatabaseUnavailable(Exception):
    """The configured database could not be reached."""


class MissingRow(LookupError):
    """A statement that returns a row by contract returned none: a bug, or a row deleted under
    a caller that should have held it locked."""


async def fetch_one(db: Executor, query: str, *args: object) -> asyncpg.Record:
    """The row of a statement that always returns one: an INSERT … RETURNING, an aggregate, or
    an UPDATE … RETURNING of a row the caller holds (locked, or just read in its transaction)."""
    row = await db.fetchrow(query, *args)
    if row is None:
        raise MissingRow(f"no row from: {' '.join(query.split())[:200]}")
    return row


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


class PooledConnection(asyncpg.Connection):
    """A pool connection released without a reset query, which would cost a round trip on
    every release (a third of a simple query's time). Kith keeps no session state on pooled
    connections: no SET, no session advisory locks (only `pg_advisory_xact_lock`), and whoever
    LISTENs removes its listener. asyncpg still rolls back an open transaction on release."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    try:
        return await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            timeout=10,
            connection_class=PooledConnection,
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc


@asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A single connection, for command-line tools and migrations."""
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
    try:
        await _init_connection(conn)
        yield conn
    finally:
        await conn.close()
