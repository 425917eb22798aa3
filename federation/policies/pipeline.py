"""The policy pipeline: every incoming activity is screened here before anything of it is stored.

`screen` runs the built-in domain-block step (`domain_block.py`, fed by the federation gate),
then the admin's enabled policies by position. Each may accept, reject, rewrite (the next policy
sees the rewritten activity) or hold (deliveries only: kept for review in `held_activities`).
A reject or a hold ends the pipeline. Every decision other than accept is recorded in
`policy_decisions`; a reject is also written to the audit log (actor NULL, `policy.reject`) in
the same transaction. A dry-run policy records what it would have done and changes nothing.

It is called at two places: the inbox's dispatch (`server/inbox/dispatch.py`, before any
handler runs) and `remote_statuses.store_fetched_note` (an object fetched on its own). To make
it impossible to store a post around it, the post-writing services call `require_screened`,
which refuses a post whose id was not screened in the current task (`screened`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from federation.context import Federation
from federation.parse.notes import reference
from federation.policies import domain_block
from federation.policies.base import ACCEPT, HOLD, REJECT, Apply, Context
from federation.policies.kinds import KINDS
from storage import audit
from storage import policies as store

_SCREENED: ContextVar[frozenset[str]] = ContextVar("kith_screened", default=frozenset())


class Unscreened(RuntimeError):
    """A post was about to be stored without passing the pipeline: a wiring mistake."""


@dataclass(frozen=True)
class Verdict:
    """What the pipeline made of an activity: `accept` (with `activity`, possibly rewritten),
    `reject` or `hold`, naming the deciding policy and its reason."""

    action: str
    activity: dict[str, Any]
    policy: str = ""
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.action == ACCEPT


@dataclass(frozen=True)
class _Step:
    policy_id: int | None
    kind: str
    apply: Apply
    config: dict[str, Any]
    dry_run: bool


async def screen(
    fed: Federation, activity: dict[str, Any], origin_host: str, *, source: str = "inbox"
) -> Verdict:
    """Run the pipeline on `activity` (never changed in place) from an actor on `origin_host`;
    `source` is "inbox" (a delivery) or "fetch" (an object fetched on its own)."""
    ctx = Context(fed, origin_host.lower(), source)
    uri = str(activity.get("id") or "")
    actor = reference(activity.get("actor"))
    released = source == "inbox" and await store.was_released(fed.pool, uri)
    current = activity
    for step in await _steps(fed):
        outcome = await step.apply(ctx, step.config, current)
        if outcome.action == ACCEPT or (outcome.action == HOLD and released):
            continue
        action = REJECT if outcome.action == HOLD and source != "inbox" else outcome.action
        async with fed.pool.acquire() as conn, conn.transaction():
            await store.record_decision(
                conn,
                activity_uri=uri,
                actor_uri=actor,
                policy_id=step.policy_id,
                policy_kind=step.kind,
                action=action,
                reason=outcome.reason,
                dry_run=step.dry_run,
                source=source,
            )
            if step.dry_run:
                continue
            if action == REJECT:
                await audit.record(
                    conn,
                    actor_id=None,
                    action="policy.reject",
                    target_type="activity",
                    target_id=uri,
                    detail={"policy": step.kind, "policy_id": step.policy_id, "actor": actor},
                    reason=outcome.reason,
                )
            elif action == HOLD:
                await store.hold_activity(
                    conn,
                    activity_uri=uri,
                    actor_uri=actor or "",
                    type=str(activity.get("type")),
                    payload=current,
                    policy_id=step.policy_id,
                    policy_kind=step.kind,
                    reason=outcome.reason,
                )
        if action in (REJECT, HOLD):
            return Verdict(action, current, step.kind, outcome.reason)
        current = outcome.activity or current
    return Verdict(ACCEPT, current)


async def _steps(fed: Federation) -> list[_Step]:
    steps = [_Step(None, domain_block.NAME, domain_block.apply, {}, False)]
    for row in await store.list_policies(fed.pool, enabled_only=True):
        kind = KINDS.get(row["kind"])
        if kind is not None:
            steps.append(_Step(row["id"], row["kind"], kind.apply, row["config"], row["dry_run"]))
    return steps


@contextlib.contextmanager
def screened(activity: dict[str, Any]) -> Iterator[None]:
    """Within this block, the ids of `activity` and of its object count as screened."""
    ids = {i for i in (reference(activity), reference(activity.get("object"))) if i is not None}
    token = _SCREENED.set(_SCREENED.get() | frozenset(ids))
    try:
        yield
    finally:
        _SCREENED.reset(token)


def require_screened(uri: str) -> None:
    """Raise `Unscreened` unless the post `uri` passed the pipeline in the current task."""
    if uri not in _SCREENED.get():
        raise Unscreened(f"{uri} was not screened by the policy pipeline")
