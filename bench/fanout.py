"""Target 2, fan-out: a post by an account with 10,000 followers on 1,000 servers (loopback
sinks), delivered by a separate `kith worker` process: one delivery per distinct inbox, the body
serialised and digested once (one Digest seen by every sink), every sink reached within 5 s of
the API call returning. Then a second author whose servers are 10% black-holed: every live one
within 10 s.

The reference, measured in the same run: a bare aiohttp client signing and POSTing one body to
each live sink (same width as the worker's delivery lane), with no database.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from bench import seed
from bench.common import (
    Child,
    Report,
    arguments,
    embedded_database,
    kith_server,
    kith_worker,
    run,
    spawn,
    stats,
    wait_ready,
)

LANE = 192  # federation.delivery.CONCURRENCY, the width of the worker's delivery lane


@dataclass
class Sinks:
    child: Child
    live: list[int]
    dead: list[int]

    async def arrivals(self) -> dict[str, dict[int, list[float]]]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.child.url}/stats") as response,
        ):
            data = await response.json()
        return {
            digest: {int(p): v for p, v in ports.items()}
            for digest, ports in data["arrivals"].items()
        }


@asynccontextmanager
async def sinks(live: int, dead: int):
    process = spawn(["-m", "bench.sinks", "--live", str(live), "--dead", str(dead)])
    child = Child(process)
    try:
        ready = (await asyncio.to_thread(wait_ready, process)).split()
        child.port = int(ready[0])
        dead_ports = [] if ready[2] == "-" else [int(p) for p in ready[2].split(",")]
        yield Sinks(child, [int(p) for p in ready[1].split(",")], dead_ports)
    finally:
        child.kill()


async def seed_followers(
    conn: asyncpg.Connection, author: int, ports: list[int], followers: int, prefix: str
) -> None:
    """`followers` remote accounts spread evenly over the servers on `ports`, following
    `author`; each server's accounts share its inbox."""
    ids = seed.snowflakes(followers)
    records = []
    for n, account_id in enumerate(ids):
        host = f"127.0.0.1:{ports[n % len(ports)]}"
        uri = f"http://{host}/users/{prefix}{n}"
        records.append(
            (account_id, f"{prefix}{n}", host, uri, f"{uri}/inbox", f"http://{host}/inbox")
        )
    await conn.copy_records_to_table(
        "accounts",
        records=records,
        columns=["id", "username", "domain", "uri", "inbox_url", "shared_inbox_url"],
    )
    await seed.follows(conn, [(a, author) for a in ids])


async def post(url: str, member: seed.Member, text: str) -> tuple[float, float]:
    """POST a public status; (wall-clock time the API answered, seconds it took)."""
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        async with http.post(
            f"{url}/api/v1/statuses", json={"status": text}, headers=member.headers
        ) as response:
            body = await response.text()
            if response.status != 200:
                raise RuntimeError(f"posting failed: {response.status} {body}")
        return time.time(), time.perf_counter() - started


async def wait_for_new_activity(
    the_sinks: Sinks, known: set[str], ports: list[int], timeout: float
) -> tuple[str, dict[int, list[float]]]:
    """Poll until the one new activity (by digest) has reached every port in `ports`, or
    `timeout`; returns its digest and its arrivals."""
    deadline = time.monotonic() + timeout
    wanted = set(ports)
    while True:
        arrivals = await the_sinks.arrivals()
        new = [d for d in arrivals if d not in known]
        if len(new) > 1:
            raise RuntimeError(f"{len(new)} new activities arrived, expected one")
        got = arrivals[new[0]] if new else {}
        if wanted <= set(got) or time.monotonic() > deadline:
            return (new[0] if new else ""), got
        await asyncio.sleep(0.1)


async def reference_fanout(the_sinks: Sinks, body: bytes) -> float:
    """Seconds for a bare client to sign and POST `body` to every live sink, `LANE` at once."""
    from federation.keycache import KeyCache
    from federation.keys import generate_rsa_keypair
    from federation.signatures import sign_request

    key = KeyCache().signing_key("http://bench.invalid/actor#main-key", generate_rsa_keypair()[0])
    slots = asyncio.Semaphore(LANE)
    connector = aiohttp.TCPConnector(limit=LANE)

    async def one(http: aiohttp.ClientSession, port: int) -> None:
        async with slots:
            url = f"http://127.0.0.1:{port}/reference"
            headers = sign_request("POST", url, body=body, key=key)
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()

    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(one(http, p) for p in the_sinks.live))
        return time.perf_counter() - started


def delivery_figures(
    report: Report,
    label: str,
    arrivals: dict[int, list[float]],
    ports: list[int],
    answered_at: float,
    reference: float,
    limit: float,
) -> float:
    reached = [arrivals[p] for p in ports if p in arrivals]
    last = max((t for _, t in reached), default=float("nan")) - answered_at
    report.figure(
        f"{label}: live servers reached",
        len(reached),
        "servers",
        target=f"all {len(ports)}",
        passed=len(reached) == len(ports),
    )
    report.figure(
        f"{label}: last live server reached after API answer",
        last,
        "s",
        reference=("bare client fan-out", reference),
        target=f"< {limit:g} s",
        passed=len(reached) == len(ports) and last < limit,
    )
    deliveries = sum(int(n) for n, _ in arrivals.values())
    report.figure(
        f"{label}: deliveries per inbox reached",
        deliveries / max(1, len(arrivals)),
        "deliv.",
        target="exactly 1",
        passed=all(int(n) == 1 for n, _ in arrivals.values()),
    )
    return last


