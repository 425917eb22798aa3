"""Fetching a subscribed block list: a plain unsigned GET through the process's HTTP session.

Bounded like every outgoing request (10 s to connect, 30 s in all, at most 5 MiB, 3 redirects,
each followed by hand so its URL is checked again), and through `fed.http`, whose resolver
refuses private addresses unless the instance allows them. Block lists are not federation
documents: no signature, and no gate check (a list may well be hosted on a blocked domain).
"""

from __future__ import annotations

import asyncio

import aiohttp
from yarl import URL

from federation.context import Federation
from federation.fetch import FetchError, read_limited
from federation.http import CONNECT_TIMEOUT, TOTAL_TIMEOUT

MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 3
MAX_URL_LENGTH = 2048
ACCEPT = "text/csv, application/json;q=0.9, text/plain;q=0.8, */*;q=0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HOP_TIMEOUT = aiohttp.ClientTimeout(total=TOTAL_TIMEOUT, sock_connect=CONNECT_TIMEOUT)


class ListFetchError(Exception):
    """The list could not be fetched; the message says why (shown to admins)."""


def url_problem(url: str, *, allow_http: bool) -> str | None:
    """Why `url` cannot be a list's address (None: it can). Plain http only where private
    addresses are allowed (tests, development), as for every other fetch."""
    if len(url) > MAX_URL_LENGTH:
        return "URL is too long"
    if any(ch.isspace() for ch in url):
        return "URL is not valid"
    try:
        parsed = URL(url)
    except ValueError:
        return "URL is not valid"
    schemes = ("https", "http") if allow_http else ("https",)
    if parsed.scheme not in schemes or not parsed.host:
        return "URL must be an https URL" if not allow_http else "URL must be an http(s) URL"
    if parsed.user or parsed.password:
        return "URL must not contain credentials"
    return None


async def fetch_list(fed: Federation, url: str) -> tuple[bytes, str]:
    """The body at `url` (after redirects) and its content type; `ListFetchError` otherwise."""
    try:
        async with asyncio.timeout(TOTAL_TIMEOUT):
            return await _follow(fed, url)
    except TimeoutError:
        raise ListFetchError(f"fetching {url} timed out") from None
    except FetchError as exc:  # from read_limited: too large
        raise ListFetchError(str(exc)) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise ListFetchError(f"request to {url} failed: {exc}") from None


async def _follow(fed: Federation, url: str) -> tuple[bytes, str]:
    for _ in range(MAX_REDIRECTS + 1):
        problem = url_problem(url, allow_http=fed.allow_private_addresses)
        if problem is not None:
            raise ListFetchError(f"refusing to fetch {url}: {problem}")
        async with fed.http.get(
            url, headers={"Accept": ACCEPT}, allow_redirects=False, timeout=_HOP_TIMEOUT
        ) as response:
            if response.status in _REDIRECTS:
                url = _redirect_target(response)
                continue
            if response.status != 200:
                raise ListFetchError(f"{url} answered HTTP {response.status}")
            return await read_limited(response, MAX_BYTES), response.content_type
    raise ListFetchError(f"more than {MAX_REDIRECTS} redirects")


def _redirect_target(response: aiohttp.ClientResponse) -> str:
    location = response.headers.get("Location")
    if not location:
        raise ListFetchError(f"redirect without a Location (HTTP {response.status})")
    try:
        return str(response.url.join(URL(location)))
    except ValueError:
        raise ListFetchError("redirect to a malformed Location") from None
