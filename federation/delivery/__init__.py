"""Delivering activities to remote inboxes: queued in the caller's transaction (`deliver`),
sent by the `deliver` job (`send`), with per-host memory (`hosts`) and audiences (`audience`)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from federation.context import Federation
from federation.delivery.enqueue import QUEUE, deliver
from federation.delivery.send import DEFAULT_TIMEOUT, send
from storage.job_handlers import MAX_ATTEMPTS, Registry

__all__ = ["deliver", "register"]

# Deliveries run in a lane of their own this wide. A delivery holds its slot while it waits for
# the remote server, up to the request timeout; with this many slots a hundred black-holed
# servers still leave room for every live one, and the general slots (inbox jobs) are untouched.
# A slot costs a coroutine and a socket, not a database connection (`send` holds one only for
# its bookkeeping queries).
CONCURRENCY = 192
# How many of them may begin a try (count it and load its row) at once. A burst of starting
# deliveries (a fan-out fills the lane at once) would otherwise queue for every pool connection,
# and a delivery whose remote had just answered would wait behind them to book the answer: a
# worker killed meanwhile sends it again. Kept below the connections a worker adds for the lane
# (server/jobs/worker.py), the booking finds one at once (bench.sigkill: 26-80 of 300 inboxes
# got the post twice without a bound, 2-8 with 16 of 24 connections, 2 with 6 of 8; bench.fanout: a
# remote's receipt to the booking p90 3.4 ms, and no slower).
STARTING = 6


def register(
    registry: Registry,
    *,
    timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    concurrency: int = CONCURRENCY,
    starting: int = STARTING,
) -> None:
    """Register the `deliver` job; `timeout` bounds each HTTP request (tests shorten it).

    The job's attempts are the delivery's tries: `send` marks the delivery failed on the last.
    """

    slots_to_start = asyncio.Semaphore(starting)

    async def handle(fed: Federation, payload: dict[str, Any]) -> None:
        await send(fed, payload["delivery_id"], timeout=timeout, starting=slots_to_start)

    registry.register(QUEUE, handle, max_attempts=MAX_ATTEMPTS, concurrency=concurrency)
