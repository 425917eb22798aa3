"""What every `kith` subcommand module shares: its error type and a database pool to work on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from server.composition import database_url, prepare_database
from server.config import Config
from storage.db import create_pool


class CliError(Exception):
    """A failure to report as one line on standard error and exit status 1."""


@asynccontextmanager
async def open_pool(config: Config) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on the configured (or embedded) database, migrated first."""
    dsn = database_url(config)
    await prepare_database(dsn)
    pool = await create_pool(dsn, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()
