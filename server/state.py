"""Typed application state keys, set by the composition root in `server.app`.

`FEDERATION` is defined by `federation.context` (federation endpoints read it too).
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from federation.context import FEDERATION as FEDERATION
from federation.urls import LocalUrls
from server.config import Config

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)
URLS = web.AppKey("urls", LocalUrls)
