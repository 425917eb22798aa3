"""Local members with bearer tokens, made directly (no OAuth dance) for tests to call the API as."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg
from aiohttp import web

from server.auth import hash_secret
from server.state import POOL, URLS
from server.usecases.accounts import create_local_account
from storage import oauth as oauth_store

DEFAULT_SCOPES = ("read", "write", "follow", "push")
PASSWORD = "correct horse battery"


async def create_member(
    app: web.Application,
    username: str,
    *,
    role: str = "user",
    scopes: Iterable[str] = DEFAULT_SCOPES,
    approved: bool = True,
    reason: str = "",
    password: str = PASSWORD,
) -> tuple[asyncpg.Record, str]:
    """A local account of `app` and a token for it with `scopes`: (user row, token)."""
    user = await create_local_account(
        app[POOL],
        app[URLS],
        username=username,
        email=f"{username}@example.org",
        password=password,
        role=role,
        approved=approved,
        reason=reason,
    )
    token = uuid.uuid4().hex
    await oauth_store.create_token(
        app[POOL],
        token_hash=hash_secret(token),
        application_id=None,
        user_id=user["id"],
        scopes=list(scopes),
    )
    return user, token
