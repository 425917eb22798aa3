"""What a content rule (keyword, hashtag) does to a post it matches."""

from __future__ import annotations

from typing import Any

from federation.policies import activity as act
from federation.policies.base import DEFAULT_WARNING, Outcome, reject, rewrite


def act_on(config: dict[str, Any], activity: dict[str, Any], reason: str) -> Outcome:
    """Apply `config["action"]` (reject, unlist, sensitive or content_warning)."""
    action = config["action"]
    if action == "reject":
        return reject(reason)
    if action == "unlist":
        changed = act.unlist(activity)
    elif action == "sensitive":
        changed = act.mark_sensitive(activity)
    else:
        changed = act.add_warning(activity, config.get("warning") or DEFAULT_WARNING)
    return rewrite(changed, activity, f"{action}: {reason}")


def summary_key(action: str) -> str:
    """Pleroma's name for an action in NodeInfo's per-policy summaries."""
    return {"unlist": "federated_timeline_removal", "sensitive": "mark_sensitive"}.get(
        action, action
    )
