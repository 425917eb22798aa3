"""Hashtag rules: a post tagged with one of the listed hashtags (case-insensitive, `#` optional)
is rejected, unlisted, marked sensitive or given a content warning."""

from __future__ import annotations

from typing import Any

from federation.policies import activity as act
from federation.policies.base import Context, Outcome, PolicyKind, accept
from federation.policies.rules import act_on, summary_key


def _hashtags(config: dict[str, Any]) -> list[str]:
    return [h.lstrip("#").lower() for h in config["hashtags"]]


async def _apply(ctx: Context, config: dict[str, Any], activity: dict[str, Any]) -> Outcome:
    post = act.post_of(activity)
    if post is None:
        return accept()
    found = act.hashtags_of(post) & set(_hashtags(config))
    if not found:
        return accept()
    return act_on(config, activity, f"tagged #{sorted(found)[0]}")


def _summary(config: dict[str, Any]) -> dict[str, Any]:
    return {summary_key(config["action"]): _hashtags(config)}


KIND = PolicyKind("hashtag", _apply, "HashtagPolicy", "mrf_hashtag", _summary)
