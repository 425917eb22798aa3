"""What federation code needs at run time, gathered in one object.

Handlers of the inbox, delivery jobs and fetches receive a `Federation`; it is built once per
process by the composition root (`server/composition.py::open_federation`) and holds no global
state of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
import asyncpg
from aiohttp import web

from federation.gate import GateCache
from federation.keycache import KeyCache
from federation.urls import LocalUrls
from storage.media_files import MediaStore


@dataclass
class Federation:
    pool: asyncpg.Pool
    urls: LocalUrls
    http: aiohttp.ClientSession
    # Tests run every instance on loopback; production refuses private addresses.
    allow_private_addresses: bool = False
    # Parsed keys, so no request parses a PEM; the database stays the source of truth.
    keys: KeyCache = field(default_factory=KeyCache)
    # The gate's decisions, for the inbox's hot path; caches only while the web process listens
    # for block changes (`server/app.py`).
    gate: GateCache = field(default_factory=GateCache)
    # The process's media files (`config.media_dir`), for jobs that store or remove media.
    media: MediaStore | None = None


# The application key under which the composition root stores the process's Federation. It is
# defined here so that federation endpoints can read it without importing `server`.
FEDERATION = web.AppKey("federation", Federation)
