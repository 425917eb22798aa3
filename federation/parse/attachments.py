"""A post's media as its server describes it, turned into remote attachments.

Peers describe media in several shapes, all handled here:

- Mastodon, Pleroma, Friendica, Mobilizon: `attachment` items (`Document`, `Image`...) with a
  `url` string, `mediaType`, `name` (alt text), `blurhash`, `focalPoint`, `width`/`height`, and
  an `icon` (the thumbnail of a video or audio file).
- `url` may also be a `Link` object (`href`, `mediaType`) or a list of them.
- PeerTube: a `Video` post carries no attachment; the video is the post itself, offered as a
  list of `Link`s (an HTML page, an HLS playlist whose `tag` lists MP4 renditions, torrents).
  The playable rendition is chosen (`_playable`) and its thumbnail comes from the post's `icon`.
- Lemmy: a `Page`'s `image` is its picture; its link attachment (`Link` with an `href`, no media
  type, or `text/html`) is the post's link, not media: it stays an `unknown` attachment (a link
  in Mastodon's API) unless it names the same file as `image`.

Nothing here is fetched; a URL is kept only when it is http(s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from federation.parse.actors import http_url

MAX_ATTACHMENTS = 20
MAX_DESCRIPTION = 1500
MAX_BLURHASH = 100
# The tallest video rendition chosen when a peer offers several; a taller one only when it is all
# there is (PeerTube's 1080p files are several hundred megabytes).
PREFERRED_VIDEO_HEIGHT = 720
MEDIA_KINDS = frozenset({"image", "video", "audio"})
_AS_KINDS = {"Image": "image", "Video": "video", "Audio": "audio"}
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


@dataclass(frozen=True)
class Attachment:
    """One remote attachment. `type` is Mastodon's (image, video, gifv, audio, or unknown: a
    link); `focus` is Mastodon's focal point (x, y), each in [-1, 1]."""

    url: str
    type: str
    description: str | None
    blurhash: str | None
    media_type: str | None = None
    width: int | None = None
    height: int | None = None
    focus: tuple[float, float] | None = None
    preview_url: str | None = None
    duration: float | None = None


@dataclass(frozen=True)
class _Link:
    href: str
    media_type: str | None
    width: int | None
    height: int | None

    @property
    def kind(self) -> str | None:
        kind = (self.media_type or "").split("/", 1)[0]
        return kind if kind in MEDIA_KINDS else None


def parse_attachments(doc: dict[str, Any], *, titled: bool) -> list[Attachment]:
    """The attachments of post `doc`, at most `MAX_ATTACHMENTS`. `titled`: a post whose `image`
    is its picture (Lemmy's `Page`, `Article`), not a Note."""
    found = [a for item in _items(doc.get("attachment")) if (a := _attachment(item))]
    if not any(a.type in MEDIA_KINDS for a in found) and (own := _post_media(doc)) is not None:
        found.insert(0, own)
    if titled and (image := _image_url(doc.get("image"))) is not None:
        found = _with_image(found, image)
    return found[:MAX_ATTACHMENTS]


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


# Pixels on a side, a sane bound: a fetched document (parsed with no limit on integers) could
# carry a width that no float can divide.
MAX_SIDE = 2**31 - 1


def _size(value: Any) -> int | None:
    valid = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SIDE
    return value if valid else None