async def main(smoke: bool) -> None:
    report = Report("fanout", smoke=smoke)
    servers, followers, dead = (10, 100, 2) if smoke else (1_000, 10_000, 100)
    with (
        embedded_database() as db,
        tempfile.TemporaryDirectory(prefix="kith-bench-") as tmp,
        ExitStack() as stack,
    ):
        dsn = await db.fresh("bench_fanout")
        # Kith binds its port before the sinks take 1,100 ephemeral ones, so none can take it.
        server = stack.enter_context(kith_server(dsn, worker=False, data_dir=Path(tmp)))
        port = server.port
        base_url = f"http://127.0.0.1:{port}"
        alice = await seed.member(dsn, base_url, "alice")
        bob = await seed.member(dsn, base_url, "bob")
        async with sinks(servers, dead) as the_sinks:
            live_for_bob = the_sinks.live[: servers - dead]
            conn = await asyncpg.connect(dsn)
            try:
                await seed_followers(conn, alice.account_id, the_sinks.live, followers, "fa")
                await seed_followers(
                    conn, bob.account_id, live_for_bob + the_sinks.dead, followers, "fb"
                )
                await conn.execute("ANALYZE")
            finally:
                await conn.close()
            body = json.dumps({"type": "Create", "padding": "x" * 1500}).encode()
            reference = await reference_fanout(the_sinks, body)
            report.figure(f"bare client fan-out to {servers} sinks", reference, "s")
            with kith_worker(dsn, data_dir=Path(tmp), domain=f"127.0.0.1:{port}"):
                before = await stats(server.url)
                answered_at, took = await post(server.url, alice, "to a thousand servers")
                after = await stats(server.url)
                report.figure(
                    f"post API answer, {followers} followers on {servers} servers", took, "s"
                )
                report.figure(
                    "statements (round trips) of that API call",
                    after["queries"] - before["queries"],
                    "stmts",
                    reference=("servers", servers),
                )
                report.note(
                    "statements of the post API call: "
                    + str(
                        {
                            q: n - before["by_query"].get(q, 0)
                            for q, n in after["by_query"].items()
                            if n - before["by_query"].get(q, 0) > 0
                        }
                    )
                )
                digest, arrivals = await wait_for_new_activity(
                    the_sinks, set(), the_sinks.live, 20 if not smoke else 10
                )
                delivery_figures(
                    report, "all live", arrivals, the_sinks.live, answered_at, reference, 5.0
                )
                await booking_figures(report, dsn, arrivals, len(the_sinks.live))
                report.figure(
                    "distinct bodies per activity, over all inboxes",
                    1 if digest else 0,
                    "bodies",
                    target="1",
                    passed=bool(digest),
                )
                answered_at, took = await post(server.url, bob, "some servers are dead")
                report.figure(f"post API answer, {dead} of {servers} black-holed", took, "s")
                _, arrivals = await wait_for_new_activity(
                    the_sinks, {digest}, live_for_bob, 20 if not smoke else 10
                )
                delivery_figures(
                    report,
                    f"{dead} black-holed",
                    arrivals,
                    live_for_bob,
                    answered_at,
                    reference,
                    10.0,
                )
                await report_queue(report, dsn)
    print(f"  saved {report.save()}")


async def booking_figures(
    report: Report, dsn: str, arrivals: dict[int, list[float]], expected: int
) -> None:
    """How long after a sink received the post its delivery was booked as delivered: the window
    in which a killed worker has sent a post it will send again (see `bench.sigkill`)."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + 10
        while True:
            rows = await conn.fetch(
                "SELECT host, extract(epoch FROM delivered_at)::float AS at FROM deliveries"
                " WHERE state = 'delivered'"
            )
            if len(rows) >= expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    windows = sorted(
        row["at"] - arrivals[port][1]
        for row in rows
        if (port := int(row["host"].rsplit(":", 1)[1])) in arrivals
    )
    if not windows:
        report.note("receipt-to-booking window: no delivery booked")
        return
    for label, q in (("median", 0.5), ("p90", 0.9)):
        value = windows[min(len(windows) - 1, int(q * len(windows)))]
        report.figure(f"sink receipt to delivery booked, {label}", value * 1000, "ms")


async def report_queue(report: Report, dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT state || ':' || coalesce(last_status::text, '-') AS status, count(*) AS n"
            " FROM deliveries GROUP BY 1 ORDER BY 2 DESC"
        )
    except asyncpg.PostgresError as exc:
        report.note(f"deliveries by status: unavailable ({exc})")
        return
    finally:
        await conn.close()
    report.note("deliveries by last status: " + ", ".join(f"{r['status']}={r['n']}" for r in rows))


if __name__ == "__main__":
    run(main(arguments().smoke))
