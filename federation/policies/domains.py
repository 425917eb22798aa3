"""Per-domain policies (Pleroma's SimplePolicy, one kind per action): each takes a list of
domains, subdomains included, matched against the host of the activity's actor.

- `media_removal`: posts lose their attachments;
- `media_nsfw`: posts are marked sensitive;
- `federated_timeline_removal`: public posts become unlisted (Public moved from `to` to `cc`);
- `followers_only`: public posts become followers-only (Public dropped);
- `report_removal`: reports (`Flag`) are rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from federation.domains import normalize_domain
from federation.errors import KithError
from federation.policies import activity as act
from federation.policies.base import Context, Outcome, PolicyKind, accept, reject, rewrite
from storage import policies as store


def _check(config: dict[str, Any]) -> None:
    for domain in config["domains"]:
        try:
            normalize_domain(domain)
        except KithError:
            raise ValueError(f"{domain!r} is not a valid domain name") from None


def _domains(config: dict[str, Any]) -> list[str]:
    return [normalize_domain(d) for d in config["domains"]]


async def _media_removal(ctx: Context, config: dict[str, Any], activity: dict) -> Outcome:
    if act.post_of(activity) is None or not covered(ctx, config):
        return accept()
    return rewrite(act.strip_media(activity), activity, f"media removed from {ctx.origin_host}")


async def _media_nsfw(ctx: Context, config: dict[str, Any], activity: dict) -> Outcome:
    if act.post_of(activity) is None or not act.has_media(activity) or not covered(ctx, config):
        return accept()
    return rewrite(act.mark_sensitive(activity), activity, f"media from {ctx.origin_host}")


async def _timeline_removal(ctx: Context, config: dict[str, Any], activity: dict) -> Outcome:
    if act.post_of(activity) is None or not covered(ctx, config):
        return accept()
    return rewrite(act.unlist(activity), activity, f"unlisted: from {ctx.origin_host}")


async def _followers_only(ctx: Context, config: dict[str, Any], activity: dict) -> Outcome:
    if act.post_of(activity) is None or not covered(ctx, config):
        return accept()
    standing = await store.account_standing(ctx.fed.pool, str(activity.get("actor")))
    followers = standing["followers_url"] if standing is not None else None
    changed = act.followers_only(activity, followers)
    return rewrite(changed, activity, f"followers-only: from {ctx.origin_host}")


async def _report_removal(ctx: Context, config: dict[str, Any], activity: dict) -> Outcome:
    if activity.get("type") != "Flag" or not covered(ctx, config):
        return accept()
    return reject(f"reports from {ctx.origin_host} are rejected")


def covered(ctx: Context, config: dict[str, Any]) -> bool:
    return act.covered(ctx.origin_host, _domains(config))


def _summary(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda config: {key: _domains(config)}


KINDS = [
    PolicyKind(name, apply, "SimplePolicy", "mrf_simple", _summary(name), _check)
    for name, apply in (
        ("media_removal", _media_removal),
        ("media_nsfw", _media_nsfw),
        ("federated_timeline_removal", _timeline_removal),
        ("followers_only", _followers_only),
        ("report_removal", _report_removal),
    )
]
