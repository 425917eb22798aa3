"""The HTTP client every outgoing request (fetches, deliveries) goes through.

Addresses are checked after name resolution, in the resolver, so that a host name that resolves
to a loopback or private address (or is re-pointed there later) is refused unless the instance
allows private addresses (tests only). aiohttp never asks the resolver about an IP literal
(`http://127.0.0.1/`), so a client middleware checks those.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

if TYPE_CHECKING:  # aiohttp >= 3.10 names the type; older ones return plain dicts
    from aiohttp.abc import ResolveResult

CONNECT_TIMEOUT = 10
TOTAL_TIMEOUT = 30


class PrivateAddressError(OSError):
    """The host resolved only to addresses this instance may not contact."""


# IPv6 forms that carry an IPv4 address in their low 32 bits: a packet sent to them reaches that
# IPv4 address (through a NAT64 gateway, or a host that accepts IPv4-compatible or -translated
# addresses), so they are exactly as public as the address they carry.
_LOW_32_BITS_FORMS = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, RFC 6052
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated, RFC 2765
)
# Local-use NAT64 (RFC 8215): an operator's own translator, never a public destination.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-mapped, 6to4 (2002::/16), Teredo
    (2001::/32: its server and its client), NAT64, IPv4-compatible and -translated forms."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if any(ip in network for network in _LOW_32_BITS_FORMS):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def is_public_address(address: str) -> bool:
    """Whether `address` is a public unicast address, judging an IPv6 form of an IPv4 address by
    the IPv4 address it carries (`::ffff:127.0.0.1`, `64:ff9b::7f00:1` and `2002:7f00:1::` are
    loopback in disguise; Python's `is_global` says otherwise for some of them)."""
    ip = ipaddress.ip_address(address)
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return True
    if ip in _LOCAL_NAT64:
        return False
    return all(is_public_address(str(inner)) for inner in embedded_ipv4(ip))


class GuardedResolver(AbstractResolver):
    """Resolves with `inner` and drops loopback, private, link-local and reserved addresses."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
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
