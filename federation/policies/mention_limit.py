"""The hellthread limit: a post naming more than `max_mentions` people (mentions and addressed
recipients, Public and the author's followers collection not counted) is rejected, unlisted, or
stripped of its mentions and named recipients, so that nobody here is notified."""

from __future__ import annotations

from typing import Any

from federation.policies import activity as act
from federation.policies.base import Context, Outcome, PolicyKind, accept, reject, rewrite
from storage import policies as store


async def _apply(ctx: Context, config: dict[str, Any], activity: dict[str, Any]) -> Outcome:
    if activity.get("type") != "Create" or act.post_of(activity) is None:
        return accept()
    recipients = act.recipients_of(activity)
    standing = await store.account_standing(ctx.fed.pool, str(activity.get("actor")))
    if standing is not None and standing["followers_url"] in recipients:
        recipients.remove(standing["followers_url"])
    limit = config["max_mentions"]
    if len(recipients) <= limit:
        return accept()
    reason = f"{len(recipients)} recipients, more than {limit}"
    action = config.get("action", "reject")
    if action == "reject":
        return reject(reason)
    changed = act.unlist(activity) if action == "unlist" else act.strip_mentions(activity)
    return rewrite(changed, activity, f"{action}: {reason}")


def _summary(config: dict[str, Any]) -> dict[str, Any]:
    action = config.get("action", "reject")
    key = "reject_threshold" if action == "reject" else "delist_threshold"
    return {key: config["max_mentions"]}


KIND = PolicyKind("mention_limit", _apply, "HellthreadPolicy", "mrf_hellthread", _summary)
