"""Parsed keys kept in memory, so that no request parses a PEM or fetches a key twice.

The database (and, behind it, the remote actor) stays the source of truth: the cache only
remembers what the caller's `load_key` returned. Three rules keep federation cheap and hard to
abuse:

- Concurrent misses for one key share one load, so a burst of deliveries from a new actor causes
  one fetch.
- A key that cannot be had is remembered as such for `negative_ttl` seconds (10 minutes), so a
  flood of requests naming an unreachable key does not become a flood of fetches.
- A refresh (asked for when a signature fails with the known key, which is how a rotation is
  noticed) happens at most once per `min_refresh_interval` per key, so forged signatures
  naming a real key cannot make Kith refetch it on every request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)

from federation.signatures.common import KeyLoader, SigningKey


@dataclass
class _Entry:
    """A known key, or (public_key None) the knowledge that none could be had until
    `expires_at`."""

    owner_uri: str = ""
    pem: str = ""
    public_key: RSAPublicKey | None = None
    expires_at: float = float("inf")
    refreshed_at: float | None = None


class KeyCache:
    def __init__(
        self,
        *,
        negative_ttl: float = 600.0,
        max_entries: int = 10_000,
        min_refresh_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self.min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._public: OrderedDict[str, _Entry] = OrderedDict()
        self._signing: OrderedDict[str, tuple[str, SigningKey]] = OrderedDict()
        self._inflight: dict[tuple[str, bool], asyncio.Future[_Entry]] = {}
        # Counters for tests and benchmarks: calls to load_key, PEMs parsed, RSA verifications
        # (the last incremented by `verify_request`).
        self.loads = 0
        self.parses = 0
        self.verifications = 0

    def signing_key(self, key_id: str, private_pem: str) -> SigningKey:
        """The parsed private key; parsed again only if the PEM for `key_id` changed."""
        cached = self._signing.get(key_id)
        if cached is not None and cached[0] == private_pem:
            self._signing.move_to_end(key_id)
            return cached[1]
        private_key = load_pem_private_key(private_pem.encode(), password=None)
        self.parses += 1
        if not isinstance(private_key, RSAPrivateKey):
            raise ValueError(f"key {key_id} is not an RSA key")
        key = SigningKey(key_id, private_key)
        self._remember(self._signing, key_id, (private_pem, key))
        return key

    async def public_key(
        self, key_id: str, load_key: KeyLoader, *, refresh: bool = False
    ) -> tuple[str, RSAPublicKey] | None:
        """(owner URI, parsed key) for `key_id`, or None if it cannot be had."""
        entry = self._public.get(key_id)
        now = self._clock()
        if entry is not None:
            if entry.public_key is None:
                if entry.expires_at > now:
                    return None
            elif not refresh or self._refreshed_recently(entry, now):
                self._public.move_to_end(key_id)
                return entry.owner_uri, entry.public_key
        entry = await self._load(key_id, load_key, refresh)
        return None if entry.public_key is None else (entry.owner_uri, entry.public_key)

    def forget(self, key_id: str) -> None:
        self._public.pop(key_id, None)
        self._signing.pop(key_id, None)

    def _refreshed_recently(self, entry: _Entry, now: float) -> bool:
        return entry.refreshed_at is not None and now - entry.refreshed_at < (
            self.min_refresh_interval
        )

    async def _load(self, key_id: str, load_key: KeyLoader, refresh: bool) -> _Entry:
        flight = (key_id, refresh)
        future = self._inflight.get(flight)
        if future is None:
            future = asyncio.ensure_future(self._fetch(key_id, load_key, refresh))
            self._inflight[flight] = future
            future.add_done_callback(lambda done: self._landed(flight, done))
        # Shielded: one waiter giving up (its client went away) must not cancel the others' load.
        return await asyncio.shield(future)

    def _landed(self, flight: tuple[str, bool], future: asyncio.Future[_Entry]) -> None:
        if self._inflight.get(flight) is future:
            del self._inflight[flight]
        if not future.cancelled():
            future.exception()  # retrieved here, so a load nobody waits for any more is quiet

    async def _fetch(self, key_id: str, load_key: KeyLoader, refresh: bool) -> _Entry:
        self.loads += 1
        loaded = await load_key(key_id, refresh)
        now = self._clock()
        current = self._public.get(key_id)
        if current is not None and current.public_key is None:
            current = None  # a lapsed "no key" is no knowledge at all
        if loaded is None:
            if refresh and current is not None:
                # The key we have failed a signature and no other could be had: keep it (it
                # may still be right for the next request) and wait before asking again.
                current.refreshed_at = now
                return _Entry(expires_at=now)
            entry = _Entry(expires_at=now + self.negative_ttl)
        elif current is not None and (current.owner_uri, current.pem) == tuple(loaded):
            entry = current  # unchanged: keep the parsed key
        else:
            entry = self._parse_public(*loaded, now)
        if refresh:
            entry.refreshed_at = now
        self._remember(self._public, key_id, entry)
        return entry

    def _parse_public(self, owner_uri: str, pem: str, now: float) -> _Entry:
        self.parses += 1
        try:
            public_key = load_pem_public_key(pem.encode())
        except (ValueError, UnsupportedAlgorithm):
            public_key = None
        if not isinstance(public_key, RSAPublicKey):
            # Unparseable or not RSA: as useless as no key, and remembered as such.
            return _Entry(expires_at=now + self.negative_ttl)
        return _Entry(owner_uri, pem, public_key)

    def _remember(self, entries: OrderedDict, key: str, value: object) -> None:
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)
