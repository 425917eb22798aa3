"""A local account's avatar and header files: their names in the MediaStore."""

from __future__ import annotations

from storage.db import Executor


async def lock_image_names(db: Executor, account_id: int) -> tuple[str | None, str | None]:
    """The account's (avatar, header) file names, its row locked until the transaction ends
    (so two updates at once each replace, and later delete, the file the other did not)."""
    row = await db.fetchrow(
        "SELECT avatar_path, header_path FROM accounts WHERE id = $1 FOR UPDATE", account_id
    )
    return (row["avatar_path"], row["header_path"]) if row else (None, None)
