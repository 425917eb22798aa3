"""Creating local accounts: one path for the CLI, sign-up through the API and the admin."""

from __future__ import annotations

import asyncio
import re

import asyncpg

from federation.errors import KithError, invalid
from federation.keys import generate_rsa_keypair
from federation.urls import LocalUrls
from server.usecases.passwords import MAX_LENGTH, MIN_LENGTH, hash_password
from storage import accounts as account_store
from storage import invites as invite_store

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,30}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLES = ("user", "moderator", "admin")
# Names that would shadow instance-level actors or routes.
RESERVED_USERNAMES = frozenset({"admin", "instance", "actor", "inbox", "relay", "system", "kith"})


class InvalidInvite(KithError):
    """The invite code is unknown, expired or used up."""

    def __init__(self) -> None:
        super().__init__(422, "Validation failed: Invite code is invalid")


def check_username(username: str) -> None:
    if not USERNAME_RE.match(username):
        raise invalid("username must be 1 to 30 letters, digits or underscores")


def check_email(email: str) -> None:
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise invalid("email is not a valid address")


def check_password(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise invalid(f"password must be {MIN_LENGTH} to {MAX_LENGTH} characters")


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
    allow_reserved: bool = False,
    invite_code: str | None = None,
) -> asyncpg.Record:
    """Create an account with its RSA key pair and its user; return the user row.

    With `invite_code`, one use of that invite is counted in the same transaction (so a failed
    sign-up uses nothing) and the user records it. Raises `KithError` (422) when the username,
    e-mail or password is unusable or taken, and `InvalidInvite` when the code is not usable.
    """
    check_username(username)
    if username.lower() in RESERVED_USERNAMES and not allow_reserved:
        raise invalid("username is reserved")
    check_email(email)
    check_password(password)
    if role not in ROLES:
        raise invalid(f"role must be one of {', '.join(ROLES)}")
    # Key generation and hashing are CPU-bound; keep the event loop free while they run.
    private_pem, public_pem = await asyncio.to_thread(generate_rsa_keypair)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        if await account_store.username_taken(conn, username):
            raise invalid("username is already taken")
        if await account_store.email_taken(conn, email):
            raise invalid("email is already taken")
        invite = None
        if invite_code is not None:
            invite = await invite_store.claim(conn, invite_code)
            if invite is None:
                raise InvalidInvite()
        try:
            account = await account_store.insert_local_account(
                conn,
                username=username,
                uri=urls.actor(username),
                url=urls.profile(username),
                urls=urls.actor_collections(username),
                public_key_id=urls.key_id(username),
                public_key_pem=public_pem,
                private_key_pem=private_pem,
            )
            return await account_store.insert_user(
                conn,
                account_id=account["id"],
                email=email,
                password_hash=password_hash,
                role=role,
                approved=approved,
                sign_up_reason=reason,
                locale=locale,
                invite_id=invite["id"] if invite is not None else None,
            )
        except asyncpg.UniqueViolationError:
            raise invalid("username or email is already taken") from None
