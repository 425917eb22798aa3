"""The background job worker, inside `kith serve` or on its own as `kith worker`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from federation.jobs import Registry, Worker
from server.app import prepare_database
from server.config import Config
from server.state import CONFIG, POOL
from storage.db import create_pool

log = logging.getLogger(__name__)

CONCURRENCY = 8


@dataclass(frozen=True)
class JobContext:
    """What every job handler receives as `ctx`."""

    config: Config
    pool: asyncpg.Pool


def build_registry() -> Registry:
    """The production job handlers; each feature that queues jobs registers its handler here."""
    return Registry()


@asynccontextmanager
async def running_worker(config: Config, pool: asyncpg.Pool) -> AsyncIterator[asyncio.Task[None]]:
    """Run a worker in a background task for the duration of the block, then stop it."""
    worker = Worker(pool, build_registry(), JobContext(config, pool), concurrency=CONCURRENCY)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="kith-worker")
    log.info("job worker %s started", worker.worker_id)
    try:
        yield task
    finally:
        stop.set()
        await task
        log.info("job worker %s stopped", worker.worker_id)


async def worker_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: runs the worker on the app's pool, so it must follow the database context."""
    async with running_worker(app[CONFIG], app[POOL]):
        yield


async def run_standalone_worker(
    config: Config, dsn: str, wait_for_signal: Callable[[], Awaitable[None]]
) -> None:
    """`kith worker`: run jobs until `wait_for_signal()` returns (or the worker crashes)."""
    await prepare_database(dsn)
    # A connection for each running job, one held by the LISTEN, one to claim with.
    pool = await create_pool(dsn, max_size=CONCURRENCY + 2)
    try:
        async with running_worker(config, pool) as task:
            signal = asyncio.ensure_future(wait_for_signal())
            try:
                await asyncio.wait({signal, task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                signal.cancel()
    finally:
        await pool.close()
