"""Content negotiation between ActivityPub clients and browsers on the URLs that serve both.

An actor or a status has one URL. Servers ask for `application/activity+json` (or JSON-LD with
the ActivityStreams profile); browsers ask for `text/html` and are sent to the HTML page. Both
answers vary with `Accept`, so caches must keep them apart.
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson
from aiohttp import web

ACTIVITY_JSON = "application/activity+json"
# JSON-LD is accepted whatever its profile, and plain JSON too, as Mastodon does: what a server
# asking for either wants is the ActivityStreams document.
_ACTIVITYPUB_TYPES = frozenset({ACTIVITY_JSON, "application/ld+json", "application/json"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
VARY = {"Vary": "Accept"}


def wants_activitypub(request: web.Request) -> bool:
    """True when the request prefers an ActivityStreams document to an HTML page (a tie goes to
    ActivityPub; no `Accept`, or only wildcards, to HTML)."""
    best_activitypub = best_html = 0.0
    for media_range in request.headers.get("Accept", "").split(","):
        media_type, _, params = media_range.partition(";")
        media_type = media_type.strip().lower()
        quality = _quality(params)
        if media_type in _ACTIVITYPUB_TYPES:
            best_activitypub = max(best_activitypub, quality)
        elif media_type in _HTML_TYPES:
            best_html = max(best_html, quality)
    return best_activitypub > 0 and best_activitypub >= best_html


def activity_response(document: Any) -> web.Response:
    return web.Response(body=orjson.dumps(document), content_type=ACTIVITY_JSON, headers=VARY)


def redirect(location: str) -> NoReturn:
    """Send the client to the other representation: a browser to the HTML page, a server to the
    ActivityStreams document."""
    raise web.HTTPFound(location, headers=VARY)


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0
