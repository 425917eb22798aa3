"""OAuth applications, authorization codes and access tokens. Secrets arrive already hashed."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from storage.db import Executor, fetch_one


async def get_active_token(db: Executor, token_hash: str) -> asyncpg.Record | None:
    """A live token with what authentication needs of its user and account."""
    return await db.fetchrow(
        """
        SELECT t.id, t.application_id, t.scopes, t.user_id,
               u.account_id, u.role, u.approved, u.disabled, a.suspended_at
        FROM oauth_access_tokens t
        LEFT JOIN users u ON u.id = t.user_id
        LEFT JOIN accounts a ON a.id = u.account_id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL
        """,
        token_hash,
    )


async def create_application(
    db: Executor,
    *,
    name: str,
    website: str | None,
    redirect_uris: list[str],
    scopes: list[str],
    client_id: str,
    client_secret_hash: str,
) -> asyncpg.Record:
    return await fetch_one(
        db,
        """
        INSERT INTO oauth_applications
            (name, website, redirect_uris, scopes, client_id, client_secret)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING *
        """,
        name,
        website,
        redirect_uris,
        scopes,
        client_id,
        client_secret_hash,
    )


async def get_application(db: Executor, application_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM oauth_applications WHERE id = $1", application_id)


async def get_application_by_client_id(db: Executor, client_id: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM oauth_applications WHERE client_id = $1", client_id)


async def create_token(
    db: Executor,
    *,
    token_hash: str,
    application_id: int | None,
    user_id: int | None,
    scopes: list[str],
) -> asyncpg.Record:
    return await fetch_one(
        db,
        """
        INSERT INTO oauth_access_tokens (token_hash, application_id, user_id, scopes)
        VALUES ($1, $2, $3, $4)
        RETURNING *
        """,
        token_hash,
        application_id,
        user_id,
        scopes,
    )


async def get_token(db: Executor, token_hash: str) -> asyncpg.Record | None:
    """A token, live or revoked, and the application it was issued to (None: none)."""
    return await db.fetchrow(
        "SELECT id, application_id, user_id, revoked_at FROM oauth_access_tokens"
        " WHERE token_hash = $1",
        token_hash,
    )


async def revoke_token(db: Executor, token_hash: str, application_id: int | None) -> bool:
    """Revoke a live token issued to `application_id` (None: to no application)."""
    result = await db.execute(
        """
        UPDATE oauth_access_tokens SET revoked_at = now()
        WHERE token_hash = $1 AND application_id IS NOT DISTINCT FROM $2
          AND revoked_at IS NULL
        """,
        token_hash,
        application_id,
    )
    return result != "UPDATE 0"


async def create_authorization_code(
    db: Executor,
    *,
    code_hash: str,
    application_id: int,
    user_id: int,
    redirect_uri: str,
    scopes: list[str],
    code_challenge: str | None,
    code_challenge_method: str | None,
    expires_at: datetime,
) -> None:
    await db.execute(
        """
        INSERT INTO oauth_authorization_codes
            (code_hash, application_id, user_id, redirect_uri, scopes,
             code_challenge, code_challenge_method, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        code_hash,
        application_id,
        user_id,
        redirect_uri,
        scopes,
        code_challenge,
        code_challenge_method,
        expires_at,
    )


async def consume_authorization_code(
    db: Executor, code_hash: str, application_id: int
) -> asyncpg.Record | None:
    """Mark a live code used and return it; a code works once, before it expires."""
    return await db.fetchrow(
        """
        UPDATE oauth_authorization_codes SET used_at = now()
        WHERE code_hash = $1 AND application_id = $2
          AND used_at IS NULL AND expires_at > now()
        RETURNING *
        """,
        code_hash,
        application_id,
    )
