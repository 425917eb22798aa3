"""WebFinger (RFC 7033): from `user@domain` to the ActivityPub actor's id.

The answer is only a pointer: whoever the `self` link names is then fetched from its own host
(with the origin check), so a lying WebFinger server can misdirect a lookup but cannot make a
document pass as another server's actor.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from federation.context import Federation
from federation.fetch import FetchError, get_json
from federation.parse.actors import http_url

ACCEPT = "application/jrd+json, application/json"
JRD_CONTENT_TYPES = frozenset({"application/jrd+json", "application/json"})
# A host name with an optional port: `domain` comes from what a member typed and becomes a URL.
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?$", re.IGNORECASE)
ACTIVITY_LINK_TYPES = frozenset(
    {
        "application/activity+json",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    }
)


async def webfinger(fed: Federation, username: str, domain: str) -> str:
    """The actor id of `username@domain`; `FetchError` when there is none."""
    if not _DOMAIN.match(domain):
        raise FetchError(f"{domain!r} is not a domain name")
    scheme = "http" if fed.allow_private_addresses else "https"
    resource = quote(f"acct:{username}@{domain}", safe=":@")
    url = f"{scheme}://{domain}/.well-known/webfinger?resource={resource}"
    doc, _ = await get_json(fed, url, accept=ACCEPT, content_types=JRD_CONTENT_TYPES, signed=False)
    actor = _self_link(doc.get("links"))
    if actor is None:
        raise FetchError(f"no ActivityPub actor in the WebFinger answer for {username}@{domain}")
    return actor


def _self_link(links: Any) -> str | None:
    for link in links if isinstance(links, list) else []:
        if (
            isinstance(link, dict)
            and link.get("rel") == "self"
            and _normalise(link.get("type")) in ACTIVITY_LINK_TYPES
            and (href := http_url(link.get("href")))
        ):
            return href
    return None


def _normalise(media_type: Any) -> str | None:
    """`media_type` with the spacing around `;` that servers vary on made uniform."""
    if not isinstance(media_type, str):
        return None
    return "; ".join(part.strip() for part in media_type.split(";"))
