"""Holding back link spam: a delivered post with links, from an account Kith first saw less than
`max_account_age_hours` ago and that at most `max_followers` local accounts follow, which
mentions or addresses a local member, waits in `held_activities` until an admin releases or
discards it. Spam waves look like that; a newcomer's ordinary post does not mention strangers.

Only deliveries are held: an object fetched on a member's request (a search) is what they asked
for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from federation.policies import activity as act
from federation.policies.base import Context, Outcome, PolicyKind, accept, hold
from storage import policies as store


async def _apply(ctx: Context, config: dict[str, Any], activity: dict[str, Any]) -> Outcome:
    post = act.post_of(activity)
    if ctx.source != "inbox" or activity.get("type") != "Create" or post is None:
        return accept()
    links = act.links_of(post)
    if not links:
        return accept()
    standing = await store.account_standing(ctx.fed.pool, str(activity.get("actor")))
    if standing is not None:
        age = datetime.now(UTC) - standing["created_at"]
        if age >= timedelta(hours=config["max_account_age_hours"]):
            return accept()
        if standing["local_followers"] > config.get("max_followers", 0):
            return accept()
    mentioned = await store.local_accounts_among(ctx.fed.pool, act.recipients_of(activity))
    if not mentioned:
        return accept()
    return hold(f"a new account's post with {len(links)} link(s) mentioning local members")


def _summary(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "max_account_age_hours": config["max_account_age_hours"],
        "max_followers": config.get("max_followers", 0),
    }


KIND = PolicyKind("hold_links", _apply, "HoldLinksPolicy", "mrf_hold_links", _summary)
