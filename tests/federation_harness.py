"""Several Kith instances in one test process, talking to each other over loopback.

Each instance is a real app with its own database, behind aiohttp's test server. Their host names
(`alpha.test`, `beta.test`, ...) are resolved by a shared resolver to their loopback ports, so
URLs look like production ones. Queues are drained inline: `await net.drain()` runs every
instance's jobs until no instance has any left, with handler errors propagating.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp.abc import AbstractResolver
from aiohttp.test_utils import TestClient, TestServer

from federation.context import Federation
from server.app import create_app
from server.config import Config
from server.jobs.runner import Worker
from server.jobs.worker import build_registry
from server.state import FEDERATION, POOL
from tests.schemas import checked_api_responses


class LoopbackResolver(AbstractResolver):
    """Maps test host names to 127.0.0.1 and the port their test server listens on."""

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, Any]]:
        if host not in self.ports:
            raise OSError(f"unknown test host {host}")
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": self.ports[host],
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


@dataclass
class Instance:
    host: str
    client: TestClient
    dsn: str

    @property
    def app(self):
        return self.client.server.app

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app[POOL]

    @property
    def federation(self) -> Federation:
        return self.app[FEDERATION]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    async def drain(self) -> int:
        """Run this instance's due jobs until none remain; return how many ran."""
        return await Worker(self.pool, build_registry(), self.federation).drain()


@dataclass
class Network:
    server_dsn: str
    template: str
    tmp_path: Any
    resolver: LoopbackResolver = field(default_factory=LoopbackResolver)
    instances: dict[str, Instance] = field(default_factory=dict)
    _databases: list[str] = field(default_factory=list)

    async def start(self, host: str, **settings: Any) -> Instance:
        """Start an instance named `host` (e.g. "alpha.test") with a fresh database."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        admin = await asyncpg.connect(self.server_dsn)
        try:
            await admin.execute(
                f"CREATE DATABASE {name} TEMPLATE {self.template} STRATEGY FILE_COPY"
            )
        finally:
            await admin.close()
        self._databases.append(name)
        dsn = self.server_dsn.replace("/postgres?", f"/{name}?", 1)
        config = Config(
            domain=host,
            data_dir=self.tmp_path / host,
            insecure_http=True,
            allow_private_addresses=True,
            **settings,
        )
        app = create_app(config, dsn, resolver=self.resolver)
        client = TestClient(TestServer(app), middlewares=(checked_api_responses,))
        await client.start_server()
        self.resolver.ports[host] = client.server.port
        instance = Instance(host, client, dsn)
        self.instances[host] = instance
        return instance

    async def drain(self, *, max_rounds: int = 50) -> int:
        """Run every instance's jobs until a whole round runs none; return the total."""
        total = 0
        for _ in range(max_rounds):
            ran = 0
            for instance in self.instances.values():
                ran += await instance.drain()
            total += ran
            if ran == 0:
                return total
        raise AssertionError(f"queues still busy after {max_rounds} rounds")

    async def close(self) -> None:
        for instance in self.instances.values():
            await instance.client.close()
        admin = await asyncpg.connect(self.server_dsn)
        try:
            for name in self._databases:
                await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()