def _media_type(value: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > 100:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def _links(value: Any) -> list[_Link]:
    """The links in a `url` or `href`: a URL string, a `Link`, or a list of them; the `tag`s of
    a Link (PeerTube lists a playlist's MP4 files there) are links too."""
    links = []
    for item in _items(value):
        if href := http_url(item):
            links.append(_Link(href, None, None, None))
        elif isinstance(item, dict):
            if href := http_url(item.get("href")) or http_url(item.get("url")):
                links.append(
                    _Link(
                        href,
                        _media_type(item.get("mediaType")),
                        _size(item.get("width")),
                        _size(item.get("height")),
                    )
                )
            if isinstance(item.get("tag"), list):
                links += _links([t for t in item["tag"] if isinstance(t, dict)])
    return links


def _playable(links: list[_Link]) -> _Link | None:
    """The rendition to show: an MP4 if there is one (any video or audio file otherwise), the
    tallest no taller than `PREFERRED_VIDEO_HEIGHT`, else the smallest."""
    media = [link for link in links if link.kind in ("video", "audio")]
    candidates = [link for link in media if link.media_type == "video/mp4"] or media
    if not candidates:
        return None
    fitting = [link for link in candidates if (link.height or 0) <= PREFERRED_VIDEO_HEIGHT]
    if fitting:
        return max(fitting, key=lambda link: link.height or 0)
    return min(candidates, key=lambda link: link.height or 0)


def _image_url(value: Any) -> str | None:
    """The URL of an `image` or `icon`: a URL, an Image object, or a list (the widest wins)."""
    best: tuple[int, str] | None = None
    for item in _items(value):
        if href := http_url(item):
            width = 0
        elif isinstance(item, dict):
            links = _links(item.get("url")) or _links(item.get("href"))
            if not links:
                continue
            href, width = links[0].href, _size(item.get("width")) or links[0].width or 0
        else:
            continue
        if best is None or width > best[0]:
            best = (width, href)
    return best[1] if best else None


def _focus(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, list) or len(value) != 2:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    if not all(-1 <= v <= 1 for v in value):  # compared before float(): 10**400 has none
        return None
    return float(value[0]), float(value[1])


def _duration(value: Any) -> float | None:
    """Seconds of an ISO 8601 duration as PeerTube writes it (`PT1145S`, `PT1H2M3S`)."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _kind(media_type: str | None, as_type: Any) -> str:
    kind = (media_type or "").split("/", 1)[0]
    if kind in MEDIA_KINDS:
        return kind
    if media_type is None and isinstance(as_type, str) and as_type in _AS_KINDS:
        return _AS_KINDS[as_type]
    return "unknown"


def _attachment(item: Any) -> Attachment | None:
    if not isinstance(item, dict) or item.get("type") == "PropertyValue":
        return None
    links = _links(item.get("url")) or _links(item.get("href"))
    if not links:
        return None
    media_type = _media_type(item.get("mediaType"))
    chosen = links[0] if media_type or len(links) == 1 else (_playable(links) or links[0])
    media_type = media_type or chosen.media_type
    kind = _kind(media_type, item.get("type"))
    return Attachment(
        url=chosen.href,
        type=kind,
        description=_text(item.get("name"), MAX_DESCRIPTION),
        blurhash=_text(item.get("blurhash"), MAX_BLURHASH),
        media_type=media_type if kind != "unknown" else None,
        width=_size(item.get("width")) or chosen.width,
        height=_size(item.get("height")) or chosen.height,
        focus=_focus(item.get("focalPoint")),
        preview_url=_image_url(item.get("icon")) if kind != "unknown" else None,
        duration=_duration(item.get("duration")),
    )


def _post_media(doc: dict[str, Any]) -> Attachment | None:
    """A PeerTube-like `Video` (or `Audio`) post's own file, from its list of `url`s."""
    if doc.get("type") not in ("Video", "Audio"):
        return None
    chosen = _playable(_links(doc.get("url")))
    if chosen is None or chosen.kind is None:
        return None
    return Attachment(
        url=chosen.href,
        type=chosen.kind,
        description=None,
        blurhash=_text(doc.get("blurhash"), MAX_BLURHASH),
        media_type=chosen.media_type,
        width=chosen.width,
        height=chosen.height,
        preview_url=_image_url(doc.get("icon")),
        duration=_duration(doc.get("duration")),
    )


def _with_image(found: list[Attachment], image: str) -> list[Attachment]:
    """Lemmy's `image` as an image attachment: the link attachment naming the same file becomes
    that image; otherwise the image comes first."""
    for i, attachment in enumerate(found):
        if attachment.url == image:
            if attachment.type == "unknown":
                found[i] = Attachment(image, "image", attachment.description, attachment.blurhash)
            return found
    return [Attachment(image, "image", None, None), *found]
