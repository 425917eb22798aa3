"""Target 4, memory: one `kith serve` process (web and worker) at steady state, then a burst of
10,000 incoming activities (signed Create(Note)s at 64 connections) that the in-process worker
processes; RSS sampled throughout, and again once the queue has drained. The reference, in the
same run: the RSS of the bare verify-only aiohttp server after the same kind of load.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path

import asyncpg

from bench.common import (
    Prepared,
    Report,
    announce_tool,
    arguments,
    embedded_database,
    kith_server,
    peer,
    rss_kb,
    run,
    run_load,
    signed_posts,
)
from bench.inbox import warm_up
from bench.references import reference_server


class Sampler:
    """The peak RSS of a process, sampled every 50 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


async def _queue_length(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM jobs WHERE failed_at IS NULL")
    finally:
        await conn.close()


async def _steady(url: str, requests: list[Prepared], seconds: float) -> None:
    """Exercise the process a little (timelines, instance, inbox) so imports and caches are
    warm before steady state is read."""
    await run_load(url, [Prepared("GET", "/api/v1/instance", {})], 4, seconds)
    await run_load(url, requests, 4, seconds)


async def main(smoke: bool) -> None:
    report = Report("memory", smoke=smoke)
    announce_tool(report)
    burst = 200 if smoke else 10_000
    with (
        embedded_database() as db,
        tempfile.TemporaryDirectory(prefix="kith-bench-") as tmp,
    ):
        dsn = await db.fresh("bench_memory")
        async with peer() as the_peer:
            with kith_server(dsn, worker=True, data_dir=Path(tmp)) as server:
                pid = server.process.pid
                await warm_up(server.url, the_peer)
                warm = await asyncio.to_thread(signed_posts, the_peer, server.url, 300)
                await _steady(server.url, warm, 0.5 if smoke else 2.0)
                while await _queue_length(dsn):
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1)
                steady = rss_kb(pid)
                requests = await asyncio.to_thread(signed_posts, the_peer, server.url, burst)
                started = time.monotonic()
                with Sampler(pid) as sampler:
                    # Long enough for every request to go once at the inbox's rate; requests
                    # sent again are duplicates, refused by de-duplication after verification.
                    load = await run_load(server.url, requests, 64, 2.0 if smoke else 22.0)
                    while (left := await _queue_length(dsn)) and time.monotonic() - started < 90:
                        await asyncio.sleep(0.2)
                await asyncio.sleep(2)
                after = rss_kb(pid)
            async with reference_server("verify", the_peer) as ref:
                await run_load(ref.url, requests, 64, 2.0)
                reference = rss_kb(ref.process.pid)
    mb = 1 / 1024
    report.figure(
        "kith serve RSS at steady state",
        steady * mb,
        "MB",
        reference=("bare verify-only server", reference * mb),
        target="< 150 MB",
        passed=steady * mb < 150,
    )
    report.figure(
        f"RSS added by a burst of {min(burst, load.requests)} activities (peak)",
        (sampler.peak - steady) * mb,
        "MB",
        reference=("steady state", steady * mb),
        target="<= 50 MB",
        passed=(sampler.peak - steady) * mb <= 50,
    )
    report.figure(
        "RSS above steady state once drained",
        (after - steady) * mb,
        "MB",
        reference=("steady state", steady * mb),
        target="back to steady (<= 5 MB)",
        passed=(after - steady) * mb <= 5,
    )
    report.note(
        f"burst: {load.requests} POSTs in {load.seconds:.1f} s, {load.errors} refused;"
        f" {left} jobs still queued at the end"
    )
    print(f"  saved {report.save()}")


if __name__ == "__main__":
    run(main(arguments().smoke))
