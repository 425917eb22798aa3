"""Plain text as members type it, turned into the safe HTML that statuses carry.

Mastodon's rules: `https://` and `http://` links, `@user` / `@user@domain` mentions and `#tags`
become links; everything else is escaped; blank lines separate paragraphs and single newlines
become `<br />`. Only mentions of accounts the server knows are linked (the caller resolves
them), so an unknown handle stays plain text. Nothing here touches the database.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import quote

# The limits a status's text obeys; the instance endpoint advertises the same numbers.
MAX_CHARACTERS = 500
CHARACTERS_PER_URL = 23
# How much of a link's address is shown before it is cut with an ellipsis (as Mastodon does).
SHOWN_URL_LENGTH = 30

LINK_REL = "nofollow noopener noreferrer"

_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_URL_PREFIX = re.compile(r"https?://(?:www\.)?", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?'\"*"
_MENTION = re.compile(r"@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_])?)(?:@([\w.-]+\w))?", re.IGNORECASE)
_TRIGGER = re.compile(r"https?://|[@#]", re.IGNORECASE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


class Mentioned(NamedTuple):
    """A known account a mention links to."""

    url: str
    username: str


# (username, domain or None) -> the account, or None when the server does not know it.
MentionResolver = Callable[[str, str | None], Mentioned | None]
TagUrl = Callable[[str], str]


class _Token(NamedTuple):
    start: int
    end: int
    kind: str  # "url", "mention" or "tag"
    groups: tuple[str, ...]


def mentions_in(text: str) -> list[tuple[str, str | None]]:
    """The `(username, domain)` handles in `text`, in order, without case-insensitive repeats."""
    seen: dict[tuple[str, str], tuple[str, str | None]] = {}
    for token in _tokens(text):
        if token.kind == "mention":
            username, domain = token.groups
            seen.setdefault((username.lower(), domain.lower()), (username, domain or None))
    return list(seen.values())


def hashtags_in(text: str) -> list[str]:
    """The hashtags in `text` as first spelled, in order, without case-insensitive repeats."""
    seen: dict[str, str] = {}
    for token in _tokens(text):
        if token.kind == "tag":
            seen.setdefault(token.groups[0].lower(), token.groups[0])
    return list(seen.values())


def countable_length(text: str) -> int:
    """Length as Mastodon counts it: every link costs 23 characters, remote mentions only their
    username, so neither long addresses nor domains eat into the limit."""
    length = len(text)
    for token in _tokens(text):
        if token.kind == "url":
            length += CHARACTERS_PER_URL - (token.end - token.start)
        elif token.kind == "mention" and token.groups[1]:
            length -= len(token.groups[1]) + 1
    return length


def tag_path(name: str) -> str:
    """A tag's name as it appears in its URL: lower case and percent-encoded."""
    return quote(name.lower(), safe="")


def to_html(text: str, *, resolve_mention: MentionResolver, tag_url: TagUrl) -> str:
    """The HTML for `text`: paragraphs of escaped text with links, mentions and tags linked."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    paragraphs = _PARAGRAPH_BREAK.split(text)
    return "".join(
        "<p>"
        + "<br />".join(_linkify(line, resolve_mention, tag_url) for line in p.split("\n"))
        + "</p>"
        for p in paragraphs
    )


def _linkify(line: str, resolve_mention: MentionResolver, tag_url: TagUrl) -> str:
    parts: list[str] = []
    position = 0
    for token in _tokens(line):
        parts.append(html.escape(line[position : token.start]))
        source = line[token.start : token.end]
        if token.kind == "url":
            parts.append(_link(source))
        elif token.kind == "tag":
            parts.append(_hashtag(token.groups[0], tag_url))
        else:
            username, domain = token.groups
            account = resolve_mention(username, domain or None)
            parts.append(_mention(account) if account else html.escape(source))
        position = token.end
    parts.append(html.escape(line[position:]))
    return "".join(parts)


def _link(url: str) -> str:
    match = _URL_PREFIX.match(url)
    if match is None:
        raise ValueError(f"not an http(s) URL token: {url!r}")
    prefix = match.group(0)
    rest = url[len(prefix) :]
    shown, hidden = rest[:SHOWN_URL_LENGTH], rest[SHOWN_URL_LENGTH:]
    return (
        f'<a href="{html.escape(url)}" target="_blank" rel="{LINK_REL}" translate="no">'
        f'<span class="invisible">{html.escape(prefix)}</span>'
        f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
        f'<span class="invisible">{html.escape(hidden)}</span></a>'
    )


def _mention(account: Mentioned) -> str:
    return (
        f'<span class="h-card" translate="no"><a href="{html.escape(account.url)}"'
        f' class="u-url mention">@<span>{html.escape(account.username)}</span></a></span>'
    )


def _hashtag(name: str, tag_url: TagUrl) -> str:
    return (
        f'<a href="{html.escape(tag_url(name))}" class="mention hashtag" rel="tag">'
        f"#<span>{html.escape(name)}</span></a>"
    )


def _tokens(text: str) -> list[_Token]:
    """Links, mentions and hashtags in `text`, left to right and never overlapping."""
    tokens: list[_Token] = []
    position = 0
    while (trigger := _TRIGGER.search(text, position)) is not None:
        start = trigger.start()
        token = _token_at(text, start)
        if token is None:
            position = start + 1
            continue
        tokens.append(token)
        position = token.end
    return tokens


def _token_at(text: str, start: int) -> _Token | None:
    before = text[start - 1] if start > 0 else ""
    char = text[start]
    if char == "#":
        # As Mastodon: not inside a word, a URL or after a closing parenthesis.
        if before and (before in "=/)" or _is_word(before)):
            return None
        end = _tag_end(text, start + 1)
        name = text[start + 1 : end]
        if not any(c.isalpha() for c in name):
            return None
        return _Token(start, end, "tag", (name,))
    if char == "@":
        if before and (before in "=/" or _is_word(before)):
            return None
        match = _MENTION.match(text, start)
        if match is None:
            return None
        return _Token(start, match.end(), "mention", (match.group(1), match.group(2) or ""))
    match = _URL.match(text, start)
    if match is None or _is_word(before):
        return None
    end = _url_end(text, start, match.end())
    if end <= text.index("://", start) + 3:
        return None
    return _Token(start, end, "url", ())


def _url_end(text: str, start: int, end: int) -> int:
    """Trim trailing punctuation and closing parentheses the link does not open."""
    while end > start:
        last = text[end - 1]
        unbalanced = last == ")" and text.count("(", start, end) < text.count(")", start, end)
        if last not in _TRAILING_PUNCTUATION and not unbalanced:
            break
        end -= 1
    return end


def _tag_end(text: str, position: int) -> int:
    end = position
    while end < len(text) and _is_tag_char(text[end]):
        end += 1
    # A tag may contain a middle dot or a zero-width non-joiner, but not end with one.
    while end > position and text[end - 1] in "\u00b7\u200c":
        end -= 1
    return end


def _is_word(char: str) -> bool:
    return bool(char) and (char.isalnum() or char == "_" or _is_mark(char))


def _is_tag_char(char: str) -> bool:
    return _is_word(char) or char in "\u00b7\u200c"


def _is_mark(char: str) -> bool:
    """Combining marks, which many scripts (Devanagari, Thai, ...) need inside words."""
    return unicodedata.category(char).startswith("M")
