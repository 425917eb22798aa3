"""The object-age limit: a Create whose post was `published` more than `max_age_days` ago
(backfill spam, a relay replaying history) is rejected or unlisted. Only Create is judged:
an Update or Delete of an old post is ordinary and passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from federation.parse.notes import parse_datetime
from federation.policies import activity as act
from federation.policies.base import Context, Outcome, PolicyKind, accept, reject, rewrite


async def _apply(ctx: Context, config: dict[str, Any], activity: dict[str, Any]) -> Outcome:
    post = act.post_of(activity)
    if activity.get("type") != "Create" or post is None:
        return accept()
    published = parse_datetime(post.get("published"))
    limit = timedelta(days=config["max_age_days"])
    if published is None or datetime.now(UTC) - published <= limit:
        return accept()
    reason = f"published {published.date().isoformat()}, older than {config['max_age_days']} days"
    if config.get("action", "reject") == "reject":
        return reject(reason)
    return rewrite(act.unlist(activity), activity, f"unlist: {reason}")


def _summary(config: dict[str, Any]) -> dict[str, Any]:
    action = config.get("action", "reject")
    return {
        "threshold": config["max_age_days"] * 86400,
        "actions": ["reject" if action == "reject" else "delist"],
    }


KIND = PolicyKind("object_age", _apply, "ObjectAgePolicy", "mrf_object_age", _summary)
