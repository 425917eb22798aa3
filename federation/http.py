"""The HTTP client every outgoing request (fetches, deliveries) goes through.

Addresses are checked after name resolution, in the resolver, so that a host name that resolves
to a loopback or private address (or is re-pointed there later) is refused unless the instance
allows private addresses (tests only). aiohttp never asks the resolver about an IP literal
(`http://127.0.0.1/`), so a client middleware checks those.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

CONNECT_TIMEOUT = 10
TOTAL_TIMEOUT = 30


class PrivateAddressError(OSError):
    """The host resolved only to addresses this instance may not contact."""


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


class GuardedResolver(AbstractResolver):
    """Resolves with `inner` and drops loopback, private, link-local and reserved addresses."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, Any]]:
        results = await self.inner.resolve(host, port, family)
        allowed = [r for r in results if is_public_address(r["host"])]
        if not allowed:
            raise PrivateAddressError(f"{host} resolves to no public address")
        return allowed

    async def close(self) -> None:
        await self.inner.close()


async def refuse_private_literals(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Refuse a request whose host is a non-public IP literal (it bypasses the resolver)."""
    host = (request.url.host or "").strip("[]")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return await handler(request)
    if not is_public_address(str(literal)):
        raise PrivateAddressError(f"{host} is not a public address")
    return await handler(request)


def create_client_session(
    *,
    user_agent: str,
    allow_private_addresses: bool,
    resolver: AbstractResolver | None = None,
) -> aiohttp.ClientSession:
    """A session for server-to-server traffic. `resolver` lets tests map host names to
    loopback ports; without `allow_private_addresses` it is wrapped in the guard."""
    middlewares: tuple[aiohttp.ClientMiddlewareType, ...] = ()
    if not allow_private_addresses:
        resolver = GuardedResolver(resolver)
        middlewares = (refuse_private_literals,)
    connector = aiohttp.TCPConnector(
        resolver=resolver, limit=256, limit_per_host=16, ttl_dns_cache=300
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": user_agent},
        timeout=aiohttp.ClientTimeout(total=TOTAL_TIMEOUT, sock_connect=CONNECT_TIMEOUT),
        middlewares=middlewares,
    )
