"""Reading and rewriting an incoming activity the way policies need to.

Rewrites never touch their input: each returns a changed deep copy, so a dry-run policy (or one
whose verdict is dropped) leaves the activity as it arrived. The audience is rewritten on the
activity and on its post alike, because the post's `to`/`cc` is what Kith stores.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable
from typing import Any

from federation.parse.notes import POST_TYPES, PUBLIC, audience, reference

PUBLIC_ID = "https://www.w3.org/ns/activitystreams#Public"
ADDRESSING = ("to", "cc", "bto", "bcc", "audience")
# Posts that are themselves a media file (PeerTube), offered through their `url` links.
MEDIA_POST_TYPES = frozenset({"Video", "Audio"})
_TAG = re.compile(r"<[^>]*>")
_HREF = re.compile(r"<a\s[^>]*>", re.IGNORECASE)
_HREF_VALUE = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_CLASS_VALUE = re.compile(r"""class\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def host_only(host: str) -> str:
    """`host:port` -> `host` (domain lists name hosts, not ports)."""
    return host.rsplit(":", 1)[0] if ":" in host and not host.endswith("]") else host


def covered(host: str, domains: list[str]) -> bool:
    """Whether `host` is one of `domains` or a subdomain of one."""
    host = host_only(host.lower())
    return any(host == d or host.endswith(f".{d}") for d in domains)


