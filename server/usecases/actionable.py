"""What an actor may favourite or boost: the audience rule of both directions, in one place.

A local member acts on what it may read (`storage.visibility.readable_by`); a remote actor only
on what it could read itself (`storage.visibility.actionable_by_remote`): never a local-only
status, a followers-only one only when it follows the author, a direct one only when it is
addressed. Either acts on the original of a boost, as in Mastodon.
"""

from __future__ import annotations

import asyncpg

from federation.errors import KithError, not_found
from server.usecases.actors import Actor
from storage import statuses as status_store
from storage.db import Conn

# Recorded as the refusal of a remote actor's activity (admins read it); a member is told only
# "not found", as about any status it may not read, so that its existence is not revealed.
UNREADABLE = "status not readable by the actor"


async def original(conn: Conn, status_id: int | None) -> asyncpg.Record | None:
    """A live status, or what it boosts when it is a boost; whoever may read it."""
    status = await status_store.get_status(conn, status_id) if status_id is not None else None
    if status is not None and status["reblog_of_id"] is not None:
        return await status_store.get_status(conn, status["reblog_of_id"])
    return status


async def actionable_original(conn: Conn, actor: Actor, status_id: int | None) -> asyncpg.Record:
    """Like `original`, but only when `actor` may act on the status and on what it boosts."""
    status = await _actionable(conn, actor, status_id)
    if status is not None and status["reblog_of_id"] is not None:
        status = await _actionable(conn, actor, status["reblog_of_id"])
    if status is None:
        raise unreadable(actor)
    return status


def unreadable(actor: Actor) -> KithError:
    """The error for a status `actor` may not act on (or that does not exist)."""
    return not_found(UNREADABLE) if actor.is_remote else not_found()


async def _actionable(conn: Conn, actor: Actor, status_id: int | None) -> asyncpg.Record | None:
    if status_id is None:
        return None
    account_id = actor.require_account()
    if actor.is_remote:
        return await status_store.get_actionable_status(conn, status_id, account_id)
    return await status_store.get_readable_status(conn, status_id, account_id)
