"""`kith serve` for benchmarks: the real application (`server.app.create_app`), with or without
its in-process worker, plus one read-only route, `GET /__bench/stats`, reporting the process's
RSA verification count (`KeyCache.verifications`) and resident memory.

Run as `python -m bench.serve --dsn DSN --port PORT [--worker]`; prints `READY` when serving.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections import Counter
from pathlib import Path

from aiohttp import web

from bench.common import rss_kb
from server.app import create_app
from server.cli import run_async
from server.config import Config
from server.state import FEDERATION
from storage import db as db_module

# Every statement the app's pool connections send (one round trip each), by its first words.
QUERIES: Counter[str] = Counter()


def _count(record) -> None:
    QUERIES[" ".join(record.query.split()[:3])[:60]] += 1


def _instrument_pool() -> None:
    """Count statements: wrap the pool's connection set-up to add an asyncpg query logger.
    Only this benchmark process is instrumented; the product code is unchanged."""
    original = db_module._init_connection

    async def init(conn) -> None:
        await original(conn)
        conn.add_query_logger(_count)

    db_module._init_connection = init


def _experiments(names: set[str]) -> None:
    """What-if runs of a proposed fix, patched into this benchmark process only
    (`BENCH_EXPERIMENTS=no-pool-reset,gate-cache`); the product code is unchanged.

    - `no-pool-reset`: pools skip asyncpg's reset query on release (`create_pool(reset=...)`).
    - `gate-cache`: `gate.check_incoming` decisions kept per host for the process's life.
    """
    unknown = names - {"no-pool-reset", "gate-cache"}
    if unknown:
        raise SystemExit(f"unknown experiments: {', '.join(sorted(unknown))}")
    if "no-pool-reset" in names:
        import asyncpg

        original_pool = asyncpg.create_pool

        async def no_reset(_conn) -> None:
            return None

        def create_pool(*args, **kwargs):
            return original_pool(*args, reset=no_reset, **kwargs)

        asyncpg.create_pool = create_pool
    if "gate-cache" in names:
        from federation import gate

        original_check = gate.check_incoming
        decisions: dict[str, object] = {}

        async def check_incoming(db, host: str):
            if host not in decisions:
                try:
                    decisions[host] = await original_check(db, host)
                except gate.Refused as exc:
                    decisions[host] = exc
            decision = decisions[host]
            if isinstance(decision, gate.Refused):
                raise decision
            return decision

        gate.check_incoming = check_incoming


async def _stats(request: web.Request) -> web.Response:
    fed = request.app[FEDERATION]
    return web.json_response(
        {
            "verifications": fed.keys.verifications,
            "key_loads": fed.keys.loads,
            "rss_kb": rss_kb(os.getpid()),
            "queries": sum(QUERIES.values()),
            "by_query": dict(QUERIES.most_common(30)),
        }
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = Config(
        domain=f"127.0.0.1:{args.port}",
        listen_host="127.0.0.1",
        listen_port=args.port,
        data_dir=args.data_dir,
        insecure_http=True,
        allow_private_addresses=True,
    )
    _instrument_pool()
    _experiments({n for n in os.environ.get("BENCH_EXPERIMENTS", "").split(",") if n})
    app = create_app(config, args.dsn, run_worker=args.worker)
    app.router.add_get("/__bench/stats", _stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {args.port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    run_async(main())  # the event loop `kith serve` runs on
