"""The background job worker, inside `kith serve` or on its own as `kith worker`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from federation import delivery
from federation.context import Federation
from federation.urls import LocalUrls
from server import inbox
from server.composition import open_database, open_federation
from server.config import Config
from server.jobs.runner import Worker
from server.media import pipeline
from server.state import FEDERATION
from server.usecases import blocklists, media, media_cleanup, polls, remote_media
from storage.job_handlers import Registry

log = logging.getLogger(__name__)

CONCURRENCY = 8
# Extra connections for the delivery lane (192 slots). A delivery holds a connection only for its
# bookkeeping, a statement before its request and one after; with only a connection per general
# slot those statements queue behind each other and an answered delivery waits longer to be
# booked: the window in which a killed worker has sent a post it will send again (bench.fanout,
# a remote's receipt to the booking: p90 3.4 ms with these 8 and `delivery.STARTING` = 6,
# 13-22 ms with none; the fan-out itself is CPU-bound and no faster). Kept modest so that
# `kith serve` plus a few `kith worker`s stay within PostgreSQL's default 100 connections
# (README, Production).
DELIVERY_CONNECTIONS = 8
# The connections a worker uses: one per general slot, one held by the LISTEN, one to claim
# with, and the delivery lane's.
POOL_SIZE = CONCURRENCY + 2 + DELIVERY_CONNECTIONS


def build_registry() -> Registry:
    """The production job handlers; each feature that queues jobs registers its handler here.

    Every handler receives the process's `Federation` as its context.
    """
    registry = Registry()
    inbox.register(registry)
    delivery.register(registry)
    blocklists.register(registry)
    remote_media.register(registry)
    media.register(registry)
    media_cleanup.register(registry)
    polls.register(registry)
    return registry


@asynccontextmanager
async def running_worker(federation: Federation) -> AsyncIterator[asyncio.Task[None]]:
    """Run a worker in a background task for the duration of the block, then stop it.

    Periodic jobs that chain themselves are started here when their chain is not running."""
    await media_cleanup.ensure_scheduled(federation.pool)
    worker = Worker(federation.pool, build_registry(), federation, concurrency=CONCURRENCY)
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
    async with running_worker(app[FEDERATION]):
        yield


async def run_standalone_worker(
    config: Config, dsn: str, wait_for_signal: Callable[[], Awaitable[None]]
) -> None:
    """`kith worker`: run jobs until `wait_for_signal()` returns (or the worker crashes)."""
    urls = LocalUrls(config.base_url)
    async with (
        open_database(dsn, urls, pool_size=POOL_SIZE) as pool,
        open_federation(config, pool, urls) as federation,
        running_worker(federation) as task,
    ):
        signal = asyncio.ensure_future(wait_for_signal())
        try:
            await asyncio.wait({signal, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            signal.cancel()
    await pipeline.close_pool()  # after the worker: its media jobs ran in the pipeline's pool
