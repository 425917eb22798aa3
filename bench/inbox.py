"""Target 1, the inbox: signed POSTs accepted and durably enqueued by one web process, at 8 and
64 connections, against the bare verify-only handler measured on the same signed requests in
the same run. Counts RSA verifications per accepted POST (`KeyCache.verifications`).

The web process runs without its in-process worker, so the figure is the cost of accepting;
what the worker then does is the fan-out and SIGKILL benchmarks' business.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import aiohttp
import asyncpg

from bench.common import (
    Load,
    Meter,
    Report,
    announce_tool,
    arguments,
    embedded_database,
    kith_server,
    peer,
    run,
    run_load,
    signed_posts,
)
from bench.profile import profile_during, summary_file
from bench.references import verify_only


async def warm_up(url: str, the_peer) -> None:
    """One delivery, so the key is fetched and cached before the clock starts."""
    (first,) = signed_posts(the_peer, url, 1)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}{first.path}", headers=first.headers, data=first.body) as response,
    ):
        if response.status != 202:
            raise RuntimeError(
                f"warm-up delivery refused: {response.status} {await response.text()}"
            )


async def _count(dsn: str, query: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def report_run(
    report: Report, connections: int, load: Load, reference: Load, cost: dict, count: int
) -> None:
    label = f"{connections} conns"
    report.figure(f"verify-only reference, {label}", reference.rate, "req/s")
    report.figure(
        f"inbox accepted, {label}",
        load.rate,
        "req/s",
        reference=("verify-only handler", reference.rate),
        target="ratio >= 0.25",
        passed=load.rate >= 0.25 * reference.rate,
    )
    report.figure(
        f"inbox p50, {label}", load.p50_ms, "ms", reference=("verify-only p50", reference.p50_ms)
    )
    report.figure(
        f"inbox p99, {label}",
        load.p99_ms,
        "ms",
        reference=("verify-only p99", reference.p99_ms),
        target="< 20 ms" if connections == 64 else None,
        passed=load.p99_ms < 20 if connections == 64 else None,
    )
    accepted = load.requests - load.errors
    per_accepted = cost["verifications"] * load.requests / accepted if accepted else float("nan")
    report.figure(
        f"RSA verifications per accepted POST, {label}",
        per_accepted,
        "verif.",
        target="<= 1.05",
        passed=accepted > 0 and per_accepted <= 1.05,
    )
    report.figure(
        f"web process CPU per POST, {label}",
        cost["server_cpu_ms"],
        "ms",
        reference=("verify-only handler CPU", reference.server_cpu_ms),
    )
    report.figure(
        f"PostgreSQL CPU per POST, {label}",
        cost["pg_cpu_ms"],
        "ms",
        reference=("web process CPU", cost["server_cpu_ms"]),
    )
    report.figure(f"statements (round trips) per POST, {label}", cost["queries"], "stmts")
    if load.requests > count:
        report.note(f"{label}: requests wrapped round; some were duplicates (still verified)")


async def main(smoke: bool, *, profile: bool = False) -> None:
    report = Report("inbox", smoke=smoke)
    announce_tool(report)
    seconds = 0.5 if smoke else 4.0
    count = 200 if smoke else 14_000
    with (
        embedded_database() as db,
        tempfile.TemporaryDirectory(prefix="kith-bench-") as tmp,
    ):
        dsn = await db.fresh("bench_inbox")
        async with peer() as the_peer:
            with kith_server(dsn, worker=False, data_dir=Path(tmp)) as server:
                await warm_up(server.url, the_peer)
                for connections in (8, 64) if smoke else (8, 16, 32, 64):
                    requests = await asyncio.to_thread(signed_posts, the_peer, server.url, count)
                    reference = await verify_only(the_peer, requests, connections, seconds)
                    meter = Meter(server, db)
                    before = await meter.snapshot()
                    recording = None
                    if profile and connections == 64:
                        recording = await profile_during(server.process.pid, seconds - 1, "inbox")
                    load = await run_load(server.url, requests, connections, seconds)
                    if recording is not None:
                        print(summary_file(await recording))
                    after = await meter.snapshot()
                    cost = Meter.per_request(before, after, load.requests)
                    report_run(report, connections, load, reference, cost, count)
                    stored = await _count(dsn, "SELECT count(*) FROM inbox_activities")
                    report.note(
                        f"{connections} conns: {load.requests} sent, {load.errors} refused;"
                        f" {stored} activities stored in all; per request: {cost['by_query']}"
                    )
                report.figure("web process RSS after the runs", after["rss_kb"] / 1024, "MB")
    print(f"  saved {report.save()}")


if __name__ == "__main__":
    args = arguments()
    run(main(args.smoke, profile=args.profile))
