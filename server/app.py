"""The composition root: builds the aiohttp application and owns its resources.

Resources live in `cleanup_ctx` generators (the database pool, the background worker), so that
nothing is created at import time and tests can build as many independent apps as they like.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractResolver

import web as web_package
from federation.context import Federation
from federation.endpoints import actors, inbox, nodeinfo, webfinger
from federation.http import create_client_session
from federation.instance_actor import ensure_instance_actor
from federation.urls import LocalUrls
from server.api import (
    accounts,
    admin_accounts,
    admin_blocklists,
    admin_domains,
    admin_federation,
    admin_policies,
    admin_reports,
    apps,
    audit_log,
    blocks,
    domain_blocks,
    filters,
    followers,
    instance,
    invites,
    notifications,
    oauth,
    reports,
    search,
    status_edits,
    statuses,
    streaming,
    timelines,
)
from server.config import VERSION, Config
from server.cors import cors_middleware
from server.errors import error_middleware
from server.state import CONFIG, FEDERATION, POOL, URLS
from server.streaming.hub import install as install_streaming
from storage.db import connect, create_pool
from storage.embedded import start_embedded
from storage.migrate import migrate
from web import views

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024
# Database connections for serving requests (the gate cache's LISTEN holds one of them).
WEB_CONNECTIONS = 10


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


def _database_context(dsn: str, pool_size: int):
    async def database(app: web.Application) -> AsyncIterator[None]:
        await prepare_database(dsn)
        app[POOL] = await create_pool(dsn, max_size=pool_size)
        await ensure_instance_actor(app[POOL], app[URLS])
        yield
        await app[POOL].close()

    return database


def _federation_context(resolver: AbstractResolver | None):
    async def federation(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG]
        async with create_client_session(
            user_agent=user_agent(config),
            allow_private_addresses=config.allow_private_addresses,
            resolver=resolver,
        ) as http:
            app[FEDERATION] = federation = Federation(
                pool=app[POOL],
                urls=app[URLS],
                http=http,
                allow_private_addresses=config.allow_private_addresses,
            )
            async with federation.gate.listening(app[POOL]):
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
        middlewares=[cors_middleware, error_middleware], client_max_size=MAX_REQUEST_BYTES
    )
    app[CONFIG] = config
    app[URLS] = LocalUrls(config.base_url)
    pool_size, worker_contexts = WEB_CONNECTIONS, []
    if run_worker:
        from server.worker import POOL_SIZE, worker_context

        pool_size += POOL_SIZE  # the worker runs on the app's pool
        worker_contexts.append(worker_context)
    app.cleanup_ctx.append(_database_context(dsn, pool_size))
    app.cleanup_ctx.append(_federation_context(resolver))
    install_streaming(app, dsn)
    app.cleanup_ctx.extend(worker_contexts)
    for module in (
        apps,
        oauth,
        accounts,
        blocks,
        statuses,
        status_edits,
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
