"""Flag: a report from another server about a member (and some of their statuses).

It lands in the reports table like a member's report, from the remote reporter (Mastodon sends
them from its instance actor), and staff are notified, unless the reporter's domain is blocked
with `reject_reports`. Only the reported account's own statuses are attached.

As in Mastodon (`ReportService#reported_status_ids` for a remote reporter), a status is attached
only when the reporter's server could have seen it: what may be served to the reporter
(`storage.outbox.servable`), so never a local-only status, a followers-only one only when an
account of its domain follows the author, a direct one only when it addresses one. The others
are left out of the report, which still stands against the account; a Flag naming nothing else
is refused.
"""

from __future__ import annotations

import asyncpg

from federation import gate, remote_accounts
from federation.context import Federation
from federation.parse.actors import authority
from server.inbox.dispatch import OK, Activity, Dispatcher, ignored, refused
from server.inbox.handlers.common import live_status, local_account, reference
from server.usecases import reports
from storage import accounts as account_store
from storage import outbox as outbox_store

MAX_COMMENT = 5000


async def on_flag(fed: Federation, activity: Activity) -> str:
    objects = activity.object if isinstance(activity.object, list) else [activity.object]
    accounts: list[asyncpg.Record] = []
    statuses: list[asyncpg.Record] = []
    for uri in filter(None, map(reference, objects)):
        if (account := await local_account(fed, uri)) is not None:
            accounts.append(account)
        elif (status := await live_status(fed, uri)) is not None and status["local"]:
            statuses.append(status)
    if not accounts and not statuses:
        return ignored("reports no local account or status")
    try:
        decision = await gate.check_incoming(fed.pool, authority(activity.actor_uri))
    except gate.Refused as refusal:  # blocked since the activity arrived
        return ignored(refusal.reason)
    if decision.reject_reports:
        return ignored("reports from this domain are rejected")
    reporter = await remote_accounts.resolve_actor(fed, activity.actor_uri)
    seen = await outbox_store.servable_ids(fed.pool, [s["id"] for s in statuses], reporter["id"])
    statuses = [s for s in statuses if s["id"] in seen]
    target = accounts[0] if accounts else None
    if target is None and statuses:
        target = await account_store.get_account(fed.pool, statuses[0]["account_id"])
    if target is None:
        return refused("reports only statuses the reporter may not read")
    content = activity.payload.get("content")
    async with fed.pool.acquire() as conn, conn.transaction():
        await reports.record_report(
            conn,
            reporter_id=reporter["id"],
            target_id=target["id"],
            status_ids=[s["id"] for s in statuses if s["account_id"] == target["id"]],
            comment=content[:MAX_COMMENT] if isinstance(content, str) else "",
            uri=activity.uri,
        )
    return OK


def register(dispatcher: Dispatcher) -> None:
    dispatcher.add("Flag", on_flag)
