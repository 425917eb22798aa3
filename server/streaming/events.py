"""From a database announcement (migration 0010's payloads) to events for this process's
subscribers, each rendered from its viewer's perspective.

A status is rendered once per viewer with the ordinary entity renderers and then judged by the
viewer's filters for the stream's context: a `hide` match drops the event, a `warn` match sends
it with `filtered`. Who may see a status at all is `storage.streaming.viewers_shown`, the
timelines' own predicate, asked once for all the viewers an event concerns.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import orjson

from federation.urls import LocalUrls
from server import filtering
from server.entities.accounts import render_account
from server.entities.notifications import render_notifications
from server.entities.statuses import render_statuses
from server.streaming.streams import Subscription
from storage import accounts as account_store
from storage import notification_reads
from storage import statuses as status_store
from storage import streaming as store

log = logging.getLogger(__name__)


class Registry(Protocol):
    def subscribers(self, key: str) -> list[Subscription]: ...

    def subscribers_under(self, prefix: str) -> list[Subscription]: ...

    def everyone(self) -> list[Subscription]: ...


@dataclass
class Dispatcher:
    pool: asyncpg.Pool
    urls: LocalUrls
    registry: Registry

    async def dispatch(self, payload: str) -> None:
        kind, _, rest = payload.partition(":")
        if kind == "h":
            status, _, readers = rest.partition(":")
            await self._home(int(status), store.announced_ids(readers))
        elif kind == "n":
            for pair in rest.split(","):
                notification, _, account = pair.partition("/")
                await self._notification(int(notification), int(account))
        elif kind in ("s", "e", "d"):
            ids = store.announced_ids(rest)
            rows = {row["id"]: row for row in await store.stream_statuses(self.pool, ids)}
            for status_id in ids:
                row = rows.get(status_id)
                if kind == "d":
                    await self._deleted(status_id, row)
                elif row is not None and row["deleted_at"] is None:
                    await (self._created(row) if kind == "s" else self._edited(row))
        elif kind == "x":
            status, _, members = rest.partition(":")
            await self._unmentioned(int(status), store.announced_ids(members))
        elif kind == "f":
            for account_id in store.announced_ids(rest):
                for sub in self.registry.subscribers(f"user:{account_id}"):
                    sub.send("filters_changed", None)
        else:
            log.warning("unknown streaming payload %r", payload[:40])

    # -- statuses ---------------------------------------------------------------------------------

    async def _home(self, status_id: int, readers: list[int]) -> None:
        subs = [s for r in readers for s in self.registry.subscribers(f"user:{r}")]
        if not subs:
            return
        rows = await store.stream_statuses(self.pool, [status_id])
        if rows and rows[0]["deleted_at"] is None:
            await self._send_status(rows[0], subs, "update", public=False)

    async def _created(self, row: asyncpg.Record) -> None:
        await self._send_status(row, self._public_subscribers(row), "update", public=True)
        if row["visibility"] == "direct":
            await self._send_conversation(row, self.registry.subscribers("direct"))

    async def _edited(self, row: asyncpg.Record) -> None:
        await self._send_status(row, await self._home_subscribers(row), "status.update")
        await self._send_status(row, self._public_subscribers(row), "status.update", public=True)
        if row["visibility"] == "direct":
            await self._send_status(row, self.registry.subscribers("direct"), "status.update")

    async def _deleted(self, status_id: int, row: asyncpg.Record | None) -> None:
        """Tell whoever may have been sent the status; a status removed outright (its domain
        suspended) can no longer be checked, and its id is told to every stream."""
        if row is None:
            subs = [s for s in self.registry.everyone() if s.stream.name != "user:notification"]
        else:
            subs = await self._allowed(row, self.registry.subscribers_under("user:"), False)
            subs += await self._allowed(row, self._public_subscribers(row), True)
            if row["visibility"] == "direct":
                subs += await self._allowed(row, self.registry.subscribers("direct"), False)
        for sub in subs:
            sub.send("delete", str(status_id))

    async def _unmentioned(self, status_id: int, members: list[int]) -> None:
        """Members an edit stopped mentioning: those of their home and direct streams that may
        no longer see the status are told to drop it (a follower who still may keeps it)."""
        wanted = set(members)
        subs = [s for m in members for s in self.registry.subscribers(f"user:{m}")]
        subs += [s for s in self.registry.subscribers("direct") if s.viewer_id in wanted]
        if not subs:
            return
        rows = await store.stream_statuses(self.pool, [status_id])
        if not rows:
            return
        still = {s.viewer_id for s in await self._allowed(rows[0], subs, False)}
        for sub in subs:
            if sub.viewer_id not in still:
                sub.send("delete", str(status_id))

    def _public_subscribers(self, row: asyncpg.Record) -> list[Subscription]:
        """Subscribers of the public and hashtag streams the status belongs on: public
        originals; replies to others stay out of the public streams, as in Mastodon."""
        if row["visibility"] != "public" or row["reblog_of_id"] is not None:
            return []
        origin = "local" if row["local"] else "remote"
        keys = [f"hashtag:{tag}" for tag in row["tag_names"]]
        if row["local"]:
            keys += [f"hashtag:local:{tag}" for tag in row["tag_names"]]
        if row["in_reply_to_id"] is None or row["in_reply_to_account_id"] == row["account_id"]:
            timelines = ["public", f"public:{origin}"]
            keys += timelines
            if row["has_media"]:
                keys += [f"{timeline}:media" for timeline in timelines]
        return [sub for key in keys for sub in self.registry.subscribers(key)]

    async def _home_subscribers(self, row: asyncpg.Record) -> list[Subscription]:
        subs = self.registry.subscribers_under("user:")
        readers = await store.home_readers(self.pool, row["id"], _viewers(subs))
        return [sub for sub in subs if sub.viewer_id in readers]

    async def _allowed(
        self, row: asyncpg.Record, subs: list[Subscription], public: bool
    ) -> list[Subscription]:
        if not subs:
            return []
        shown = await store.viewers_shown(self.pool, row["id"], _viewers(subs), public=public)
        return [sub for sub in subs if sub.viewer_id in shown]

    async def _send_status(
        self, row: asyncpg.Record, subs: list[Subscription], event: str, *, public: bool = False
    ) -> None:
        subs = await self._allowed(row, subs, public)
        rendered = _Rendered(self)
        for sub in subs:
            payload = await rendered.status(row, sub.viewer_id, sub.stream.filter_context)
            if payload is not None:
                sub.send(event, payload)

    async def _send_conversation(self, row: asyncpg.Record, subs: list[Subscription]) -> None:
        """Mastodon's `conversation` event: the direct status as the last of a conversation
        (identified by its thread), with the other participants."""
        subs = await self._allowed(row, subs, False)
        if not subs:
            return
        mentioned = await status_store.mentions_of(self.pool, [row["id"]])
        participants = list(
            dict.fromkeys([row["account_id"], *(m["account_id"] for m in mentioned)])
        )
        accounts = await account_store.get_accounts(self.pool, participants)
        rendered = _Rendered(self)
        for sub in subs:
            status = await rendered.entity(row, sub.viewer_id)
            if status is None:
                continue
            others = [
                render_account(accounts[a], self.urls)
                for a in participants
                if a != sub.viewer_id and a in accounts
            ]
            conversation = {
                "id": str(row["thread_root_id"] or row["id"]),
                "unread": row["account_id"] != sub.viewer_id,
                "accounts": others,
                "last_status": status,
            }
            sub.send("conversation", orjson.dumps(conversation).decode())

    # -- notifications ----------------------------------------------------------------------------

    async def _notification(self, notification_id: int, account_id: int) -> None:
        subs = [s for s in self.registry.subscribers(f"user:{account_id}") if s.notifications]
        subs += self.registry.subscribers(f"notification:{account_id}")
        if not subs:
            return
        row = await notification_reads.get_notification(self.pool, account_id, notification_id)
        if row is None:  # hidden from the member (muted or blocked sender, unreadable status)
            return
        entities = await render_notifications(self.pool, [row], self.urls, account_id)
        matcher = await filtering.load_matcher(self.pool, account_id, "notifications")
        entities = filtering.apply_to_notifications(entities, matcher)
        if not entities:
            return
        payload = orjson.dumps(entities[0]).decode()
        for sub in subs:
            sub.send("notification", payload)


@dataclass
class _Rendered:
    """One status rendered once per viewer, and once per viewer and filter context."""

    dispatcher: Dispatcher
    entities: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    payloads: dict[tuple[int, str | None], str | None] = field(default_factory=dict)

    async def entity(self, row: asyncpg.Record, viewer_id: int) -> dict[str, Any] | None:
        """The status as the viewer sees it; None when `render_statuses` leaves it out (a boost
        of an original the viewer may not read), a second guard behind `viewers_shown`."""
        if viewer_id not in self.entities:
            d = self.dispatcher
            rendered = await render_statuses(d.pool, [row], d.urls, viewer_id)
            self.entities[viewer_id] = rendered[0] if rendered else None
        return self.entities[viewer_id]

    async def status(self, row: asyncpg.Record, viewer_id: int, context: str | None) -> str | None:
        """The JSON payload for the viewer, or None when it is left out or one of their filters
        hides it."""
        key = (viewer_id, context)
        if key not in self.payloads:
            entity = copy.deepcopy(await self.entity(row, viewer_id))
            if entity is not None and context is not None:
                matcher = await filtering.load_matcher(self.dispatcher.pool, viewer_id, context)
                entity = filtering.filter_status(entity, matcher)
            self.payloads[key] = orjson.dumps(entity).decode() if entity is not None else None
        return self.payloads[key]


def _viewers(subs: Iterable[Subscription]) -> list[int]:
    return list({sub.viewer_id for sub in subs})
