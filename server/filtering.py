"""Applying a member's filters (Mastodon v2) to rendered statuses, and the filter entities.

Filters are applied after rendering, on the page about to be sent: the member's active filters
for the context are loaded and compiled into one `Matcher` per request (a regular expression per
filter), then every status of the page is checked against it. A `hide` match removes the status
(a boost of a matching status too); a `warn` match keeps it with `filtered` listing the matches,
so that the client can show it behind a warning.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from server.entities.common import iso
from storage import filters as store
from storage.db import Executor

Entity = dict[str, Any]

CONTEXTS = ("home", "notifications", "public", "thread", "account")
ACTIONS = ("warn", "hide")


# -- entities -------------------------------------------------------------------------------------


def render_keyword(row: asyncpg.Record) -> Entity:
    return {"id": str(row["id"]), "keyword": row["keyword"], "whole_word": row["whole_word"]}


def render_filter_status(row: asyncpg.Record) -> Entity:
    return {"id": str(row["id"]), "status_id": str(row["status_id"])}


def render_filter(
    row: asyncpg.Record,
    keywords: Iterable[asyncpg.Record] | None = None,
    statuses: Iterable[asyncpg.Record] | None = None,
) -> Entity:
    """A `Filter`; without `keywords` and `statuses` (as inside a `FilterResult`) it has no
    rules, as in Mastodon."""
    entity: Entity = {
        "id": str(row["id"]),
        "title": row["title"],
        "context": list(row["context"]),
        "expires_at": iso(row["expires_at"]),
        "filter_action": row["filter_action"],
    }
    if keywords is not None:
        entity["keywords"] = [render_keyword(k) for k in keywords]
    if statuses is not None:
        entity["statuses"] = [render_filter_status(s) for s in statuses]
    return entity


async def render_filters(db: Executor, rows: list[asyncpg.Record]) -> list[Entity]:
    """Filters with their keywords and statuses, loaded in one query each."""
    ids = [row["id"] for row in rows]
    keywords, statuses = await _rules(db, ids)
    return [render_filter(row, keywords[row["id"]], statuses[row["id"]]) for row in rows]


async def _rules(
    db: Executor, filter_ids: list[int]
) -> tuple[dict[int, list[asyncpg.Record]], dict[int, list[asyncpg.Record]]]:
    keywords: dict[int, list[asyncpg.Record]] = defaultdict(list)
    statuses: dict[int, list[asyncpg.Record]] = defaultdict(list)
    if filter_ids:
        for k in await store.keywords_of(db, filter_ids):
            keywords[k["filter_id"]].append(k)
        for s in await store.statuses_of(db, filter_ids):
            statuses[s["filter_id"]].append(s)
    return keywords, statuses


# -- matching -------------------------------------------------------------------------------------


def keyword_pattern(keyword: str, whole_word: bool) -> str:
    """A keyword as regex source; a whole word is bounded by `\\b` where it starts or ends with a
    word character (a boundary next to `#` or `@` would never match), as Mastodon does."""
    source = re.escape(keyword)
    if whole_word:
        if re.match(r"\w", keyword[:1]):
            source = r"\b" + source
        if re.match(r"\w", keyword[-1:]):
            source += r"\b"
    return source


@dataclass(frozen=True)
class _Rule:
    entity: Entity  # the Filter without its rules, as a FilterResult embeds it
    hide: bool
    pattern: re.Pattern[str] | None
    status_ids: frozenset[str]


@dataclass(frozen=True)
class Matcher:
    rules: tuple[_Rule, ...]

    def results(self, status: Entity) -> list[tuple[bool, Entity]]:
        """(hide, `FilterResult`) for every rule `status` (a rendered status, not a boost)
        matches."""
        text: str | None = None
        results = []
        for rule in self.rules:
            keyword_matches: list[str] = []
            if rule.pattern is not None:
                text = _searchable_text(status) if text is None else text
                keyword_matches = list(dict.fromkeys(rule.pattern.findall(text)))
            status_matches = [status["id"]] if status["id"] in rule.status_ids else []
            if keyword_matches or status_matches:
                result = {
                    "filter": rule.entity,
                    "keyword_matches": keyword_matches or None,
                    "status_matches": status_matches or None,
                }
                results.append((rule.hide, result))
        return results


NO_FILTERS = Matcher(())


async def load_matcher(db: Executor, account_id: int | None, context: str) -> Matcher:
    """The member's active filters for `context`, compiled; no member, no filters."""
    if account_id is None:
        return NO_FILTERS
    rows = await store.active_filters(db, account_id, context)
    if not rows:
        return NO_FILTERS
    keywords, statuses = await _rules(db, [row["id"] for row in rows])
    rules = []
    for row in rows:
        sources = [keyword_pattern(k["keyword"], k["whole_word"]) for k in keywords[row["id"]]]
        rules.append(
            _Rule(
                entity=render_filter(row),
                hide=row["filter_action"] == "hide",
                # Group-free alternation, so that findall returns the matched text.
                pattern=re.compile("|".join(sources), re.IGNORECASE) if sources else None,
                status_ids=frozenset(str(s["status_id"]) for s in statuses[row["id"]]),
            )
        )
    return Matcher(tuple(rules))


def filter_status(status: Entity, matcher: Matcher) -> Entity | None:
    """`status` with `filtered` set when a warn filter matches; None when a hide filter does.

    A boost is judged by its original (and the original's matches are its own too).
    """
    if not matcher.rules:
        return status
    target = status["reblog"] or status
    results = matcher.results(target)
    if not results:
        return status
    if any(hide for hide, _ in results):
        return None
    target["filtered"] = status["filtered"] = [result for _, result in results]
    return status


def apply(entities: list[Entity], matcher: Matcher) -> list[Entity]:
    """Rendered statuses with hidden ones removed and warned ones marked."""
    kept = (filter_status(entity, matcher) for entity in entities)
    return [entity for entity in kept if entity is not None]


def apply_to_notifications(entities: list[Entity], matcher: Matcher) -> list[Entity]:
    """Rendered notifications without those whose status is hidden; warned statuses marked."""
    return [
        entity
        for entity in entities
        if entity["status"] is None or filter_status(entity["status"], matcher) is not None
    ]


_BREAK = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def _searchable_text(status: Entity) -> str:
    """What a keyword is matched against: the content as plain text and the content warning."""
    plain = html.unescape(_TAG.sub("", _BREAK.sub("\n", status["content"])))
    return f"{status['spoiler_text']}\n{plain}"
