"""Local accounts' rows: the actor with its key pair, and the user who signs in as it.

What may be created, by whom and what follows (validation, registration modes, notifications,
audit) is `server.usecases.sign_up`; `create_local_account` is the rows alone, for test fixtures
and the benchmark's seed.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import asyncpg

from federation.errors import KithError
from federation.keys import generate_rsa_keypair
from federation.urls import LocalUrls
from server.usecases.passwords import hash_password
from storage import accounts as account_store
from storage import invites as invite_store
from storage.db import Conn

USERNAME_MAX = 30
USERNAME_RE = re.compile(rf"^[A-Za-z0-9_]{{1,{USERNAME_MAX}}}$")
EMAIL_MAX = 320
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLES = ("user", "moderator", "admin")
# Names that would shadow instance-level actors or routes.
RESERVED_USERNAMES = frozenset({"admin", "instance", "actor", "inbox", "relay", "system", "kith"})
# The unique indexes a lost race for a name or an address runs into, by field.
_UNIQUE_FIELDS = {"accounts_username_domain_key": "username", "users_email_key": "email"}


class FieldErrors:
    """Validation failures in Mastodon's sign-up shape: per field, a code and a description."""

    def __init__(self) -> None:
        self.details: dict[str, list[dict[str, str]]] = {}

    def add(self, field: str, code: str, description: str) -> None:
        self.details.setdefault(field, []).append({"error": code, "description": description})

    def error(self) -> KithError:
        """One 422 whose message names every failure ("Username has already been taken, ...")."""
        message = ", ".join(
            f"{field.replace('_', ' ').capitalize()} {error['description']}"
            for field, errors in self.details.items()
            for error in errors
        )
        return KithError(422, f"Validation failed: {message}", details=self.details)

    def raise_any(self) -> None:
        if self.details:
            raise self.error()

    @classmethod
    def one(cls, field: str, code: str, description: str) -> KithError:
        errors = cls()
        errors.add(field, code, description)
        return errors.error()


@dataclass(frozen=True)
class Credentials:
    """What is slow to make for a new account: its key pair and its password's hash."""

    private_key_pem: str
    public_key_pem: str
    password_hash: str


async def make_credentials(password: str) -> Credentials:
    """Key generation and hashing are CPU-bound; they run off the event loop."""
    private_pem, public_pem = await asyncio.to_thread(generate_rsa_keypair)
    password_hash = await asyncio.to_thread(hash_password, password)
    return Credentials(private_pem, public_pem, password_hash)


async def insert_local_member(
    conn: Conn,
    urls: LocalUrls,
    credentials: Credentials,
    *,
    username: str,
    email: str,
    role: str,
    approved: bool,
    reason: str = "",
    locale: str = "en",
    invite_code: str | None = None,
) -> asyncpg.Record:
    """Insert the account and its user (in the caller's transaction); return the user row.

    With `invite_code`, one use of that invite is counted (so a failed sign-up uses nothing) and
    the user records it. Raises `KithError` (422, with details) when the code is not usable or
    the username or e-mail was taken meanwhile.
    """
    invite = None
    if invite_code is not None:
        invite = await invite_store.claim(conn, invite_code)
        if invite is None:
            raise FieldErrors.one("invite_code", "ERR_INVALID", "is invalid")
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction stays usable
            account = await account_store.insert_local_account(
                conn,
                username=username,
                uri=urls.actor(username),
                url=urls.profile(username),
                urls=urls.actor_collections(username),
                public_key_id=urls.key_id(username),
                public_key_pem=credentials.public_key_pem,
                private_key_pem=credentials.private_key_pem,
            )
            assert account is not None  # no ON CONFLICT DO NOTHING: a conflict raises
            return await account_store.insert_user(
                conn,
                account_id=account["id"],
                email=email,
                password_hash=credentials.password_hash,
                role=role,
                approved=approved,
                sign_up_reason=reason,
                locale=locale,
                invite_id=invite["id"] if invite is not None else None,
            )
    except asyncpg.UniqueViolationError as exc:
        field = _UNIQUE_FIELDS.get(exc.constraint_name or "", "username")
        raise FieldErrors.one(field, "ERR_TAKEN", "has already been taken") from None


async def create_local_account(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    *,
    username: str,
    email: str,
    password: str,
    role: str = "user",
    approved: bool = True,
    reason: str = "",
    locale: str = "en",
    invite_code: str | None = None,
) -> asyncpg.Record:
    """An account with its key pair and its user, as given, without sign-up's rules (test
    fixtures and the benchmark's seed; everything else signs up); return the user row."""
    credentials = await make_credentials(password)
    async with pool.acquire() as conn, conn.transaction():
        return await insert_local_member(
            conn,
            urls,
            credentials,
            username=username,
            email=email,
            role=role,
            approved=approved,
            reason=reason,
            locale=locale,
            invite_code=invite_code,
        )
