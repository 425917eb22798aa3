"""Flag: a report from another server about a member (and some of their statuses).

It lands in the reports table like a member's report, from the remote reporter (Mastodon sends
them from its instance actor), and staff are notified, unless the reporter's domain is blocked
with `reject_reports`.
"""

from __future__ import annotations

from federation import gate
from federation.context import Federation
from federation.inbox.dispatch import OK, Activity, Dispatcher, ignored
from federation.inbox.handlers.common import live_status, local_account, reference
from federation.parse.actors import authority
from federation.services import remote_accounts, reports
from storage import accounts as account_store

MAX_COMMENT = 5000


async def on_flag(fed: Federation, activity: Activity) -> str:
    objects = activity.object if isinstance(activity.object, list) else [activity.object]
    target = None
    status_ids = []
    for uri in filter(None, map(reference, objects)):
        if (account := await local_account(fed, uri)) is not None:
            target = target or account
        elif (status := await live_status(fed, uri)) is not None and status["local"]:
            status_ids.append(status["id"])
            target = target or await account_store.get_account(fed.pool, status["account_id"])
    if target is None:
        return ignored("reports no local account or status")
    try:
        decision = await gate.check_incoming(fed.pool, authority(activity.actor_uri))
    except gate.Refused as refused:  # blocked since the activity arrived
        return ignored(refused.reason)
    if decision.reject_reports:
        return ignored("reports from this domain are rejected")
    reporter = await remote_accounts.resolve_actor(fed, activity.actor_uri)
    content = activity.payload.get("content")
    async with fed.pool.acquire() as conn, conn.transaction():
        await reports.record_report(
            conn,
            reporter_id=reporter["id"],
            target_id=target["id"],
            status_ids=status_ids,
            comment=content[:MAX_COMMENT] if isinstance(content, str) else "",
            uri=activity.uri,
        )
    return OK


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Flag", on_flag)
