"""The contract between job handlers and the worker that runs them.

Features queue jobs (`storage.jobs.enqueue`) and register a handler per queue in a `Registry`;
the worker (`server/jobs/runner.py`) runs them. A handler is `async def handler(ctx, payload)`
and tells how its job ended by returning (done), raising `RetryLater` or `PermanentFailure`, or
raising anything else (retried with backoff). It lives here, beside the queue's SQL, so that
the protocol layer (deliveries, the inbox) can register handlers without depending on the
runner above it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

Handler = Callable[[Any, dict[str, Any]], Awaitable[None]]

MAX_ATTEMPTS = 16


class RetryLater(Exception):
    """Raised by a handler to be run again after `delay_seconds` (e.g. a remote's Retry-After)."""

    def __init__(self, delay_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds
        self.reason = reason


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help (e.g. the remote answered 410 Gone)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Claim:
    """The job a handler runs for, as its worker holds it (see `current_claim`).

    A handler may settle its own job in the same statement as its last write, so no crash can
    fall between the two (the `deliver` job does, see `storage.deliveries.record_delivered`); it
    then sets `settled`, and the worker does not complete the job again.
    """

    job_id: int
    worker_id: str
    settled: bool = False


_current_claim: ContextVar[Claim | None] = ContextVar("kith_job_claim", default=None)


def current_claim() -> Claim | None:
    """The claim of the job the calling handler runs for; None outside a worker's job."""
    return _current_claim.get()


def holding(claim: Claim) -> Token[Claim | None]:
    """Make `claim` the current one for the handler the worker is about to run; the worker
    resets the returned token when the handler ends."""
    return _current_claim.set(claim)


@dataclass(frozen=True)
class JobKind:
    handler: Handler
    max_attempts: int
    # Slots of its own (a lane), or None to share the worker's general slots.
    concurrency: int | None = None


class Registry:
    """Which handler runs the jobs of each queue."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(
        self,
        queue: str,
        handler: Handler,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        concurrency: int | None = None,
    ) -> None:
        """Route `queue` to `handler`; a queue has exactly one handler.

        With `concurrency`, the queue runs in a lane of that many slots of its own, so its jobs
        neither wait for nor hold the worker's general slots. Deliveries use one: a dead server
        holds a delivery slot until its request times out, and must not stall everything else.
        """
        if queue in self._kinds:
            raise ValueError(f"a handler for job queue {queue!r} is already registered")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._kinds[queue] = JobKind(handler, max_attempts, concurrency)

    def get(self, queue: str) -> JobKind | None:
        return self._kinds.get(queue)

    def lanes(self) -> dict[str, int]:
        """The queues that have slots of their own, with how many."""
        return {q: k.concurrency for q, k in self._kinds.items() if k.concurrency is not None}
