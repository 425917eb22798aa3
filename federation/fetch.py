"""Fetching ActivityPub documents from other servers, defensively.

Every fetch is bounded (10 s to connect, 30 s in all, 1 MiB of body, 3 redirects) because the
other end is untrusted and may be slow or hostile. Redirects are followed by hand so that each hop
is checked (scheme, and the resolver's address guard) and signed again for its own URL: servers in
authorized-fetch mode refuse unsigned GETs, and a signature covers the request target.

Every hop passes the federation gate first (`federation.gate`): nothing is fetched from a
suspended domain, nor, in allowlist mode, from a domain the allowlist does not cover.

`download` fetches a media file the same way (unsigned, as media is public), streaming it to
disk under a size limit, and also refuses every hop to a host whose domain block has
`reject_media`.

Only `application/activity+json` and `application/ld+json` answers are taken. Accepting any JSON
let attackers pass off a file uploaded to a server (served as `application/json`) as an object
of that server; Mastodon closed the same hole in 2024.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from federation import gate
from federation.context import Federation
from federation.http import CONNECT_TIMEOUT, TOTAL_TIMEOUT
from federation.parse.actors import authority, http_url
from federation.signatures import sign_request
from storage import accounts as account_store

ACCEPT = (
    "application/activity+json, "
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
)
ACTIVITY_CONTENT_TYPES = frozenset({"application/activity+json", "application/ld+json"})
MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
# A media file may be large (a video); its download gets more time than a document.
DOWNLOAD_TIMEOUT = 120
MEDIA_ACCEPT = "image/*, video/*, audio/*"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HOP_TIMEOUT = aiohttp.ClientTimeout(total=TOTAL_TIMEOUT, sock_connect=CONNECT_TIMEOUT)
_DOWNLOAD_HOP_TIMEOUT = aiohttp.ClientTimeout(
    total=DOWNLOAD_TIMEOUT, sock_connect=CONNECT_TIMEOUT, sock_read=TOTAL_TIMEOUT
)


class FetchError(Exception):
    """A document could not be fetched or is not acceptable; `status` is the HTTP status when
    the server answered with an error (410 means the object was deleted). `transient`: trying
    again later may succeed (a timeout, a lost connection, a 5xx or 429)."""

    def __init__(self, reason: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(reason if status is None else f"{reason} (HTTP {status})")
        self.reason = reason
        self.status = status
        self.transient = transient


async def fetch_json(fed: Federation, url: str, *, signed: bool = True) -> dict[str, Any]:
    """The ActivityStreams document at `url` (after redirects), signed as the instance actor."""
    doc, _ = await get_json(
        fed, url, accept=ACCEPT, content_types=ACTIVITY_CONTENT_TYPES, signed=signed
    )
    return doc


async def fetch_object(fed: Federation, uri: str, *, signed: bool = True) -> dict[str, Any]:
    """The object at `uri`, whose `id` must be on the host it was finally served from.

    This is the origin check that stops spoofing: anyone can serve a document claiming any
    `id`, but only the host of an id can serve it from that host.
    """
    doc, final_url = await get_json(
        fed, uri, accept=ACCEPT, content_types=ACTIVITY_CONTENT_TYPES, signed=signed
    )
    object_id = http_url(doc.get("id"))
    if object_id is None:
        raise FetchError("document has no http(s) id")
    if authority(object_id) != authority(final_url):
        raise FetchError(f"document id {object_id} is not on the host that served it")
    return doc


async def get_json(
    fed: Federation,
    url: str,
    *,
    accept: str,
    content_types: frozenset[str],
    signed: bool,
) -> tuple[dict[str, Any], str]:
    """A JSON object from `url` with one of `content_types`, and the URL it finally came from."""
    try:
        async with asyncio.timeout(TOTAL_TIMEOUT):
            return await _follow(fed, url, accept, content_types, signed)
    except TimeoutError as exc:
        raise FetchError(f"fetching {url} timed out") from exc


async def _follow(
    fed: Federation, url: str, accept: str, content_types: frozenset[str], signed: bool
) -> tuple[dict[str, Any], str]:
    for _ in range(MAX_REDIRECTS + 1):
        _check_scheme(fed, url)
        await _check_gate(fed, url)
        headers = {"Accept": accept}
        if signed:
            headers.update(await _signature_headers(fed, url))
        try:
            async with fed.http.get(
                url, headers=headers, allow_redirects=False, timeout=_HOP_TIMEOUT
            ) as response:
                if response.status in _REDIRECT_STATUSES:
                    url = _redirect_target(response)
                    continue
                if response.status == 410:
                    raise FetchError("gone", status=410)
                if response.status != 200:
                    raise FetchError("unexpected status", status=response.status)
                if response.content_type not in content_types:
                    raise FetchError(f"unexpected content type {response.content_type}")
                body = await read_limited(response, MAX_BODY_BYTES)
                return _json_object(body), str(response.url)
        except (aiohttp.ClientError, OSError) as exc:
            if isinstance(exc, TimeoutError):
                raise
            raise FetchError(f"request to {url} failed: {exc}") from exc
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


async def download(fed: Federation, url: str, dest: Path, *, limit: int) -> str | None:
    """Stream the file at `url` (after redirects) to `dest`; return its declared Content-Type.

    At most `limit` bytes are taken (a larger file is refused, whatever its Content-Length
    says); every hop is checked as for documents, and refused when its host's domain block
    rejects media. On any failure `dest` is removed and `FetchError` raised.
    """
    try:
        async with asyncio.timeout(DOWNLOAD_TIMEOUT):
            return await _download(fed, url, dest, limit)
    except TimeoutError as exc:
        dest.unlink(missing_ok=True)
        raise FetchError(f"downloading {url} timed out", transient=True) from exc
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


async def _download(fed: Federation, url: str, dest: Path, limit: int) -> str | None:
    for _ in range(MAX_REDIRECTS + 1):
        _check_scheme(fed, url)
        await _check_gate(fed, url, media=True)
        try:
            async with fed.http.get(
                url,
                headers={"Accept": MEDIA_ACCEPT},
                allow_redirects=False,
                timeout=_DOWNLOAD_HOP_TIMEOUT,
            ) as response:
                if response.status in _REDIRECT_STATUSES:
                    url = _redirect_target(response)
                    continue
                if response.status != 200:
                    transient = response.status >= 500 or response.status in (408, 429)
                    raise FetchError(
                        "unexpected status", status=response.status, transient=transient
                    )
                await _save_limited(response, dest, limit)
                return response.content_type
        except (aiohttp.ClientError, OSError) as exc:
            if isinstance(exc, TimeoutError):
                raise
            raise FetchError(f"request to {url} failed: {exc}", transient=True) from exc
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


async def _save_limited(response: aiohttp.ClientResponse, dest: Path, limit: int) -> None:
    """The body written to `dest` in chunks, refusing more than `limit` bytes."""
    if response.content_length is not None and response.content_length > limit:
        raise FetchError(f"file larger than {limit} bytes")
    size = 0
    with open(dest, "wb") as file:
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise FetchError(f"file larger than {limit} bytes")
            file.write(chunk)


def _check_scheme(fed: Federation, url: str) -> None:
    """https only; plain http as well where private addresses are allowed (tests, dev)."""
    scheme = url.split(":", 1)[0].lower()
    if http_url(url) is None or (scheme == "http" and not fed.allow_private_addresses):
        raise FetchError(f"refusing to fetch {url}: https URLs only")


async def _check_gate(fed: Federation, url: str, *, media: bool = False) -> None:
    """Nothing is fetched from a host the federation gate refuses, nor through a redirect to one;
    with `media`, nor from a host whose domain block rejects media. Our own host always passes
    (an allowlist need not list it)."""
    host = authority(url)
    if host == fed.urls.domain.lower():
        return
    try:
        decision = await gate.check_incoming(fed.pool, host)
    except gate.Refused as exc:
        raise FetchError(f"refusing to fetch {url}: {exc.reason}") from None
    if media and decision.reject_media:
        raise FetchError(f"refusing to fetch {url}: media from {host} is rejected")


def _redirect_target(response: aiohttp.ClientResponse) -> str:
    location = response.headers.get("Location")
    if not location:
        raise FetchError("redirect without a Location", status=response.status)
    try:
        return str(response.url.join(URL(location)))
    except ValueError as exc:
        raise FetchError("redirect to a malformed Location") from exc


async def read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The (decompressed) body, refusing more than `limit` bytes without reading them all."""
    if response.content_length is not None and response.content_length > limit:
        raise FetchError(f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise FetchError(f"body larger than {limit} bytes")
    return bytes(body)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise FetchError("body is not JSON") from exc
    if not isinstance(doc, dict):
        raise FetchError("body is not a JSON object")
    return doc


async def _signature_headers(fed: Federation, url: str) -> dict[str, str]:
    """Headers signing a GET of `url` as the instance actor."""
    actor = await account_store.get_local_account_by_uri(fed.pool, fed.urls.instance_actor())
    if actor is None:
        raise FetchError("the instance actor is missing")
    key = fed.keys.signing_key(actor["public_key_id"], actor["private_key_pem"])
    return sign_request("GET", url, body=None, key=key)
