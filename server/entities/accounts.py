"""Account records to Mastodon `Account` and `CredentialAccount` entities."""

from __future__ import annotations

from typing import Any

import asyncpg

from federation.urls import LocalUrls
from server.entities.common import date_only, midnight

DEFAULT_AVATAR = "/static/missing.png"
DEFAULT_HEADER = "/static/header.png"


def acct(account: asyncpg.Record) -> str:
    """`user` for local accounts, `user@domain` for remote ones."""
    domain = account["domain"]
    return account["username"] if domain is None else f"{account['username']}@{domain}"


def render_account(account: asyncpg.Record, urls: LocalUrls) -> dict[str, Any]:
    avatar = account["avatar_url"] or urls.base_url + DEFAULT_AVATAR
    header = account["header_url"] or urls.base_url + DEFAULT_HEADER
    entity = {
        "id": str(account["id"]),
        "username": account["username"],
        "acct": acct(account),
        "display_name": account["display_name"],
        "locked": account["locked"],
        "bot": account["bot"],
        "discoverable": account["discoverable"],
        "indexable": account["indexable"],
        "group": account["actor_type"] == "Group",
        "created_at": midnight(account["created_at"]),
        "note": account["note"],
        "url": account["url"] or account["uri"],
        "uri": account["uri"],
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": account["followers_count"],
        "following_count": account["following_count"],
        "statuses_count": account["statuses_count"],
        "last_status_at": date_only(account["last_status_at"]),
        "hide_collections": account["hide_collections"],
        "noindex": not account["indexable"],
        "emojis": [],
        "roles": [],
        "fields": [
            {
                "name": field.get("name", ""),
                "value": field.get("value", ""),
                "verified_at": field.get("verified_at"),
            }
            for field in account["fields"]
        ],
    }
    # Mastodon sends these two only when they are true.
    if account["suspended_at"] is not None:
        entity["suspended"] = True
    if account["silenced_at"] is not None:
        entity["limited"] = True
    return entity


_ROLES = {
    "user": {"id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": False},
    "moderator": {
        "id": "2",
        "name": "Moderator",
        "permissions": "1308",
        "color": "",
        "highlighted": True,
    },
    "admin": {"id": "3", "name": "Admin", "permissions": "1", "color": "", "highlighted": True},
}


def render_credential_account(
    account: asyncpg.Record,
    user: asyncpg.Record,
    urls: LocalUrls,
    *,
    follow_requests_count: int,
) -> dict[str, Any]:
    """The signed-in member's own account, with `source` and `role`."""
    entity = render_account(account, urls)
    entity["source"] = {
        "privacy": user["default_visibility"],
        "sensitive": user["default_sensitive"],
        "language": user["default_language"] or "",
        "note": account["note_source"],
        "fields": [
            {
                "name": f.get("name", ""),
                "value": f.get("source", f.get("value", "")),
                "verified_at": None,
            }
            for f in account["fields"]
        ],
        "follow_requests_count": follow_requests_count,
        "hide_collections": account["hide_collections"],
        "discoverable": account["discoverable"],
        "indexable": account["indexable"],
        "local_only": user["default_local_only"],
    }
    entity["role"] = _ROLES[user["role"]]
    return entity
