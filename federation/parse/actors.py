"""An ActivityStreams actor document turned into the fields of a remote account. One place.

Servers differ in the details (PeerTube sends several icons and plain-text summaries, Lemmy has
no `following`, Mobilizon sends PKCS#1 keys and `null` collections, `publicKey` may be a list),
so every field is read defensively: a malformed optional field is dropped, never fatal. Only what
makes the actor unusable is refused with `ValueError`: an id that is not an absolute http(s) URL,
a type that is not an actor, no inbox, no usable `preferredUsername`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from federation.excerpt import excerpt
from federation.parse.html import sanitize_html, text_or_html_to_safe_html

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
# Mastodon marks these actors as automated.
BOT_TYPES = frozenset({"Service", "Application"})
# Mastodon's limits for remote profiles; beyond them a document is truncated, not refused.
MAX_DISPLAY_NAME = 2048
MAX_NOTE = 100_000
MAX_FIELDS = 50
MAX_FIELD_LENGTH = 2048
# No whitespace, `@`, `/` or control characters: a username must survive `user@domain`.
_USERNAME = re.compile(r"^[^\s@/\\:\x00-\x1f\x7f]{1,2048}$")


@dataclass(frozen=True)
class RemoteActor:
    uri: str
    username: str
    domain: str
    inbox: str
    actor_type: str
    display_name: str = ""
    note: str = ""
    url: str | None = None
    outbox: str | None = None
    shared_inbox: str | None = None
    followers: str | None = None
    following: str | None = None
    featured: str | None = None
    public_key_id: str | None = None
    public_key_pem: str | None = None
    avatar: str | None = None
    header: str | None = None
    locked: bool = False
    bot: bool = False
    discoverable: bool = False
    indexable: bool = False
    fields: list[dict[str, str]] = field(default_factory=list)
    moved_to: str | None = None
    published: datetime | None = None


def http_url(value: Any) -> str | None:
    """`value` when it is an absolute http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return value


_DEFAULT_PORTS = {"http": 80, "https": 443}


def authority(url: str) -> str:
    """The lower-cased host of `url`, with its port unless it is the scheme's default."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    return f"{host}:{port}" if port and port != _DEFAULT_PORTS.get(parts.scheme) else host


def parse_actor(doc: dict[str, Any]) -> RemoteActor:
    """The account fields of actor document `doc`; `ValueError` says why it is unusable."""
    uri = http_url(doc.get("id"))
    if uri is None:
        raise ValueError("actor id is not an absolute http(s) URL")
    actor_type = _actor_type(doc.get("type"))
    if actor_type is None:
        raise ValueError(f"type {excerpt(doc.get('type'))} is not an actor type")
    inbox = http_url(doc.get("inbox"))
    if inbox is None:
        raise ValueError("actor has no inbox")
    username = doc.get("preferredUsername")
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise ValueError("actor has no usable preferredUsername")
    endpoints = doc.get("endpoints")
    if not isinstance(endpoints, dict):
        endpoints = {}
    key_id, key_pem = _public_key(doc.get("publicKey"), uri)
    return RemoteActor(
        uri=uri,
        username=username,
        domain=authority(uri),
        inbox=inbox,
        actor_type=actor_type,
        display_name=_text(doc.get("name"))[:MAX_DISPLAY_NAME].strip(),
        note=text_or_html_to_safe_html(_text(doc.get("summary"))[:MAX_NOTE]),
        url=_link(doc.get("url")),
        outbox=http_url(doc.get("outbox")),
        shared_inbox=http_url(endpoints.get("sharedInbox")),
        followers=http_url(doc.get("followers")),
        following=http_url(doc.get("following")),
        featured=http_url(doc.get("featured")),
        public_key_id=key_id,
        public_key_pem=key_pem,
        avatar=_image(doc.get("icon")),
        header=_image(doc.get("image")),
        locked=doc.get("manuallyApprovesFollowers") is True,
        bot=actor_type in BOT_TYPES,
        discoverable=doc.get("discoverable") is True,
        indexable=doc.get("indexable") is True,
        fields=_fields(doc.get("attachment")),
        moved_to=http_url(doc.get("movedTo")),
        published=_datetime(doc.get("published")),
    )


def _actor_type(value: Any) -> str | None:
    types = value if isinstance(value, list) else [value]
    return next((t for t in types if isinstance(t, str) and t in ACTOR_TYPES), None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _link(value: Any) -> str | None:
    """A profile URL from `url`: a string, a Link object, or a list of either (HTML first)."""
    candidates = value if isinstance(value, list) else [value]
    links: list[tuple[str | None, str]] = []
    for item in candidates:
        if isinstance(item, dict) and (href := http_url(item.get("href"))):
            links.append((item.get("mediaType"), href))
        elif href := http_url(item):
            links.append((None, href))
    html_links = [href for media, href in links if media in (None, "text/html")]
    hrefs = html_links or [href for _, href in links]
    return hrefs[0] if hrefs else None


def _image(value: Any) -> str | None:
    """The URL of an `icon`/`image`: an Image, a URL, or a list of them (the widest wins)."""
    candidates = value if isinstance(value, list) else [value]
    best: tuple[int, str] | None = None
    for item in candidates:
        url = http_url(item.get("url")) if isinstance(item, dict) else http_url(item)
        if url is None:
            continue
        width = item.get("width") if isinstance(item, dict) else None
        width = width if isinstance(width, int) else 0
        if best is None or width > best[0]:
            best = (width, url)
    return best[1] if best else None


def _public_key(value: Any, uri: str) -> tuple[str | None, str | None]:
    """The actor's own key: an entry of `publicKey` owned by the actor (a key claiming another
    owner could let one actor's documents pass as another's) and whose id is on the actor's
    host. An actor naming a key id on another host would claim that host's key: signatures
    naming it would be taken for the actor's, and the key's real owner could no longer be
    found by it."""
    keys = value if isinstance(value, list) else [value]
    for key in keys:
        if not isinstance(key, dict):
            continue
        key_id, pem, owner = http_url(key.get("id")), key.get("publicKeyPem"), key.get("owner")
        if key_id is None or not isinstance(pem, str) or "BEGIN" not in pem:
            continue
        if authority(key_id) != authority(uri):
            continue
        if owner == uri or (owner is None and key_id.split("#", 1)[0] == uri):
            return key_id, pem
    return None, None


def _fields(value: Any) -> list[dict[str, str]]:
    """Profile metadata from `PropertyValue` attachments: plain-text name, safe-HTML value."""
    items = value if isinstance(value, list) else [value]
    fields = []
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "PropertyValue":
            continue
        name, val = item.get("name"), item.get("value")
        if isinstance(name, str) and isinstance(val, str):
            fields.append(
                {
                    "name": name[:MAX_FIELD_LENGTH],
                    "value": sanitize_html(val[:MAX_FIELD_LENGTH]),
                }
            )
    return fields[:MAX_FIELDS]


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
