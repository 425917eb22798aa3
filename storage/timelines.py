"""The home, public and hashtag timelines as SQL.

Each timeline is built as a `Query` (SQL text plus arguments) before it is run, so that the plan
tests EXPLAIN exactly what production executes. Every query walks one index newest-first and stops
after `limit` rows that pass the filters:

- home: the reader's `home_feed` rows by the primary key (account_id, status_id),
- public: the partial index `statuses_public_idx` (public, original, not deleted),
- hashtag: `statuses_tags_tag_idx` (tag_id, status_id), once per requested tag.

Visibility (`readable_by`) is re-checked when reading, so a status that stopped being readable
(unfollowed author, block, deletion) disappears even if a feed row is left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from storage.db import Executor
from storage.pagination import Page
from storage.statuses import STATUS_COLUMNS
from storage.visibility import member_blocks_domain, readable_by


@dataclass(frozen=True)
class Query:
    sql: str
    args: tuple[Any, ...]


@dataclass
class _Args:
    """Numbers placeholders in the order arguments are added."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"

    def page(self, page: Page, column: str) -> str:
        conditions, values = page.where(column, len(self.values) + 1)
        self.values.extend(values)
        return conditions


def _limit(page: Page) -> int:
    """The page size, written into the SQL rather than passed as an argument.

    A prepared statement eventually gets a generic plan; with `LIMIT $n` the planner would then
    assume a tenth of the table is wanted and could choose a sequential scan.
    """
    return int(page.limit)


def _author_hidden(viewer: str, author: str, *, silenced: bool = False) -> str:
    """SQL that is true when the viewer must not see statuses by `author` in a timeline.

    The author is suspended (or, with `silenced`, limited), muted by the viewer, or on a domain
    the viewer blocked. Blocks in either direction are part of `readable_by`.
    """
    limited = " OR ha.silenced_at IS NOT NULL" if silenced else ""
    return f"""EXISTS (
        SELECT 1 FROM accounts ha
        WHERE ha.id = {author} AND (
            ha.suspended_at IS NOT NULL{limited}
            OR EXISTS (
                SELECT 1 FROM mutes mu
                WHERE mu.account_id = {viewer}::bigint AND mu.target_account_id = ha.id
                  AND (mu.expires_at IS NULL OR mu.expires_at > now()))
            OR {member_blocks_domain(f"{viewer}::bigint", "ha.domain")}))"""


def shown_to(viewer: str, alias: str, *, silenced: bool = False) -> str:
    """SQL: status `alias` is readable by the viewer and its author is not hidden from them."""
    hidden = _author_hidden(viewer, f"{alias}.account_id", silenced=silenced)
    return f"{readable_by(viewer, alias)} AND NOT {hidden}"


def home_query(viewer_id: int, page: Page) -> Query:
    """The reader's home feed; boosts whose original is gone or hidden are skipped."""
    args = _Args()
    viewer = args.add(viewer_id)
    limit = _limit(page)
    sql = f"""
        SELECT {STATUS_COLUMNS}
        FROM home_feed h JOIN statuses s ON s.id = h.status_id
        WHERE h.account_id = {viewer} AND {args.page(page, "h.status_id")}
          AND {shown_to(viewer, "s")}
          AND (s.reblog_of_id IS NULL OR EXISTS (
                SELECT 1 FROM statuses o WHERE o.id = s.reblog_of_id AND {shown_to(viewer, "o")}))
        ORDER BY {page.order("h.status_id")}
        LIMIT {limit}
    """
    return Query(sql, tuple(args.values))


def _origin(alias: str, *, local: bool, remote: bool) -> str:
    """Mastodon's `local`/`remote` flags: each alone restricts; both or neither mean all."""
    if local and not remote:
        return f" AND {alias}.local"
    if remote and not local:
        return f" AND NOT {alias}.local"
    return ""


def _media(alias: str, only_media: bool) -> str:
    if not only_media:
        return ""
    return f" AND EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.status_id = {alias}.id)"


# Must repeat the predicate of `statuses_public_idx` for the planner to use that index.
_PUBLIC = "{a}.visibility = 'public' AND {a}.reblog_of_id IS NULL AND {a}.deleted_at IS NULL"


