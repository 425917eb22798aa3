"""An ActivityStreams post (Note, Question, Article, Page, Event, Video, ...) turned into the
fields of a remote status. One place, for the inbox and for fetched posts alike.

Peers differ: Lemmy and Friendica send titled `Page`s and `Article`s, Mobilizon `Event`s, PeerTube
`Video`s with a `name` and no `content`, Mastodon polls as `Question`s. A titled post keeps its
title as a first bold paragraph and links to its page, so nothing a member needs is lost. HTML is
always sanitised here; nothing unsanitised leaves this module.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from federation.excerpt import excerpt
from federation.parse.actors import http_url
from federation.parse.attachments import Attachment, parse_attachments
from federation.parse.html import sanitize_html, text_or_html_to_safe_html
from federation.parse.schema import first_error

# `ChatMessage`: Pleroma chats and Lemmy 0.19 private messages, kept as direct statuses.
POST_TYPES = frozenset(
    {"Note", "Question", "Article", "Page", "Event", "Video", "Audio", "Image", "ChatMessage"}
)
# Types whose `summary` is a content warning; elsewhere it is part of the post.
CW_TYPES = frozenset({"Note", "Question", "ChatMessage"})
PUBLIC = frozenset({"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"})
MAX_SPOILER = 5000
MAX_POLL_OPTIONS = 50
MAX_POLL_COUNT = (2**31 - 1) // MAX_POLL_OPTIONS


class NoteError(ValueError):
    """The object cannot be stored as a status; the message says why."""


@dataclass(frozen=True)
class Poll:
    options: list[str]
    votes: list[int]
    multiple: bool
    expires_at: datetime | None
    voters_count: int | None = None  # None: the peer does not say (`votersCount`)
    hide_totals: bool = False  # only a local poll hides its counts


@dataclass(frozen=True)
class ParsedNote:
    uri: str
    type: str
    author_uri: str
    content: str
    url: str | None = None
    spoiler_text: str = ""
    sensitive: bool = False
    in_reply_to: str | None = None
    published: datetime | None = None
    language: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # hrefs of Mention tags
    hashtags: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    poll: Poll | None = None

    def visibility(self, followers_url: str | None) -> str:
        """Mastodon's reading of the audience: Public in `to` is public, in `cc` unlisted;
        the author's followers collection is followers-only; anything else is direct."""
        if PUBLIC & set(self.to):
            return "public"
        if PUBLIC & set(self.cc):
            return "unlisted"
        audience = {*self.to, *self.cc}
        if (followers_url and followers_url in audience) or any(
            a.endswith("/followers") for a in audience
        ):
            return "private"
        return "direct"


def parse_note(doc: dict[str, Any]) -> ParsedNote:
    """The status fields of post `doc`; `NoteError` when it is not a post Kith can store."""
    if not isinstance(doc.get("type"), str) or doc["type"] not in POST_TYPES:
        raise NoteError(f"type {excerpt(doc.get('type'))} is not a post")
    error = first_error("note", doc)
    if error is not None:
        raise NoteError(f"invalid {doc.get('type')}: {error}")
    author = attributed_to(doc)
    if author is None:
        raise NoteError("no author")
    spoiler = _text(doc.get("summary")) if doc["type"] in CW_TYPES else ""
    spoiler = html.unescape(sanitize_html(spoiler) if "<" in spoiler else spoiler)
    spoiler = spoiler[:MAX_SPOILER].strip()
    return ParsedNote(
        uri=doc["id"],
        type=doc["type"],
        author_uri=author,
        content=_content(doc),
        url=_url(doc.get("url")),
        spoiler_text=spoiler,
        sensitive=doc.get("sensitive") is True or bool(spoiler),
        in_reply_to=reference(doc.get("inReplyTo")),
        published=parse_datetime(doc.get("published")),
        language=_language(doc),
        to=audience(doc.get("to")),
        cc=audience(doc.get("cc")),
        mentions=[t["href"] for t in _tags(doc, "Mention") if http_url(t.get("href"))],
        hashtags=_hashtags(doc),
        attachments=parse_attachments(doc, titled=doc["type"] not in CW_TYPES),
        poll=_poll(doc),
    )


