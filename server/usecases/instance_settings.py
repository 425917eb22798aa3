"""Writing instance settings the way every admin change of them is written: only what changed,
each with its `instance_setting.<key>` audit entry, on the caller's transaction."""

from __future__ import annotations

from typing import Any

from storage import audit, settings
from storage.db import Conn


async def write_changes(
    conn: Conn,
    changes: dict[str, tuple[Any, Any]],
    *,
    actor_id: int | None,
    reason: str = "",
) -> None:
    """Store each `key: (old, new)` whose `new` is given and differs from `old`."""
    for key, (old, new) in changes.items():
        if new is None or new == old:
            continue
        await settings.set_setting(conn, key, new)
        await audit.record(
            conn,
            actor_id=actor_id,
            action=f"instance_setting.{key}",
            target_type="instance_setting",
            target_id=key,
            detail={"from": old, "to": new},
            reason=reason,
        )
