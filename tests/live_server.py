"""A real Kith server on a real TCP port, for synchronous clients (Mastodon.py, toot).

The server runs on the test's event loop; a test drives a blocking client with
`await asyncio.to_thread(...)` or a subprocess, so the loop stays free to answer it. Use it from a
test module with `pytest_plugins = ["tests.live_server"]` and a `live_server` argument.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from federation.urls import LocalUrls
from server.app import create_app
from server.config import Config
from server.state import POOL
from server.usecases.accounts import create_local_account

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Login:
    """A local account's sign-in details."""

    username: str
    email: str
    password: str
    account_id: int


@dataclass
class LiveServer:
    config: Config
    app: web.Application

    @property
    def url(self) -> str:
        """The base URL clients are given, e.g. `http://127.0.0.1:40123`."""
        return self.config.base_url

    async def create_login(self, username: str, *, role: str = "user") -> Login:
        """A local account that signs in with `username@example.org` and `PASSWORD`."""
        email = f"{username}@example.org"
        user = await create_local_account(
            self.app[POOL],
            LocalUrls(self.config.base_url),
            username=username,
            email=email,
            password=PASSWORD,
            role=role,
        )
        return Login(username, email, PASSWORD, user["account_id"])


def _listening_socket() -> socket.socket:
    """A loopback socket already bound to a free port: no other process can take the port
    between choosing it and serving on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def live_server(db_dsn: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """Kith serving `http://127.0.0.1:PORT`, with its domain set to that host and port so every
    URL it hands out resolves."""
    sock = _listening_socket()
    port = sock.getsockname()[1]
    config = Config(
        domain=f"127.0.0.1:{port}",
        listen_host="127.0.0.1",
        listen_port=port,
        data_dir=tmp_path / "kith-data",
        insecure_http=True,
        allow_private_addresses=True,
    )
    app = create_app(config, db_dsn)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield LiveServer(config, app)
    finally:
        await runner.cleanup()
        sock.close()
