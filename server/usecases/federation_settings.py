"""How this instance federates: open or allowlist mode, authorized fetch, and remote media.

All are `instance_settings` rows read when needed: the mode and authorized fetch on every request
by `federation.gate` and `federation.fetch_gate`, `remote_media` ("link" or "cache") whenever a
remote post's attachments are stored (`remote_statuses.Delivered`), so a change applies at once
in every process. Each change is written with its audit entry in one transaction, by the admin
API and the CLI alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from federation.errors import invalid
from server.usecases.instance_settings import write_changes
from storage import domain_blocks as domain_store
from storage import settings
from storage.db import Executor

MODES = settings.FEDERATION_MODES
REMOTE_MEDIA_MODES = settings.REMOTE_MEDIA_MODES


@dataclass(frozen=True)
class FederationSettings:
    mode: str
    authorized_fetch: bool
    allows: int  # how many domains are allowed (allowlist mode with none cuts everyone off)
    remote_media: str  # "link": shown from their origin; "cache": copied here

    @property
    def authorized_fetch_effective(self) -> bool:
        """Allowlist mode implies authorized fetch, as Mastodon's limited federation mode does."""
        return self.authorized_fetch or self.mode == "allowlist"


async def current(db: Executor) -> FederationSettings:
    mode, authorized_fetch = await settings.federation_settings(db)
    allows = len(await domain_store.list_allows(db))
    return FederationSettings(mode, authorized_fetch, allows, await settings.remote_media_mode(db))


async def change(
    pool: asyncpg.Pool,
    *,
    mode: str | None = None,
    authorized_fetch: bool | None = None,
    remote_media: str | None = None,
    actor_id: int | None,
    reason: str = "",
) -> FederationSettings:
    """Set the mode, authorized fetch and/or remote media; each setting that changes is
    audited. Switching remote media to "cache" copies what arrives from then on, not what was
    stored before."""
    if mode is not None and mode not in MODES:
        raise invalid(f"Mode must be one of {', '.join(MODES)}")
    if remote_media is not None and remote_media not in REMOTE_MEDIA_MODES:
        raise invalid(f"Remote media must be one of {', '.join(REMOTE_MEDIA_MODES)}")
    async with pool.acquire() as conn, conn.transaction():
        before = await current(conn)
        changes = {
            "federation_mode": (before.mode, mode),
            "authorized_fetch": (before.authorized_fetch, authorized_fetch),
            "remote_media": (before.remote_media, remote_media),
        }
        await write_changes(conn, changes, actor_id=actor_id, reason=reason)
        return await current(conn)
