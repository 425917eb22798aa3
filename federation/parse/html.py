"""HTML from other servers (profile notes, field values, statuses) made safe to show.

Remote HTML is untrusted: a client renders it as-is. Mastodon's allowlist is kept (paragraphs,
line breaks, links, inline emphasis, lists, quotes, code) along with the microformat classes
clients style mentions, hashtags and shortened links with. Links may only be absolute http(s)
URLs and always carry `rel="nofollow noopener noreferrer"`.
"""

from __future__ import annotations

import html
import re

import nh3

_CLEANER = nh3.Cleaner(
    tags={
        "p",
        "br",
        "a",
        "span",
        "del",
        "s",
        "pre",
        "blockquote",
        "code",
        "b",
        "strong",
        "u",
        "i",
        "em",
        "ul",
        "ol",
        "li",
    },
    attributes={"a": {"href"}, "ol": {"start", "reversed"}, "li": {"value"}},
    allowed_classes={
        "a": {"mention", "hashtag", "u-url", "h-card", "status-link", "unhandled-link"},
        "span": {"h-card", "invisible", "ellipsis"},
    },
    url_schemes={"http", "https"},
    # Relative links would point into this server, not the one that wrote the HTML.
    url_relative="deny",
    link_rel="nofollow noopener noreferrer",
    clean_content_tags={"script", "style"},
)

# A `<` opening or closing a tag, or an entity: the text was meant as HTML.
_LOOKS_LIKE_HTML = re.compile(r"</?[a-zA-Z][^>]*>|&[a-zA-Z#][a-zA-Z0-9]*;")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


def sanitize_html(fragment: str) -> str:
    """`fragment` with everything outside the allowlist removed (text inside is kept)."""
    return _CLEANER.clean(fragment)


def plain_text_to_html(text: str) -> str:
    """Escaped text in paragraphs (blank lines) with `<br>` for single newlines."""
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(text.strip().replace("\r\n", "\n")) if p]
    return "".join(
        "<p>" + html.escape(p, quote=False).replace("\n", "<br>") + "</p>" for p in paragraphs
    )


def text_or_html_to_safe_html(value: str) -> str:
    """Safe HTML from a value that may be HTML or plain text.

    Some servers (PeerTube's `summary`) send plain text with newlines where ActivityPub expects
    HTML; taken as HTML its line breaks would be lost, so text without any markup is converted.
    """
    if _LOOKS_LIKE_HTML.search(value):
        return sanitize_html(value)
    return plain_text_to_html(value)
