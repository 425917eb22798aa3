"""The web application: its routes, middlewares and the resources it holds.

The parts come from the composition root (`server/composition.py`); here they are tied to the
application's lifetime as `cleanup_ctx` generators (the database pool, the federation context,
the background worker, the media pipeline's processes), so that nothing is created at import
time and tests can build as many independent apps as they like.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractResolver

import web as web_package
from federation.endpoints import actors, inbox, nodeinfo, webfinger
from federation.urls import LocalUrls
from server.api import (
    accounts,
    admin_accounts,
    admin_blocklists,
    admin_domains,
    admin_federation,
    admin_policies,
    admin_polls,
    admin_reports,
    apps,
    audit_log,
    blocks,
    domain_blocks,
    filters,
    followers,
    instance,
    invites,
    markers,
    media,
    notifications,
    oauth,
    polls,
    reports,
    search,
    status_edits,
    statuses,
    streaming,
    timelines,
)
from server.composition import open_database, open_federation
from server.config import Config
from server.cors import cors_middleware
from server.errors import error_middleware
from server.jobs import worker
from server.media import pipeline
from server.state import CONFIG, FEDERATION, POOL, URLS
from server.streaming.hub import install as install_streaming
from server.trailing_slash import trailing_slash_middleware
from web import views

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024
# Database connections for serving requests (the gate cache's LISTEN holds one of them).
WEB_CONNECTIONS = 10


def _database_context(dsn: str, pool_size: int) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        async with open_database(dsn, app[URLS], pool_size=pool_size) as pool:
            app[POOL] = pool
            yield

    return database


async def _media_pool(app: web.Application) -> AsyncIterator[None]:
    """The media pipeline's worker processes start with the first upload and stop with the app
    (after the in-process worker, whose media jobs use them)."""
    yield
    await pipeline.close_pool()


def _federation_context(
    resolver: AbstractResolver | None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def federation(app: web.Application) -> AsyncIterator[None]:
        async with open_federation(
            app[CONFIG], app[POOL], app[URLS], resolver=resolver, listen_to_gate=True
        ) as federation:
            app[FEDERATION] = federation
            yield

    return federation


def create_app(
    config: Config,
    dsn: str,
    *,
    run_worker: bool = False,
    resolver: AbstractResolver | None = None,
) -> web.Application:
    """An application serving `config.domain` from the database at `dsn`.

    With `run_worker`, the background job worker runs inside the same process (`kith serve`).
    `resolver` replaces DNS for outgoing requests (tests map peer host names to loopback ports).
    """
    app = web.Application(
        middlewares=[cors_middleware, error_middleware, trailing_slash_middleware],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app[CONFIG] = config
    app[URLS] = LocalUrls(config.base_url)
    pool_size, worker_contexts = WEB_CONNECTIONS, []
    if run_worker:
        pool_size += worker.POOL_SIZE  # the worker runs on the app's pool
        worker_contexts.append(worker.worker_context)
    app.cleanup_ctx.append(_database_context(dsn, pool_size))
    app.cleanup_ctx.append(_federation_context(resolver))
    app.cleanup_ctx.append(_media_pool)
    install_streaming(app, dsn)
    app.cleanup_ctx.extend(worker_contexts)
    for module in (
        apps,
        oauth,
        accounts,
        blocks,
        statuses,
        status_edits,
        media,
        markers,
        polls,
        search,
        timelines,
        notifications,
        instance,
        filters,
        followers,
        reports,
        admin_accounts,
        admin_reports,
        audit_log,
        admin_domains,
        admin_blocklists,
        admin_federation,
        admin_policies,
        admin_polls,
        domain_blocks,
        invites,
        streaming,
    ):
        app.add_routes(module.routes)
    for module in (webfinger, nodeinfo, actors, inbox):
        app.add_routes(module.routes)
    app.add_routes(views.routes)
    app.router.add_static("/static/", Path(web_package.__file__).parent / "static")
    return app
