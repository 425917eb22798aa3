"""Shared fixtures: one embedded PostgreSQL per test process (`make test` runs two, with
pytest-xdist), a migrated template database, and a fresh copy of it for every test
(CREATE DATABASE ... TEMPLATE takes milliseconds)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from argon2 import PasswordHasher

from federation import keys
from server.app import create_app
from server.config import Config
from server.usecases import passwords
from storage.embedded import start_embedded
from storage.migrate import migrate
from tests.members import create_member
from tests.schemas import checked_api_responses

TEMPLATE_DB = "kith_template"

# Actors made one after another get different keys from this many; a test that needs a key no
# other actor holds makes one with `keys.make_rsa_keypair`.
REUSED_KEYPAIRS = 8


@pytest.fixture(scope="session", autouse=True)
def cheap_crypto():
    """Cheap argon2 parameters and a few reused RSA keys for the accounts tests make.

    Real hashing and real keys still run; only their cost changes (about 0.2 s an account with
    production's). `tests/test_crypto_costs.py` checks production keeps the strong parameters.
    """
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))
    keys.reuse_keypairs([keys.make_rsa_keypair() for _ in range(REUSED_KEYPAIRS)])
    yield
    keys.reuse_keypairs(None)
    passwords.use_hasher(passwords.PRODUCTION_HASHER)


def dsn_for(server_dsn: str, database: str) -> str:
    parts = urlsplit(server_dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


# The test cluster trades durability for speed: nothing in it must survive a crash of the
# machine, and every commit and every copy of the template waits for no disk flush. Tests that
# kill processes kill Kith's, not PostgreSQL, so what they check is unchanged.
UNDURABLE_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


async def _build_template(server_dsn: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        for name, value in UNDURABLE_SETTINGS.items():
            await admin.execute(f"ALTER SYSTEM SET {name} = {value}")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn_for(server_dsn, TEMPLATE_DB))
    try:
        await migrate(conn)
    finally:
        await conn.close()


def _memory_backed_dir() -> str | None:
    """/dev/shm when it is there to write to, else the default temporary directory.

    Every test copies and drops a database: ~2,400 file creations and deletions each time. On
    this machine's ext4 (mounted with `discard`) that costs ~0.4 s a test and grows as the run
    goes on; on tmpfs, 0.02 s.
    """
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@pytest.fixture(scope="session")
def pg_server_dsn():
    """The embedded PostgreSQL for the whole session, with the migrated template database.

    Its data directory lives outside pytest's temporary tree: the cluster runs as the `pgserver`
    system user when tests run as root, and pytest narrows the permissions of its tree whenever
    another test run starts.
    """
    root = Path(tempfile.mkdtemp(prefix="kith-test-pg-", dir=_memory_backed_dir()))
    server = start_embedded(root / "data")
    dsn = server.get_uri()
    asyncio.run(_build_template(dsn))
    yield dsn
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def db_dsn(pg_server_dsn: str):
    """A fresh database copied from the migrated template, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB} STRATEGY FILE_COPY")
    finally:
        await admin.close()
    yield dsn_for(pg_server_dsn, name)
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(domain="kith.test", data_dir=tmp_path, insecure_http=True)


@pytest.fixture
async def client(db_dsn: str, config: Config, aiohttp_client):
    """A test client of a Kith app with its own fresh database.

    Every JSON answer to the client API is checked against `schemas/mastodon/` as it arrives
    (`tests/schemas.py`): a response that does not match fails the test that asked for it.
    `db_dsn` comes first so that it is set up first and torn down last, after aiohttp_client has
    closed the app and its pool.
    """
    return await aiohttp_client(create_app(config, db_dsn), middlewares=(checked_api_responses,))


@dataclass
class Member:
    """A local account with a full-scope token, ready to call the API as."""

    username: str
    account_id: int
    user_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_member(client):
    """Create local members: `await make_member("alice")`, optionally with role/scopes."""
    counter = {"n": 0}

    async def make(
        username: str | None = None,
        *,
        role: str = "user",
        scopes: tuple[str, ...] = ("read", "write", "follow", "push"),
        password: str = "correct horse battery",
    ) -> Member:
        counter["n"] += 1
        username = username or f"member{counter['n']}"
        user, token = await create_member(
            client.server.app, username, role=role, scopes=scopes, password=password
        )
        return Member(username, user["account_id"], user["id"], token)

    return make


@pytest.fixture
async def network(pg_server_dsn: str, tmp_path):
    """Start Kith instances that federate over loopback: `await network.start("alpha.test")`."""
    from tests.federation_harness import Network

    net = Network(pg_server_dsn, TEMPLATE_DB, tmp_path)
    yield net
    await net.close()
