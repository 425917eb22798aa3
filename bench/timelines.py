"""Target 3, timelines: with a million statuses and a reader following 1,000 accounts, the home
timeline at 8 connections (p99 and pages/s, against the bare aiohttp JSON handler measured in
the same run); and a post by an account with 20,000 local followers, timed until it is in all
their home timelines (against COPYing the same number of rows, in the same run).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

from bench import seed
from bench.common import (
    Meter,
    Prepared,
    Report,
    announce_tool,
    arguments,
    embedded_database,
    free_port,
    kith_server,
    run,
    run_load,
)
from bench.profile import profile_during, summary_file
from bench.references import bare_json, copy_rate


async def _seed(
    dsn: str, base_url: str, *, statuses: int, followed: int, followers: tuple[int, ...]
):
    viewer = await seed.member(dsn, base_url, "reader")
    authors_by_size = {n: await seed.member(dsn, base_url, f"famous{n}") for n in followers}
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        authors = await seed.accounts(
            conn,
            followed * 2,
            prefix="author",
            base_url=base_url,
            remote_hosts=max(1, followed // 10),
            inbox_of_host=lambda n: f"http://author{n}.example/inbox",
        )
        await seed.follows(conn, [(viewer.account_id, a) for a in authors[:followed]])
        made = await seed.statuses(conn, authors, statuses, base_url=base_url)
        wanted = set(authors[:followed])
        await seed.home_feed(conn, viewer.account_id, [m for m in made if m[1] in wanted])
        crowd = await seed.accounts(conn, max(followers), prefix="fan", base_url=base_url)
        for size, author in authors_by_size.items():
            await seed.follows(conn, [(fan, author.account_id) for fan in crowd[:size]])
        await conn.execute("ANALYZE")
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return viewer, authors_by_size, seconds


async def _post_and_wait(url: str, dsn: str, author: seed.Member, audience: int):
    """POST a status; (seconds until the API answered, until every home feed has it)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with aiohttp.ClientSession() as http:
            started = time.perf_counter()
            async with http.post(
                f"{url}/api/v1/statuses", json={"status": "hello, everyone"}, headers=author.headers
            ) as response:
                body = await response.json()
                answered = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"posting failed: {response.status} {body}")
        status_id = int(body["id"])
        while True:
            landed = await conn.fetchval(
                "SELECT count(*) FROM home_feed WHERE status_id = $1", status_id
            )
            if landed >= audience or time.perf_counter() - started > 30:
                return answered, time.perf_counter() - started, landed
            await asyncio.sleep(0.005)
    finally:
        await conn.close()


async def main(smoke: bool, *, profile: bool = False) -> None:
    report = Report("timelines", smoke=smoke)
    announce_tool(report)
    seconds = 0.5 if smoke else 5.0
    sizes = (
        {"statuses": 2_000, "followed": 20, "followers": (50, 200)}
        if smoke
        else {"statuses": 1_000_000, "followed": 1_000, "followers": (1_000, 5_000, 20_000)}
    )
    with (
        embedded_database() as db,
        tempfile.TemporaryDirectory(prefix="kith-bench-") as tmp,
    ):
        dsn = await db.fresh("bench_timelines")
        port = free_port()
        viewer, authors, seeding = await _seed(dsn, f"http://127.0.0.1:{port}", **sizes)
        report.note(
            f"seeded {sizes['statuses']} statuses, a reader following {sizes['followed']},"
            f" authors with {sizes['followers']} local followers, in {seeding:.1f} s"
        )
        copy = await copy_rate(dsn, max(sizes["followers"]))
        reference = await bare_json(8, seconds)
        report.figure("bare aiohttp JSON handler, 8 conns", reference.rate, "req/s")
        with kith_server(dsn, worker=False, data_dir=Path(tmp), port=port) as server:
            home = [Prepared("GET", "/api/v1/timelines/home", viewer.headers)]
            async with (  # warm-up, and a check of the page
                aiohttp.ClientSession() as http,
                http.get(f"{server.url}{home[0].path}", headers=viewer.headers) as r,
            ):
                page = await r.json()
                if r.status != 200 or len(page) != 20:
                    raise RuntimeError(f"home timeline: {r.status}, {len(page)} statuses")
            await run_load(server.url, home, 8, 0.5)
            recording = (
                await profile_during(server.process.pid, seconds - 1, "timelines")
                if profile
                else None
            )
            meter = Meter(server, db)
            before = await meter.snapshot()
            load = await run_load(server.url, home, 8, seconds)
            cost = Meter.per_request(before, await meter.snapshot(), load.requests)
            if recording is not None:
                print(summary_file(await recording))
            report.figure(
                "home timeline pages/s, 8 conns",
                load.rate,
                "pages/s",
                reference=("bare JSON handler", reference.rate),
                target=">= 1,000/s",
                passed=load.rate >= 1000,
            )
            report.figure(
                "home timeline p99, 8 conns",
                load.p99_ms,
                "ms",
                reference=("bare JSON p99", reference.p99_ms),
                target="< 10 ms",
                passed=load.p99_ms < 10,
            )
            report.figure("home timeline p50, 8 conns", load.p50_ms, "ms")
            report.figure(
                "web process CPU per page",
                cost["server_cpu_ms"],
                "ms",
                reference=("bare JSON handler CPU", reference.server_cpu_ms),
            )
            report.figure(
                "PostgreSQL CPU per page",
                cost["pg_cpu_ms"],
                "ms",
                reference=("web process CPU", cost["server_cpu_ms"]),
            )
            report.figure("statements (round trips) per page", cost["queries"], "stmts")
            report.note(f"statements per page: {cost['by_query']}")
            if load.errors:
                report.note(f"{load.errors} home timeline requests failed")
            for size, author in authors.items():
                audience = size + 1
                answered, landed_in, landed = await _post_and_wait(
                    server.url, dsn, author, audience
                )
                copy_time = audience / copy
                report.figure(
                    f"post to {size} local followers: API answer",
                    answered * 1000,
                    "ms",
                    reference=("COPY of as many rows", copy_time * 1000),
                )
                largest = size == max(authors)
                report.figure(
                    f"post to {size} local followers: in every home feed",
                    landed_in * 1000,
                    "ms",
                    reference=("COPY of as many rows", copy_time * 1000),
                    target="< 500 ms" if largest else None,
                    passed=landed >= audience and landed_in < 0.5 if largest else None,
                )
    print(f"  saved {report.save()}")


if __name__ == "__main__":
    args = arguments()
    run(main(args.smoke, profile=args.profile))
