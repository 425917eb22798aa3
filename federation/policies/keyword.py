"""Keyword rules: regular expressions (case-insensitive) searched in a post's name, summary and
content, as plain text; a match rejects, unlists, marks sensitive or adds a content warning."""

from __future__ import annotations

import re
from typing import Any

from federation.policies import activity as act
from federation.policies.base import Context, Outcome, PolicyKind, accept
from federation.policies.rules import act_on, summary_key


def _check(config: dict[str, Any]) -> None:
    for pattern in config["patterns"]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None


async def _apply(ctx: Context, config: dict[str, Any], activity: dict[str, Any]) -> Outcome:
    post = act.post_of(activity)
    if post is None:
        return accept()
    text = act.text_of(post)
    for pattern in config["patterns"]:
        if re.search(pattern, text, re.IGNORECASE):
            return act_on(config, activity, f"matches {pattern!r}")
    return accept()


def _summary(config: dict[str, Any]) -> dict[str, Any]:
    return {summary_key(config["action"]): list(config["patterns"])}


KIND = PolicyKind("keyword", _apply, "KeywordPolicy", "mrf_keyword", _summary, _check)
