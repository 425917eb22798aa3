"""The `deliver` job: sign the stored body, POST it to one inbox, and book the outcome.

Outcomes, after microblog.pub's and Mastodon's delivery workers:

- 2xx: delivered; the host's run of failures ends.
- 429 or 503 with a Retry-After: try again when the server asked.
- 408, 429, 5xx, anything unexpected, a timeout or a connection error: raise, and the job
  queue's backoff decides when to try again (about two days of tries, then failed for good).
  A host that has failed for longer than two days gets one try every few hours instead.
- any other 4xx (400, 401, 403, 404, 410, 422, ...): retrying cannot help; failed for good.

Signatures double-knock (Fedify's `doubleKnock`): RFC 9421 first, draft-cavage after a 400 or
401, and whichever worked is remembered per host so later deliveries knock once.

Each request has its own short timeout, so a server that accepts connections and never answers
holds a worker slot for seconds, not for the job's whole lease.

A worker killed between the remote's 2xx and the commit of its bookkeeping sends again when the
job is resumed; no sender can close that window, so it is kept as narrow as possible: one
statement books the delivery, the host's success and the job's completion
(`storage.deliveries.record_delivered`), right after the answer, and a connection is free for it
because deliveries starting their try are bounded (`starting`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NoReturn

import aiohttp
import asyncpg

from federation.context import Federation
from federation.delivery import hosts
from federation.signatures import sign_request
from storage import deliveries as store
from storage.job_handlers import MAX_ATTEMPTS, PermanentFailure, RetryLater, current_claim

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=10)
# Statuses after which the other signature scheme is worth a try.
KNOCK_AGAIN = (400, 401)
# 4xx statuses that say "not now" rather than "never".
TRANSIENT_4XX = (408, 429)
MAX_RETRY_AFTER = 24 * 3600.0
EXCERPT_BYTES = 512


class DeliveryFailed(Exception):
    """A try failed in a way worth retrying on the job queue's schedule."""


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    excerpt: str

    def describe(self) -> str:
        return f"HTTP {self.status}: {self.excerpt}" if self.excerpt else f"HTTP {self.status}"


async def send(
    fed: Federation,
    delivery_id: int,
    *,
    timeout: aiohttp.ClientTimeout,
    starting: asyncio.Semaphore,
) -> None:
    """Run one try of a delivery; see the module docstring for what each outcome does.

    `starting` bounds how many deliveries begin a try at once, so the bookkeeping of answers
    never queues behind a burst of them (see `federation.delivery.STARTING`).
    """
    async with starting:
        row = await store.begin_attempt(fed.pool, delivery_id)
    if row is None:  # delivered or failed already (a job run again after a crash), or gone
        return
    if not row["private_key_pem"] or not row["public_key_id"]:
        await _give_up(fed.pool, row, None, "the sending actor has no key")
    # Every run of the job counts a try, so the job's last attempt is the delivery's last try.
    final = row["tries"] >= MAX_ATTEMPTS
    try:
        answer, scheme = await _knock(fed, row, timeout)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        await store.record_failure(fed.pool, row["id"], status=None, error=error, final=final)
        await _retry(fed.pool, row, error, host_failed=True, delay=None)
    status = answer.status
    if 200 <= status < 300:
        claim = current_claim()
        job = (claim.job_id, claim.worker_id) if claim else None
        completed = await store.record_delivered(
            fed.pool, row["id"], status, host=row["host"], scheme=scheme, job=job
        )
        if claim and completed:
            claim.settled = True
        return
    if 400 <= status < 500 and status not in TRANSIENT_4XX:
        await _give_up(fed.pool, row, status, answer.describe())
    await store.record_failure(
        fed.pool, row["id"], status=status, error=answer.describe(), final=final
    )
    delay = retry_after_seconds(answer.retry_after) if status in (429, 503) else None
    await _retry(fed.pool, row, answer.describe(), host_failed=status >= 500, delay=delay)


async def _knock(
    fed: Federation, row: asyncpg.Record, timeout: aiohttp.ClientTimeout
) -> tuple[Answer, str]:
    """POST with the host's remembered scheme, and once with the other one after a 400/401."""
    order = hosts.knock_order(row["signature_scheme"])
    for scheme in order:
        answer = await _post(fed, row, scheme, timeout)
        if answer.status not in KNOCK_AGAIN:
            break
    return answer, scheme


async def _post(
    fed: Federation, row: asyncpg.Record, scheme: str, timeout: aiohttp.ClientTimeout
) -> Answer:
    key = fed.keys.signing_key(row["public_key_id"], row["private_key_pem"])
    headers = sign_request("POST", row["inbox_url"], body=row["body"], key=key, scheme=scheme)
    async with fed.http.post(
        row["inbox_url"], data=row["body"], headers=headers, timeout=timeout, allow_redirects=False
    ) as response:
        excerpt = await response.content.read(EXCERPT_BYTES)
        return Answer(
            response.status,
            response.headers.get("Retry-After"),
            excerpt.decode("utf-8", errors="replace").strip(),
        )


async def _give_up(
    pool: asyncpg.Pool, row: asyncpg.Record, status: int | None, error: str
) -> NoReturn:
    await store.record_failure(pool, row["id"], status=status, error=error, final=True)
    raise PermanentFailure(f"{row['inbox_url']}: {error}")


async def _retry(
    pool: asyncpg.Pool, row: asyncpg.Record, error: str, *, host_failed: bool, delay: float | None
) -> NoReturn:
    """Raise for another try: after `delay` when the server named one, every few hours when the
    host is unavailable, else on the job queue's backoff schedule."""
    unavailable = host_failed and await hosts.failed(pool, row["host"])
    if delay is not None:
        raise RetryLater(delay, f"{error} (Retry-After)")
    if unavailable:
        raise RetryLater(
            hosts.UNAVAILABLE_RETRY.total_seconds(), f"{row['host']} is unavailable: {error}"
        )
    raise DeliveryFailed(f"{row['inbox_url']}: {error}")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now (it is either seconds or an HTTP date), at most a day;
    None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
