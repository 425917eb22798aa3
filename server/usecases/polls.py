"""Polls: making one with a status, editing it, voting (a member here or a remote voter), a
remote poll's new counts, and the jobs (a local poll's debounced results, a remote poll fetched
again, the end of any poll).

Rules follow Mastodon's: 2 to `max_options` options (an instance setting, default
`server.limits.POLL_MAX_OPTIONS`) of 1 to 50 characters, no duplicates, 5 minutes to a month;
no voting in an ended poll or one's own, no choice that does not exist. A member votes once
(several choices at once only in a multiple-choice poll); a remote server sends one `Create`
per choice, so a remote voter's choices are counted one by one, each once (a redelivery counts
nothing) and only one in a single-choice poll.

A vote on a local poll queues an `Update` of the Question at most once per `UPDATE_DELAY` (the
`poll_update` job sends the counts as they are when it runs), as Mastodon does; a poll hiding
its totals sends none until its end. A running remote poll that a member looks at is fetched
again in the background, at most once a minute (`poll_refresh`). The `poll_end` job runs at
`expires_at`: it notifies the local author and local voters and sends a local poll's final
Update; a remote poll that members voted in is fetched once more first, so they see its final
counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from federation import poll_outbox
from federation.context import Federation
from federation.errors import KithError, invalid, not_found
from federation.fetch import FetchError, fetch_object
from federation.parse.notes import MAX_POLL_OPTIONS, NoteError, Poll, parse_note
from server.limits import (
    POLL_MAX_CHARACTERS_PER_OPTION,
    POLL_MAX_EXPIRATION,
    POLL_MAX_OPTIONS,
    POLL_MIN_EXPIRATION,
)
from server.usecases.actionable import actionable_original
from server.usecases.actors import Actor
from server.usecases.instance_settings import write_changes
from storage import jobs as job_store
from storage import polls as store
from storage import statuses as status_store
from storage.db import Conn, Executor
from storage.job_handlers import Registry

log = logging.getLogger(__name__)

END_QUEUE = "poll_end"
UPDATE_QUEUE = "poll_update"
REFRESH_QUEUE = "poll_refresh"
# A running remote poll a member looks at is fetched again at most this often (Mastodon: 1 min).
REFRESH_EVERY = 60
# How long a local poll's new counts wait before they go out (Mastodon: 3 minutes).
UPDATE_DELAY = timedelta(minutes=3)

EXPIRED = "The poll has already ended"
ALREADY_VOTED = "You have already voted on this poll"
SELF_VOTE = "You cannot vote in your own polls"
INVALID_CHOICE = "The chosen vote option does not exist"
ONE_CHOICE = "This poll allows only one choice"
POLL_WITH_MEDIA = "A status with a poll cannot have media attachments"


@dataclass(frozen=True)
class PollDraft:
    """A poll as a member asks for it with a status (`poll[...]` parameters)."""

    options: list[str]
    expires_in: int | None
    multiple: bool = False
    hide_totals: bool = False


async def max_options(db: Executor) -> int:
    """How many options a poll made here may have (what `/api/v2/instance` reports)."""
    return await store.max_options(db, POLL_MAX_OPTIONS)


async def set_max_options(
    pool: asyncpg.Pool, value: int, *, actor_id: int | None, reason: str = ""
) -> int:
    """An admin sets how many options a poll may have: 2 up to the most Kith keeps of any poll
    (`MAX_POLL_OPTIONS`, so that the instance's own polls federate whole); audited."""
    if not 2 <= value <= MAX_POLL_OPTIONS:
        raise invalid(f"max_options must be between 2 and {MAX_POLL_OPTIONS}")
    async with pool.acquire() as conn, conn.transaction():
        before = await max_options(conn)
        await write_changes(
            conn, {store.MAX_OPTIONS_SETTING: (before, value)}, actor_id=actor_id, reason=reason
        )
        return await max_options(conn)


async def check_draft(conn: Conn, draft: PollDraft) -> Poll:
    """The poll to store, or 422 naming the rule it breaks."""
    limit = await max_options(conn)
    options = [option.strip() for option in draft.options]
    if len(options) < 2:
        raise invalid("Poll options must have more than one item")
    if len(options) > limit:
        raise invalid(f"Poll options can't contain more than {limit} items")
    if any(not option for option in options):
        raise invalid("Poll options can't be blank")
    if any(len(option) > POLL_MAX_CHARACTERS_PER_OPTION for option in options):
        raise invalid(
            f"Poll options cannot be longer than {POLL_MAX_CHARACTERS_PER_OPTION} characters each"
        )
    if len(set(options)) != len(options):
        raise invalid("Poll options contain duplicate items")
    if draft.expires_in is None:
        raise invalid("Poll expires_in can't be blank")
    if draft.expires_in < POLL_MIN_EXPIRATION:
        raise invalid(f"Poll expires_in must be at least {POLL_MIN_EXPIRATION} seconds")
    if draft.expires_in > POLL_MAX_EXPIRATION:
        raise invalid(f"Poll expires_in must be at most {POLL_MAX_EXPIRATION} seconds")
    # Whole seconds, as ActivityPub timestamps carry it: the same end here and elsewhere.
    expires_at = (datetime.now(UTC) + timedelta(seconds=draft.expires_in)).replace(microsecond=0)
    return Poll(
        options=options,
        votes=[0] * len(options),
        multiple=draft.multiple,
        expires_at=expires_at,
        voters_count=0,
        hide_totals=draft.hide_totals,
    )


async def attach_poll(conn: Conn, status_id: int, poll: Poll) -> None:
    """Store a status's poll (local or remote; a new one replaces the old) and schedule its
    end."""
    row = await store.insert_poll(
        conn,
        status_id,
        titles=poll.options,
        votes=poll.votes,
        multiple=poll.multiple,
        expires_at=poll.expires_at,
        hide_totals=poll.hide_totals,
        voters_count=poll.voters_count,
    )
    if row["expires_at"] is not None:
        await job_store.enqueue(conn, END_QUEUE, {"poll_id": row["id"]}, run_at=row["expires_at"])


async def revise_poll(conn: Conn, status: asyncpg.Record, draft: PollDraft) -> None:
    """A member's edit of a status with `draft` as its poll, as Mastodon does it: the same
    options (and kind) keep the poll, its votes and its end; other options replace it, with
    every vote forgotten and a new end `expires_in` from now. (An edit without a poll keeps
    the poll: Kith never drops votes because a client left the poll out.)"""
    current = await store.get_poll_of_status(conn, status["id"])
    same = current is not None and (
        [option["title"] for option in current["options"]] == [o.strip() for o in draft.options]
        and current["multiple"] == draft.multiple
    )
    if same:
        return
    poll = await check_draft(conn, draft)
    if current is not None:
        await store.delete_votes(conn, current["id"])
    # A former end's job finds the poll not over yet, and does nothing.
    await attach_poll(conn, status["id"], poll)


@dataclass(frozen=True)
class Voted:
    """The poll after a vote, and whether this vote counted anything (False: a redelivery)."""

    status: asyncpg.Record
    poll: asyncpg.Record
    counted: bool


async def vote(
    pool: asyncpg.Pool,
    actor: Actor,
    poll_id: int,
    choices: list[int],
    *,
    uri: str | None = None,
) -> Voted:
    """`actor` votes `choices` (option indexes) in a poll it may read; see the module's rules.

    A member's vote on a remote poll goes to the poll's author; a vote on a local poll makes
    its counts due to go out.
    """
    voter_id = actor.require_account()
    async with pool.acquire() as conn, conn.transaction():
        poll = await store.get_poll(conn, poll_id, lock=True)
        if poll is None:
            raise not_found()
        status = await actionable_original(conn, actor, poll["status_id"])
        wanted = list(dict.fromkeys(choices))
        _check_vote(status, poll, wanted, voter_id)
        before = await store.choices_of(conn, poll_id, voter_id)
        if actor.is_remote and before and (set(wanted) <= set(before)):
            return Voted(status, poll, counted=False)
        if before and (actor.is_local or not poll["multiple"]):
            raise invalid(ALREADY_VOTED)
        added = await store.add_votes(conn, poll_id, voter_id, wanted, uri)
        poll = await store.count_votes(conn, poll_id, added, new_voter=not before)
        if status["local"]:
            await _results_due(conn, poll)
        elif actor.is_local:
            await poll_outbox.voted(conn, voter_id, status, poll, added)
        return Voted(status, poll, counted=True)


def _check_vote(
    status: asyncpg.Record, poll: asyncpg.Record, choices: list[int], voter_id: int
) -> None:
    if poll["expired"]:
        raise invalid(EXPIRED)
    if status["account_id"] == voter_id:
        raise invalid(SELF_VOTE)
    if not choices:
        raise invalid("choices can't be blank")
    if any(not 0 <= choice < len(poll["options"]) for choice in choices):
        raise invalid(INVALID_CHOICE)
    if len(choices) > 1 and not poll["multiple"]:
        raise invalid(ONE_CHOICE)


async def _results_due(conn: Conn, poll: asyncpg.Record) -> None:
    """Queue the Update of a local poll's counts, unless one is queued or the totals are
    hidden until the end."""
    if poll["hide_totals"]:
        return
    due = datetime.now(UTC) + UPDATE_DELAY
    if await store.mark_update_due(conn, poll["id"], due):
        await job_store.enqueue(conn, UPDATE_QUEUE, {"poll_id": poll["id"]}, run_at=due)


async def choice_named(db: Executor, status_id: int, name: str) -> tuple[int, int] | None:
    """(poll id, option index) of the option called `name` in the status's poll; None when
    the status has no poll or no such option (a remote vote names its option)."""
    poll = await store.get_poll_of_status(db, status_id)
    if poll is None:
        return None
    titles = [option["title"] for option in poll["options"]]
    return (poll["id"], titles.index(name)) if name in titles else None


async def refresh_remote(pool: asyncpg.Pool, status_id: int, poll: Poll) -> None:
    """A remote author's Update of its Question: `take_remote_counts` in a transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await take_remote_counts(conn, status_id, poll)


async def take_remote_counts(conn: Conn, status_id: int, poll: Poll) -> None:
    """A remote poll as its server sends it now (an Update, a fetch at its end): new counts,
    or, when its options changed, the new options and none of the votes cast here."""
    current = await store.get_poll_of_status(conn, status_id)
    if current is None:
        return
    if [option["title"] for option in current["options"]] == poll.options:
        await store.set_counts(conn, current["id"], poll.votes, poll.voters_count)
        return
    await store.delete_votes(conn, current["id"])
    await attach_poll(conn, status_id, poll)


async def refresh_if_stale(db: Executor, poll: asyncpg.Record, status: asyncpg.Record) -> None:
    """A member looks at a running remote poll: have it fetched again in the background, at
    most once per `REFRESH_EVERY` seconds (the answer shows the counts known now)."""
    if status["local"] or poll["expired"]:
        return
    if await store.claim_refresh(db, poll["id"], REFRESH_EVERY):
        await job_store.enqueue(db, REFRESH_QUEUE, {"poll_id": poll["id"]})


# --- Jobs -----------------------------------------------------------------------------------------


async def refresh(fed: Federation, payload: dict[str, Any]) -> None:
    """The `poll_refresh` job: a remote poll's counts as its server serves them now."""
    poll = await store.get_poll(fed.pool, payload["poll_id"])
    status = await status_store.get_status(fed.pool, poll["status_id"]) if poll else None
    if status is None or status["local"]:
        return
    current = await _fetch_poll(fed, status["uri"])
    if current is not None:
        async with fed.pool.acquire() as conn, conn.transaction():
            await take_remote_counts(conn, status["id"], current)


async def send_results(fed: Federation, payload: dict[str, Any]) -> None:
    """The `poll_update` job: a local poll's counts as they are now, to everyone it reached."""
    async with fed.pool.acquire() as conn, conn.transaction():
        if not await store.take_update_due(conn, payload["poll_id"]):
            return
        poll = await store.get_poll(conn, payload["poll_id"])
        status = await status_store.get_status(conn, poll["status_id"]) if poll else None
        if status is not None and status["local"]:
            await poll_outbox.results_changed(conn, fed.urls, status, payload["poll_id"])


async def end(fed: Federation, payload: dict[str, Any]) -> None:
    """The `poll_end` job: notify the local author and voters; a local poll's final Update; a
    remote poll's final counts fetched first. Nothing when the poll is not over (its end moved
    later: the edit that moved it queued another job) or was ended already."""
    poll_id = payload["poll_id"]
    poll = await store.get_poll(fed.pool, poll_id)
    status = await status_store.get_status(fed.pool, poll["status_id"]) if poll else None
    if poll is None or status is None or poll["ended_at"] is not None or not poll["expired"]:
        return
    final = None
    if not status["local"] and await store.local_voter_ids(fed.pool, poll_id):
        final = await _fetch_poll(fed, status["uri"])  # only members who voted are told
    async with fed.pool.acquire() as conn, conn.transaction():
        if final is not None:
            await take_remote_counts(conn, status["id"], final)
        ended = await store.end_poll(conn, poll_id)
        if ended is None:
            return
        recipients = await store.local_voter_ids(conn, poll_id)
        await store.notify_ended(
            conn,
            [status["account_id"], *recipients],
            author_id=status["account_id"],
            status_id=status["id"],
        )
        if status["local"]:
            await store.take_update_due(conn, poll_id)
            await poll_outbox.results_changed(conn, fed.urls, status, poll_id)


async def _fetch_poll(fed: Federation, uri: str) -> Poll | None:
    """A remote Question's poll as its server serves it now; None when that fails (the end is
    notified all the same, with the last counts known)."""
    try:
        note = parse_note(await fetch_object(fed, uri))
    except (FetchError, NoteError, KithError) as exc:
        log.info("could not fetch the poll %s again: %s", uri, exc)
        return None
    return note.poll if note.uri == uri else None


def register(registry: Registry) -> None:
    registry.register(END_QUEUE, end, max_attempts=5)
    registry.register(UPDATE_QUEUE, send_results, max_attempts=5)
    registry.register(REFRESH_QUEUE, refresh, max_attempts=1)