def post_of(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The post a Create or Update carries embedded, or None."""
    obj = activity.get("object")
    if activity.get("type") in ("Create", "Update") and isinstance(obj, dict):
        return obj if obj.get("type") in POST_TYPES else None
    return None


def text_of(post: dict[str, Any]) -> str:
    """What a reader sees of a post, as plain text: name, summary and content (every language)."""
    parts = [post.get(k) for k in ("name", "summary", "content")]
    for key in ("nameMap", "summaryMap", "contentMap"):
        if isinstance(post.get(key), dict):
            parts += list(post[key].values())
    text = "\n".join(p for p in parts if isinstance(p, str))
    return html.unescape(_TAG.sub(" ", text))


def tags_of(post: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    tags = post.get("tag")
    tags = tags if isinstance(tags, list) else [tags]
    return [t for t in tags if isinstance(t, dict) and t.get("type") == type_]


def hashtags_of(post: dict[str, Any]) -> set[str]:
    """The post's hashtags, lower-cased, without `#`."""
    return {
        t["name"].lstrip("#").lower()
        for t in tags_of(post, "Hashtag")
        if isinstance(t.get("name"), str)
    }


def mentions_of(post: dict[str, Any]) -> list[str]:
    return [href for t in tags_of(post, "Mention") if (href := reference(t.get("href")))]


def links_of(post: dict[str, Any]) -> list[str]:
    """The http(s) links in the post's content that are not mentions or hashtags."""
    content = post.get("content")
    if not isinstance(content, str):
        content = ""
    tag_hrefs = {t.get("href") for t in tags_of(post, "Mention") + tags_of(post, "Hashtag")}
    links = []
    for anchor in _HREF.findall(content):
        href = _HREF_VALUE.search(anchor)
        classes = _CLASS_VALUE.search(anchor)
        if href is None or not href.group(1).startswith(("http://", "https://")):
            continue
        if href.group(1) in tag_hrefs or (
            classes and {"mention", "hashtag", "u-url"} & set(classes.group(1).split())
        ):
            continue
        links.append(href.group(1))
    return links


def recipients_of(activity: dict[str, Any]) -> list[str]:
    """Everyone the activity and its post address or mention, Public excepted."""
    post = post_of(activity) or {}
    found = mentions_of(post)
    for doc in (activity, post):
        for key in ADDRESSING:
            found += [a for a in audience(doc.get(key)) if a not in PUBLIC]
    return list(dict.fromkeys(found))


def _rewrite(activity: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A copy of `activity` with `change` applied to it and to its post."""
    changed = copy.deepcopy(activity)
    change(changed)
    post = post_of(changed)
    if post is not None:
        change(post)
    return changed


def _addressed(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    return value if isinstance(value, list) else [] if value is None else [value]


def unlist(activity: dict[str, Any]) -> dict[str, Any]:
    """Public moved from `to` to `cc`: the post stays readable but leaves public timelines."""

    def change(doc: dict[str, Any]) -> None:
        to = _addressed(doc, "to")
        if any(a in PUBLIC for a in to):
            doc["to"] = [a for a in to if a not in PUBLIC]
            doc["cc"] = [*_addressed(doc, "cc"), PUBLIC_ID]

    return _rewrite(activity, change)


def followers_only(activity: dict[str, Any], followers_url: str | None) -> dict[str, Any]:
    """Public dropped altogether (its author's followers addressed instead)."""

    def change(doc: dict[str, Any]) -> None:
        was_public = False
        for key in ("to", "cc"):
            items = _addressed(doc, key)
            kept = [a for a in items if a not in PUBLIC]
            was_public |= len(kept) != len(items)
            if key in doc:
                doc[key] = kept
        if was_public and followers_url and followers_url not in _addressed(doc, "to"):
            doc["to"] = [*_addressed(doc, "to"), followers_url]

    return _rewrite(activity, change)


def mark_sensitive(activity: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(activity)
    post = post_of(changed)
    if post is not None:
        post["sensitive"] = True
    return changed


def add_warning(activity: dict[str, Any], warning: str) -> dict[str, Any]:
    """A content warning (`summary`) when the post has none, and marked sensitive."""
    changed = mark_sensitive(activity)
    post = post_of(changed)
    if post is not None and not (isinstance(post.get("summary"), str) and post["summary"].strip()):
        post["summary"] = warning
    return changed


def strip_media(activity: dict[str, Any]) -> dict[str, Any]:
    """The post's media removed: its attachments, its picture (`image`, `icon`) and, for a
    PeerTube-like Video, the links to its files (its HTML page stays). For an actor's Update,
    its avatar and header."""
    changed = copy.deepcopy(activity)
    obj = changed.get("object")
    post = post_of(changed)
    if post is not None:
        for key in ("attachment", "image", "icon"):
            post.pop(key, None)
        if post.get("type") in MEDIA_POST_TYPES and isinstance(post.get("url"), list | dict):
            post["url"] = [link for link in _links(post["url"]) if not _is_file(link)]
    elif isinstance(obj, dict):
        obj.pop("icon", None)
        obj.pop("image", None)
    return changed


def has_media(activity: dict[str, Any]) -> bool:
    post = post_of(activity)
    if post is not None:
        return bool(post.get("attachment") or post.get("image") or post.get("icon")) or (
            post.get("type") in MEDIA_POST_TYPES and any(map(_is_file, _links(post.get("url"))))
        )
    obj = activity.get("object")
    return (
        activity.get("type") == "Update"
        and isinstance(obj, dict)
        and bool(obj.get("icon") or obj.get("image"))
    )


def _links(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _is_file(link: Any) -> bool:
    """Whether a `url` entry of a Video post leads to its files rather than its page: a Link
    other than HTML (a playlist, a video, a torrent)."""
    if not isinstance(link, dict):
        return False
    media_type = link.get("mediaType")
    return isinstance(media_type, str) and media_type.split(";")[0].strip() != "text/html"


def strip_mentions(activity: dict[str, Any]) -> dict[str, Any]:
    """Every Mention tag and every named recipient dropped; Public and followers collections
    stay, so nobody here is notified but the post keeps its visibility."""

    def change(doc: dict[str, Any]) -> None:
        if isinstance(doc.get("tag"), list):
            doc["tag"] = [
                t for t in doc["tag"] if not (isinstance(t, dict) and t.get("type") == "Mention")
            ]
        for key in ADDRESSING:
            if key in doc:
                doc[key] = [
                    a
                    for a in _addressed(doc, key)
                    if a in PUBLIC or (isinstance(a, str) and a.endswith("/followers"))
                ]

    return _rewrite(activity, change)
