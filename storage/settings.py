"""Instance settings an admin changes at run time, stored as jsonb in `instance_settings`."""

from __future__ import annotations

from typing import Any

from storage.db import Executor


async def get_setting(db: Executor, key: str) -> Any:
    """The decoded value of `key`, or None when it was never set."""
    return await db.fetchval("SELECT value FROM instance_settings WHERE key = $1", key)


async def set_setting(db: Executor, key: str, value: Any) -> None:
    """Store `value` (any JSON value) under `key`, replacing what was there."""
    await db.execute(
        """
        INSERT INTO instance_settings (key, value) VALUES ($1, $2)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
        """,
        key,
        value,
    )


# open: anyone signs up; approval: staff approve each sign-up; invite: only with a valid invite
# code; closed: nobody. A valid invite code signs up without approval in every mode but closed.
REGISTRATION_MODES = ("open", "approval", "invite", "closed")


async def registrations_mode(db: Executor) -> str:
    """How sign-ups work: unset means `open`; a value Kith does not know means `closed`, so a
    typo never opens an instance."""
    value = await get_setting(db, "registrations_mode")
    if value is None:
        return "open"
    return value if value in REGISTRATION_MODES else "closed"


async def members_may_invite(db: Executor) -> bool:
    """Whether members who are not staff may create invites (staff always may); unset: no."""
    return await get_setting(db, "members_may_invite") is True


FEDERATION_MODES = ("open", "allowlist")


async def federation_settings(db: Executor) -> tuple[str, bool]:
    """(federation mode, authorized fetch) as stored; unset means ("open", False). The mode is
    read as `federation.gate` reads it: only "allowlist" limits federation."""
    rows = await db.fetch(
        """
        SELECT key, value FROM instance_settings
        WHERE key IN ('federation_mode', 'authorized_fetch')
        """
    )
    values = {row["key"]: row["value"] for row in rows}
    mode = "allowlist" if values.get("federation_mode") == "allowlist" else "open"
    return mode, values.get("authorized_fetch") is True


# link: remote attachments are shown from their origin; cache: each is copied here by a job.
REMOTE_MEDIA_MODES = ("link", "cache")


async def remote_media_mode(db: Executor) -> str:
    """How remote media is shown: unset or unknown means `link`, which fetches nothing."""
    value = await get_setting(db, "remote_media")
    return value if value in REMOTE_MEDIA_MODES else "link"