def public_query(
    viewer_id: int | None,
    page: Page,
    *,
    local: bool = False,
    remote: bool = False,
    only_media: bool = False,
) -> Query:
    """Public original statuses, without replies to others (as Mastodon's public timelines)."""
    args = _Args()
    viewer = args.add(viewer_id)
    limit = _limit(page)
    sql = f"""
        SELECT {STATUS_COLUMNS}
        FROM statuses s
        WHERE {_PUBLIC.format(a="s")}{_origin("s", local=local, remote=remote)}
          AND (s.in_reply_to_id IS NULL OR s.in_reply_to_account_id = s.account_id)
          AND {args.page(page, "s.id")}
          AND {shown_to(viewer, "s", silenced=True)}{_media("s", only_media)}
        ORDER BY {page.order("s.id")}
        LIMIT {limit}
    """
    return Query(sql, tuple(args.values))


def tag_query(
    viewer_id: int | None,
    page: Page,
    tag_ids: list[int],
    *,
    all_ids: list[int] | None = None,
    none_ids: list[int] | None = None,
    local: bool = False,
    remote: bool = False,
    only_media: bool = False,
) -> Query:
    """Public statuses carrying any of `tag_ids`, all of `all_ids` and none of `none_ids`.

    Each tag is read from its own index range (a LATERAL subquery with the limit), then the
    candidates are merged and de-duplicated: a B-tree cannot scan several tags in one id order.
    """
    args = _Args()
    viewer = args.add(viewer_id)
    limit = _limit(page)
    tags = args.add(tag_ids)
    extra = ""
    if all_ids:
        extra += f""" AND {args.add(all_ids)}::bigint[] <@ ARRAY(
            SELECT x.tag_id FROM statuses_tags x WHERE x.status_id = c.id)"""
    if none_ids:
        extra += f""" AND NOT EXISTS (
            SELECT 1 FROM statuses_tags x
            WHERE x.status_id = c.id AND x.tag_id = ANY({args.add(none_ids)}::bigint[]))"""
    # `+ 0` keeps the planner from reading statuses in id order and probing each one for the
    # tag (it takes the join key for the sort key): fine for a common tag, a full scan for a rare
    # one. The tag's own index range is always the right driver.
    sql = f"""
        SELECT {STATUS_COLUMNS}
        FROM (
            SELECT DISTINCT hit.status_id
            FROM unnest({tags}::bigint[]) AS t (tag_id)
            CROSS JOIN LATERAL (
                SELECT st.status_id
                FROM statuses_tags st JOIN statuses c ON c.id = st.status_id + 0
                WHERE st.tag_id = t.tag_id AND {args.page(page, "st.status_id")}
                  AND {_PUBLIC.format(a="c")}{_origin("c", local=local, remote=remote)}
                  AND {shown_to(viewer, "c", silenced=True)}{_media("c", only_media)}{extra}
                ORDER BY {page.order("st.status_id")}
                LIMIT {limit}
            ) AS hit
            ORDER BY {page.order("hit.status_id")}
            LIMIT {limit}
        ) AS top
        JOIN statuses s ON s.id = top.status_id
        ORDER BY {page.order("s.id")}
    """
    return Query(sql, tuple(args.values))


async def run(db: Executor, query: Query, page: Page) -> list[asyncpg.Record]:
    """The query's statuses, newest first whichever way the page was read."""
    return page.newest_first(await db.fetch(query.sql, *query.args))


async def tag_ids(db: Executor, names: list[str]) -> list[int]:
    """Ids of the tags named (case-insensitively) in `names`; unknown names are left out."""
    if not names:
        return []
    return [
        row["id"]
        for row in await db.fetch(
            "SELECT id FROM tags WHERE lower(name) IN (SELECT lower(n) FROM unnest($1::text[]) n)",
            names,
        )
    ]


async def explain(db: Executor, query: Query, *, analyze: bool = False) -> dict[str, Any]:
    """The planner's JSON plan for `query` (executing it with `analyze`), for plan checks."""
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    raw = await db.fetchval(f"EXPLAIN ({options}) {query.sql}", *query.args)
    # A pool's connections decode json themselves (storage.db); a bare connection returns text.
    plans = orjson.loads(raw) if isinstance(raw, str) else raw
    return plans[0]
