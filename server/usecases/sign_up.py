"""Signing up: a visitor through the client API, or the operator (`kith user create`) or staff
making an account by hand. One validation, one set of rows, the same notifications.

Who acts decides the rules. A visitor (`Actor.system()`: nobody is signed in, the instance's
rules apply) signs up only while registrations are not closed, must accept the agreement, may
not take a reserved name, gives a reason in approval mode and an invite code in invite mode,
and always gets the `user` role; the account waits for a moderator in approval mode unless a
valid invite code came with it. The operator (`Actor.operator()`) and staff (`Actor.staff(id)`)
may create approved accounts whatever the mode and with reserved names; only the operator may
give a staff role. Staff are told of every new account (`admin.sign_up`) but the one who made
it, and accounts made by hand are audited (`account.create`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg

from federation.errors import forbidden
from federation.urls import LocalUrls
from server.usecases.accounts import (
    EMAIL_MAX,
    EMAIL_RE,
    RESERVED_USERNAMES,
    ROLES,
    USERNAME_MAX,
    USERNAME_RE,
    FieldErrors,
    insert_local_member,
    make_credentials,
)
from server.usecases.actors import Actor
from server.usecases.passwords import MAX_LENGTH, MIN_LENGTH
from storage import accounts as account_store
from storage import audit, notifications
from storage.db import Conn
from storage.settings import registrations_mode

REASON_MAX = 420
LOCALE_RE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class SignUpForm:
    """What the new member (or whoever makes the account) gives. `agreement` is the visitor's
    acceptance of the server's rules and terms; `reason` is for the moderators who approve."""

    username: str
    email: str
    password: str
    agreement: bool = False
    locale: str = "en"
    reason: str = ""
    invite_code: str | None = None
    role: str = "user"


async def sign_up(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    form: SignUpForm,
    *,
    by: Actor,
    audit_reason: str = "",
) -> asyncpg.Record:
    """Create the account `form` describes on behalf of `by`; return the new user row.

    `KithError`: 403 when a visitor may not sign up now (registrations closed) or `by` may not
    give `form.role`; 422 with Mastodon's per-field `details` for every unusable field at once.
    `audit_reason` goes in the audit entry of an account made by hand.
    """
    if by.kind not in ("system", "staff", "operator"):
        raise forbidden()
    visitor = by.kind == "system"
    mode = await registrations_mode(pool)
    if visitor and mode == "closed":
        raise forbidden()
    if form.role != "user" and by.kind != "operator":
        raise forbidden()
    errors = await _form_errors(pool, form, visitor=visitor)
    if visitor and mode == "invite" and form.invite_code is None:
        errors.add("invite_code", "ERR_BLANK", "can't be blank")
    if visitor and mode == "approval" and form.invite_code is None and not form.reason.strip():
        errors.add("reason", "ERR_BLANK", "can't be blank")
    errors.raise_any()

    credentials = await make_credentials(form.password)
    async with pool.acquire() as conn, conn.transaction():
        user = await insert_local_member(
            conn,
            urls,
            credentials,
            username=form.username,
            email=form.email,
            role=form.role,
            approved=not visitor or mode == "open" or form.invite_code is not None,
            reason=form.reason,
            locale=form.locale,
            invite_code=form.invite_code,
        )
        await _tell_staff(conn, user["account_id"], except_id=by.account_id)
        if not visitor:
            await audit.record(
                conn,
                actor_id=by.account_id,
                action="account.create",
                target_type="account",
                target_id=user["account_id"],
                detail={"username": form.username, "domain": None, "role": form.role},
                reason=audit_reason,
            )
    return user


async def _form_errors(pool: asyncpg.Pool, form: SignUpForm, *, visitor: bool) -> FieldErrors:
    """Every unusable field, each with its first problem, in Mastodon's order and words."""
    errors = FieldErrors()
    username, email, password = form.username, form.email, form.password
    if not username:
        errors.add("username", "ERR_BLANK", "can't be blank")
    elif len(username) > USERNAME_MAX:
        errors.add(
            "username", "ERR_TOO_LONG", f"is too long (maximum is {USERNAME_MAX} characters)"
        )
    elif not USERNAME_RE.match(username):
        errors.add("username", "ERR_INVALID", "must contain only letters, numbers and underscores")
    elif visitor and username.lower() in RESERVED_USERNAMES:
        errors.add("username", "ERR_RESERVED", "is reserved")
    elif await account_store.username_taken(pool, username):
        errors.add("username", "ERR_TAKEN", "has already been taken")
    if not email:
        errors.add("email", "ERR_BLANK", "can't be blank")
    elif len(email) > EMAIL_MAX or not EMAIL_RE.match(email):
        errors.add("email", "ERR_INVALID", "is invalid")
    elif await account_store.email_taken(pool, email):
        errors.add("email", "ERR_TAKEN", "has already been taken")
    if not password:
        errors.add("password", "ERR_BLANK", "can't be blank")
    elif len(password) < MIN_LENGTH:
        errors.add(
            "password", "ERR_TOO_SHORT", f"is too short (minimum is {MIN_LENGTH} characters)"
        )
    elif len(password) > MAX_LENGTH:
        errors.add("password", "ERR_TOO_LONG", f"is too long (maximum is {MAX_LENGTH} characters)")
    if visitor and not form.agreement:
        errors.add("agreement", "ERR_ACCEPTED", "must be accepted")
    if not LOCALE_RE.match(form.locale):
        errors.add("locale", "ERR_INCLUSION", "is not included in the list")
    if len(form.reason) > REASON_MAX:
        errors.add("reason", "ERR_TOO_LONG", f"is too long (maximum is {REASON_MAX} characters)")
    if form.role not in ROLES:
        errors.add("role", "ERR_INCLUSION", "is not included in the list")
    return errors


async def _tell_staff(conn: Conn, account_id: int, *, except_id: int | None) -> None:
    """An `admin.sign_up` notification to every moderator and admin but the one who acted."""
    for staff_id in await account_store.staff_account_ids(conn):
        if staff_id != except_id:
            await notifications.notify(
                conn, account_id=staff_id, from_account_id=account_id, type="admin.sign_up"
            )