def reference(value: Any) -> str | None:
    """The id in a reference: a URL, or an object with an `id`."""
    if isinstance(value, dict):
        value = value.get("id")
    return http_url(value)


def attributed_to(doc: dict[str, Any]) -> str | None:
    """The post's author: the first actor of `attributedTo` (PeerTube and Lemmy list a Group
    too; the Person is the author)."""
    value = doc.get("attributedTo")
    items = value if isinstance(value, list) else [value]
    people = [i for i in items if isinstance(i, dict) and i.get("type") == "Person"]
    for item in people or items:
        if uri := reference(item):
            return uri
    return None


def audience(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [uri for item in items if (uri := reference(item) or _public(item))]


def parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _public(item: Any) -> str | None:
    return item if isinstance(item, str) and item in PUBLIC else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _content(doc: dict[str, Any]) -> str:
    body = _text(doc.get("content"))
    if not body and isinstance(doc.get("contentMap"), dict):
        body = next((v for v in doc["contentMap"].values() if isinstance(v, str)), "")
    if doc["type"] not in CW_TYPES and not body:
        body = _text(doc.get("summary"))
    safe = text_or_html_to_safe_html(body) if body else ""
    name = _text(doc.get("name")).strip()
    if doc["type"] in CW_TYPES or not name:
        return safe
    title = f"<p><strong>{html.escape(name)}</strong></p>"
    url = _url(doc.get("url")) or doc["id"]
    link = f'<p><a href="{html.escape(url)}">{html.escape(url)}</a></p>'
    return sanitize_html(title + safe + link)


def _url(value: Any) -> str | None:
    """The post's page: a URL, a Link, or a list of them (an HTML one preferred)."""
    items = value if isinstance(value, list) else [value]
    links = []
    for item in items:
        if isinstance(item, dict) and (href := http_url(item.get("href"))):
            links.append((item.get("mediaType"), href))
        elif href := http_url(item):
            links.append((None, href))
    html_links = [href for media, href in links if media in (None, "text/html")]
    hrefs = html_links or [href for _, href in links]
    return hrefs[0] if hrefs else None


def _language(doc: dict[str, Any]) -> str | None:
    if isinstance(doc.get("contentMap"), dict) and doc["contentMap"]:
        code = next(iter(doc["contentMap"]))
    elif isinstance(doc.get("language"), dict):  # Lemmy: {"identifier": "ko", "name": ...}
        code = doc["language"].get("identifier")
    else:
        return None
    if isinstance(code, str) and 2 <= len(code) <= 12 and code.replace("-", "").isalnum():
        return code
    return None


def _tags(doc: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    value = doc.get("tag")
    items = value if isinstance(value, list) else [value]
    return [t for t in items if isinstance(t, dict) and t.get("type") == type_]


def _hashtags(doc: dict[str, Any]) -> list[str]:
    names = []
    for tag in _tags(doc, "Hashtag"):
        name = _text(tag.get("name")).lstrip("#").strip()
        if name and len(name) <= 100 and all(c.isalnum() or c == "_" for c in name):
            names.append(name)
    return list(dict.fromkeys(names))


def _poll(doc: dict[str, Any]) -> Poll | None:
    if doc["type"] != "Question":
        return None
    multiple = isinstance(doc.get("anyOf"), list)
    choices = doc.get("anyOf") if multiple else doc.get("oneOf")
    if not isinstance(choices, list):
        return None
    options, votes = [], []
    for choice in choices[:MAX_POLL_OPTIONS]:
        if not isinstance(choice, dict) or not _text(choice.get("name")):
            continue
        options.append(choice["name"][:200])
        replies = choice.get("replies")
        total = replies.get("totalItems") if isinstance(replies, dict) else None
        if total is None:  # older Misskey counts in `_misskey_votes`
            total = choice.get("_misskey_votes")
        votes.append(_count(total) or 0)
    if not options:
        return None
    expires = parse_datetime(doc.get("endTime")) or parse_datetime(doc.get("closed"))
    voters = _count(doc.get("votersCount"))
    if voters is None and not multiple:  # one choice each: as many voters as votes
        voters = sum(votes)
    return Poll(options, votes, multiple, expires, voters)


def _count(value: Any) -> int | None:
    """A non-negative count, capped so that a poll's total still fits an SQL integer."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return None
    return min(value, MAX_POLL_COUNT)
