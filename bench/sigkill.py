"""Target 5, no loss under load: while signed activities pour into the inbox and a post fans out
to every sink, the `kith worker` process is killed with SIGKILL at random points several times
(and restarted). At the end, every accepted activity must have been processed and every inbox
must have received the post exactly once (counted on the sinks).

A killed worker's claimed jobs come back when their lease runs out (`server/jobs/runner.py`: a
30 s lease, renewed by a live worker's heartbeat); the benchmark reports how many jobs each kill
orphaned and how long after the last kill the restarted worker had resumed all of them.
"""

from __future__ import annotations

import asyncio
import random
import signal
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import asyncpg

from bench import seed
from bench.common import (
    Report,
    announce_tool,
    arguments,
    embedded_database,
    kith_server,
    peer,
    run,
    run_load,
    signed_posts,
    start_worker_process,
    worker_env,
)
from bench.fanout import Sinks, post, seed_followers, sinks, wait_for_new_activity
from bench.inbox import warm_up


async def _delivered(the_sinks: Sinks) -> int:
    arrivals = await the_sinks.arrivals()
    return max((len(ports) for ports in arrivals.values()), default=0)


async def _killer(env: dict[str, str], kills: int, state: dict, the_sinks: Sinks) -> None:
    """Kill the current worker at random moments, restarting it each time. The first kill waits
    until the post has reached a random 10-60% of the sinks, so it lands mid-fan-out."""
    rng = random.Random(5)
    for n in range(kills):
        if n == 0:
            wanted = max(1, int(len(the_sinks.live) * rng.uniform(0.1, 0.6)))
            deadline = time.monotonic() + 30
            while await _delivered(the_sinks) < wanted and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            state["first_kill_at"] = await _delivered(the_sinks)
        else:
            await asyncio.sleep(rng.uniform(0.3, 1.2))
        victim = state["worker"]
        victim.send_signal(signal.SIGKILL)
        await asyncio.to_thread(victim.wait)
        state["killed"].append(victim.pid)
        state["last_kill"] = time.monotonic()
        state["orphaned"].append(await _held_by(state["dsn"], [victim.pid]))
        if n == 0:
            state["received_at_kill"] = await _delivered(the_sinks)
            state["booked_at_kill"] = await _booked(state["dsn"])
        state["worker"] = await asyncio.to_thread(start_worker_process, env)


async def _held_by(dsn: str, pids: list[int]) -> int:
    """Unfinished jobs still claimed by the workers with those pids (see `Worker.worker_id`)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE locked_by LIKE ANY ($1::text[]) AND failed_at IS NULL",
            [f"%:{pid}:%" for pid in pids],
        )
    finally:
        await conn.close()


async def _booked(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'delivered'")
    finally:
        await conn.close()


async def _resumed(dsn: str, pids: list[int], timeout: float) -> float:
    """Seconds from now until no job is claimed by the killed workers any more: each was claimed
    again by the live worker once its lease ran out (and done, or released)."""
    started = time.monotonic()
    while await _held_by(dsn, pids) and time.monotonic() - started < timeout:
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def _drain(dsn: str, timeout: float) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            left = await conn.fetchval("SELECT count(*) FROM jobs WHERE failed_at IS NULL")
            if left == 0 or time.monotonic() > deadline:
                return left
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def main(smoke: bool) -> None:
    report = Report("sigkill", smoke=smoke)
    announce_tool(report)
    servers, followers, activities, kills = (10, 50, 100, 2) if smoke else (300, 3_000, 3_000, 5)
    with (
        embedded_database() as db,
        tempfile.TemporaryDirectory(prefix="kith-bench-") as tmp,
        ExitStack() as stack,
    ):
        dsn = await db.fresh("bench_sigkill")
        # Kith binds its port before the sinks take theirs, so none can take it.
        server = stack.enter_context(kith_server(dsn, worker=False, data_dir=Path(tmp)))
        port = server.port
        base_url = f"http://127.0.0.1:{port}"
        alice = await seed.member(dsn, base_url, "alice")
        async with sinks(servers, 0) as the_sinks, peer() as the_peer:
            conn = await asyncpg.connect(dsn)
            try:
                await seed_followers(conn, alice.account_id, the_sinks.live, followers, "fa")
            finally:
                await conn.close()
            env = worker_env(dsn, Path(tmp), f"127.0.0.1:{port}")
            await warm_up(server.url, the_peer)
            requests = await asyncio.to_thread(signed_posts, the_peer, server.url, activities)
            state = {"worker": await asyncio.to_thread(start_worker_process, env)}
            state.update(dsn=dsn, killed=[], orphaned=[])
            try:
                killer = asyncio.create_task(_killer(env, kills, state, the_sinks))
                await post(server.url, alice, "survives kill -9")
                load = await run_load(server.url, requests, 8, 1.0 if smoke else 3.0)
                await killer
                waited = await _resumed(dsn, state["killed"], 60)
                resumed = time.monotonic() - state["last_kill"]
                left = await _drain(dsn, 30)
                _, arrivals = await wait_for_new_activity(the_sinks, set(), the_sinks.live, 10)
            finally:
                state["worker"].kill()
                state["worker"].wait()
            conn = await asyncpg.connect(dsn)
            try:
                stored = await conn.fetchval("SELECT count(*) FROM inbox_activities")
                unprocessed = await conn.fetchval(
                    "SELECT count(*) FROM inbox_activities WHERE processed_at IS NULL"
                )
                failed = await conn.fetchval(
                    "SELECT count(*) FROM jobs WHERE failed_at IS NOT NULL"
                )
            finally:
                await conn.close()
    report.note(
        f"{len(state['killed'])} SIGKILLs, the first when {state['first_kill_at']} of {servers}"
        f" inboxes had the post; jobs each killed worker held: {state['orphaned']};"
        f" {load.requests} inbox POSTs sent, {load.errors} refused; right after the first kill"
        f" {state['received_at_kill']} inboxes had the post and {state['booked_at_kill']}"
        " deliveries were booked (the difference is sent again)"
    )
    report.figure(
        "killed workers' jobs all resumed, after the last kill",
        resumed,
        "s",
        reference=("waited after the load", waited),
        target="< 45 s (a 30 s lease, a 5 s poll)",
        passed=resumed < 45,
    )
    report.figure("jobs left after the drain", left, "jobs", target="0", passed=left == 0)
    report.figure("jobs failed for good", failed, "jobs", target="0", passed=failed == 0)
    report.figure(
        "accepted activities not processed",
        unprocessed,
        "activities",
        reference=("activities stored", stored),
        target="0",
        passed=unprocessed == 0,
    )
    counts = [int(n) for n, _ in arrivals.values()]
    report.figure(
        "inboxes that received the post",
        len(arrivals),
        "inboxes",
        reference=("inboxes", servers),
        target=f"all {servers}",
        passed=len(arrivals) == servers,
    )
    report.figure(
        "inboxes that received it more than once",
        sum(1 for n in counts if n > 1),
        "inboxes",
        reference=("inboxes", servers),
        target="0",
        passed=all(n == 1 for n in counts),
    )
    print(f"  saved {report.save()}")


if __name__ == "__main__":
    run(main(arguments().smoke))
