"""Local account rows to ActivityPub actors (`Person`, `Service` for bots, `Application` for the
instance actor), in Mastodon's shape."""

from __future__ import annotations

import mimetypes
from datetime import UTC
from typing import Any
from urllib.parse import urljoin

from federation.render.context import ACTOR_CONTEXT
from federation.urls import LocalUrls
from storage.db import Row


def render_actor(account: Row, urls: LocalUrls) -> dict[str, Any]:
    """The actor document of a local account row (all `accounts` columns, the public key
    included; the private key is never read).

    Collection and key ids come from the row, as they were advertised when the account was made.
    """
    actor = account["uri"]
    document: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": actor,
        "type": _actor_type(account),
        "following": account["following_url"],
        "followers": account["followers_url"],
        "inbox": account["inbox_url"],
        "outbox": account["outbox_url"],
        "featured": account["featured_url"],
        "preferredUsername": account["username"],
        "name": account["display_name"],
        "summary": account["note"],
        "url": account["url"] or actor,
        "manuallyApprovesFollowers": account["locked"],
        "discoverable": account["discoverable"],
        "indexable": account["indexable"],
        # To the day, as Mastodon publishes it.
        "published": account["created_at"].astimezone(UTC).strftime("%Y-%m-%dT00:00:00Z"),
        "publicKey": {
            "id": account["public_key_id"],
            "owner": actor,
            "publicKeyPem": account["public_key_pem"],
        },
        "tag": [],
        "attachment": [
            {
                "type": "PropertyValue",
                "name": field.get("name", ""),
                "value": field.get("value", ""),
            }
            for field in account["fields"]
        ],
        "endpoints": {"sharedInbox": account["shared_inbox_url"]},
    }
    for key, column in (("icon", "avatar_url"), ("image", "header_url")):
        if account[column]:
            document[key] = _image(urljoin(urls.base_url + "/", account[column]))
    return document


def _actor_type(account: Row) -> str:
    """Mastodon marks bots by their type: a `Person` flagged as a bot is a `Service`."""
    if account["bot"] and account["actor_type"] == "Person":
        return "Service"
    return account["actor_type"]


def _image(url: str) -> dict[str, str]:
    image = {"type": "Image", "url": url}
    media_type, _ = mimetypes.guess_type(url)
    if media_type:
        image["mediaType"] = media_type
    return image
