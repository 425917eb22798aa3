"""The composition root: where a Kith process's parts are made from its settings, once.

Every way of running Kith starts here: `kith serve` (`server.app.create_app` with the worker in
process), `kith worker` (`server.jobs.worker.run_standalone_worker`), the other CLI commands and the
tests. Each part is an async context manager, so whoever assembles a process decides its
lifetime: the database (migrated, pooled, with the instance actor in place) and the
`Federation` context (the outgoing HTTP client and the gate) that the inbox, delivery, fetching
and the job handlers share.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from aiohttp.abc import AbstractResolver

from federation.context import Federation
from federation.http import create_client_session
from federation.instance_actor import ensure_instance_actor
from federation.urls import LocalUrls
from server.config import VERSION, Config
from storage.db import connect, create_pool
from storage.embedded import start_embedded
from storage.media_files import MediaStore
from storage.migrate import migrate


def database_url(config: Config) -> str:
    """The configured database, or the embedded one (started on demand) when none is."""
    if config.database_url:
        return config.database_url
    return start_embedded(config.embedded_db_dir).get_uri()


async def prepare_database(dsn: str) -> list[str]:
    """Apply pending migrations; return the versions applied."""
    async with connect(dsn) as conn:
        return await migrate(conn)


def user_agent(config: Config) -> str:
    return f"Kith/{VERSION} (+{config.base_url}/)"


@asynccontextmanager
async def open_database(
    dsn: str, urls: LocalUrls, *, pool_size: int
) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the migrated database at `dsn`, with the instance actor made if missing."""
    await prepare_database(dsn)
    pool = await create_pool(dsn, max_size=pool_size)
    try:
        await ensure_instance_actor(pool, urls)
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def open_federation(
    config: Config,
    pool: asyncpg.Pool,
    urls: LocalUrls,
    *,
    resolver: AbstractResolver | None = None,
    listen_to_gate: bool = False,
) -> AsyncIterator[Federation]:
    """The `Federation` context on `pool`, with its HTTP client open for the block.

    `resolver` replaces DNS for outgoing requests (tests map peer host names to loopback ports).
    With `listen_to_gate`, the gate caches its decisions and one pooled connection LISTENs for
    block, allow and setting changes (web processes, which answer inbox POSTs); without, every
    check reads the database.
    """
    async with create_client_session(
        user_agent=user_agent(config),
        allow_private_addresses=config.allow_private_addresses,
        resolver=resolver,
    ) as http:
        federation = Federation(
            pool=pool,
            urls=urls,
            http=http,
            allow_private_addresses=config.allow_private_addresses,
            media=MediaStore(config.media_dir),
        )
        if not listen_to_gate:
            yield federation
            return
        async with federation.gate.listening(pool):
            yield federation
