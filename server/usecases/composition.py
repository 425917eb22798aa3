"""Turning what a member typed into a status's HTML, mentions and hashtags.

Posting and editing both compose text the same way, so both call `compose`.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation import content
from federation.urls import LocalUrls
from storage import statuses as status_store
from storage.db import Conn


@dataclass(frozen=True)
class Composed:
    html: str
    mentioned_ids: list[int]  # known accounts the text mentions, in order, without repeats
    tags: list[str]  # hashtags as first spelled


def handle_key(urls: LocalUrls, username: str, domain: str | None) -> tuple[str, str]:
    """A mention's lookup key: lower-case username and domain, "" for this server."""
    domain = (domain or "").lower()
    return username.lower(), "" if domain == urls.domain.lower() else domain


async def compose(conn: Conn, urls: LocalUrls, text: str) -> Composed:
    """HTML for `text` with links, mentions of known accounts and hashtags; unknown handles stay
    plain text."""
    handles = list(dict.fromkeys(handle_key(urls, u, d) for u, d in content.mentions_in(text)))
    accounts = await status_store.mentionable_accounts(conn, handles)
    by_key = {(a["username"].lower(), (a["domain"] or "").lower()): a for a in accounts}
    mentioned = {handle: by_key[handle] for handle in handles if handle in by_key}

    def resolve(username: str, domain: str | None) -> content.Mentioned | None:
        account = mentioned.get(handle_key(urls, username, domain))
        if account is None:
            return None
        return content.Mentioned(account["url"] or account["uri"], account["username"])

    html = content.to_html(
        text,
        resolve_mention=resolve,
        tag_url=lambda name: urls.tag(content.tag_path(name)),
    )
    mentioned_ids = list(dict.fromkeys(account["id"] for account in mentioned.values()))
    return Composed(html, mentioned_ids, content.hashtags_in(text))
