"""Per-host memory: the signature scheme to knock with, Retry-After, and hosts that have been
failing for days, which are tried only every few hours until they answer again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from federation.delivery.hosts import UNAVAILABLE_RETRY, host_of, knock_order
from federation.delivery.send import MAX_RETRY_AFTER, DeliveryFailed, retry_after_seconds
from storage import hosts as host_store
from tests.test_delivery import answer, delivery_row, env, host_row, job_of, local_member, queue

__all__ = ["env"]  # the fixture, shared with test_delivery

SIX_HOURS = UNAVAILABLE_RETRY.total_seconds()


# Pure policy


def test_knock_order_starts_with_what_worked():
    assert knock_order(None) == ("rfc9421", "cavage")
    assert knock_order("cavage") == ("cavage", "rfc9421")
    assert knock_order("rfc9421") == ("rfc9421", "cavage")
    assert knock_order("bogus") == ("rfc9421", "cavage")


def test_host_keys_are_lower_case_with_an_explicit_port():
    assert host_of("https://Social.Example/inbox") == "social.example"
    assert host_of("http://peer.test:8080/users/a/inbox") == "peer.test:8080"


def test_retry_after_in_seconds_or_as_a_date():
    now = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0
    assert retry_after_seconds("9999999") == MAX_RETRY_AFTER
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# Runs of failures


async def set_host(pool, domain: str, *, first_failure: timedelta, last_failure: timedelta):
    await pool.execute(
        """
        INSERT INTO hosts (domain, first_failure_at, last_failure_at)
        VALUES ($1, now() - $2::interval, now() - $3::interval)
        """,
        domain,
        first_failure,
        last_failure,
    )


async def test_a_host_is_unavailable_after_two_days_of_failures(env):
    assert not await host_store.record_failure(env.pool, "a.test", timedelta(days=2))
    assert not await host_store.record_failure(env.pool, "a.test", timedelta(days=2))
    await set_host(
        env.pool, "b.test", first_failure=timedelta(days=3), last_failure=timedelta(hours=8)
    )
    assert await host_store.record_failure(env.pool, "b.test", timedelta(days=2))
    assert (await host_row(env.pool, "b.test"))["unavailable_since"] is not None


async def test_a_long_quiet_gap_starts_a_new_run(env):
    await set_host(
        env.pool, "c.test", first_failure=timedelta(days=9), last_failure=timedelta(days=7)
    )
    assert not await host_store.record_failure(env.pool, "c.test", timedelta(days=2))
    row = await host_row(env.pool, "c.test")
    assert datetime.now(UTC) - row["first_failure_at"] < timedelta(minutes=1)


async def test_a_client_error_or_429_does_not_count_against_the_host(env):
    ann = await local_member(env.pool, "ann")
    peer = await env.peer("strict.test", answer(404), answer(429))
    await queue(env.pool, ann, [peer.inbox])
    await env.drain()
    [delivery_id] = await queue(env.pool, ann, [peer.inbox])
    with pytest.raises(DeliveryFailed):  # 429 without Retry-After: the usual backoff
        await env.drain()
    assert (await delivery_row(env.pool, delivery_id))["last_status"] == 429
    assert await host_row(env.pool, "strict.test") is None


# Unavailable hosts


async def test_failing_for_days_makes_a_host_rarely_tried_until_it_answers(env):
    ann = await local_member(env.pool, "ann")
    peer = await env.peer("dead.test", answer(502))
    await set_host(
        env.pool, "dead.test", first_failure=timedelta(days=3), last_failure=timedelta(hours=8)
    )
    [first] = await queue(env.pool, ann, [peer.inbox])
    assert await env.drain() == 1  # no error: the host is resting, not failing a test
    assert (await host_row(env.pool, "dead.test"))["unavailable_since"] is not None
    assert SIX_HOURS - 60 < (await job_of(env.pool, first))["due_in"] <= SIX_HOURS

    # New deliveries are still recorded, but wait their turn.
    [second] = await queue(env.pool, ann, [peer.inbox])
    assert (await delivery_row(env.pool, second))["state"] == "pending"
    assert SIX_HOURS - 60 < (await job_of(env.pool, second))["due_in"] <= SIX_HOURS
    assert await env.drain() == 0

    # Six hours later it answers: delivered, and the host is available again.
    await env.pool.execute("UPDATE jobs SET run_at = now()")
    assert await env.drain() == 2
    assert {(await delivery_row(env.pool, d))["state"] for d in (first, second)} == {"delivered"}
    host = await host_row(env.pool, "dead.test")
    assert host["unavailable_since"] is None and host["first_failure_at"] is None
    assert [r.scheme for r in peer.received] == ["rfc9421", "rfc9421", "rfc9421"]
    [third] = await queue(env.pool, ann, [peer.inbox])
    assert (await job_of(env.pool, third))["due_in"] <= 0  # due at once again
