"""The pipeline's built-in first step, fed by the federation gate's decision on the actor's host:
a domain suspended since the activity arrived is rejected, and one with `reject_media` has its
posts' attachments (and, in an actor's Update, its avatar and header) stripped. The block's
`reject_reports` is left to the Flag handler, which reads the same decision and ignores the
report."""

from __future__ import annotations

from typing import Any

from federation import gate
from federation.context import Federation
from federation.policies import activity as act
from federation.policies.base import Context, Outcome, accept, reject, rewrite

NAME = "domain_block"


async def apply(ctx: Context, config: dict[str, Any], activity: dict[str, Any]) -> Outcome:
    if not ctx.origin_host or ctx.origin_host == ctx.fed.urls.domain.lower():
        return accept()
    try:
        decision = await gate.check_incoming(ctx.fed.pool, ctx.origin_host)
    except gate.Refused as exc:
        return reject(exc.reason)
    if decision.reject_media and act.has_media(activity):
        return rewrite(
            act.strip_media(activity), activity, f"media from {ctx.origin_host} rejected"
        )
    return accept()


async def media_rejected(fed: Federation, host: str) -> bool:
    """Whether a domain block with `reject_media` covers `host` (so its accounts' avatars and
    headers are not kept either). A refused host says no: the gate keeps it out anyway."""
    try:
        return (await gate.check_incoming(fed.pool, host)).reject_media
    except gate.Refused:
        return False
