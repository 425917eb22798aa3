"""Reference servers, the yardsticks the issue names: a bare aiohttp JSON handler, and a bare
aiohttp handler that verifies a signed POST (Kith's own `verify_request`, key parsed once)
without touching any database.

Run as `python -m bench.refserver --mode json|verify --port PORT [--key-file PEM --owner URI]`;
prints `READY` when serving. The verify handler checks the signature against the Host the
request names, so the same signed requests can be sent to it and to Kith. It runs on the event
loop `kith serve` runs on (`server.cli.run_async`), so the ratios compare handlers, not loops.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from aiohttp import web

from federation.keycache import KeyCache
from federation.signatures import SignatureError, verify_request
from server.cli import run_async


def _app(mode: str, owner: str, pem: str) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    keys = KeyCache()

    async def load_key(_key_id: str, _refresh: bool) -> tuple[str, str]:
        return owner, pem

    async def bare_json(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def verify_only(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            await verify_request(
                request.method,
                f"http://{request.host}{request.path_qs}",
                request.headers,
                body,
                keys=keys,
                load_key=load_key,
            )
        except SignatureError as exc:
            return web.json_response({"error": exc.reason}, status=exc.status)
        return web.json_response({}, status=202)

    if mode == "json":
        app.router.add_get("/", bare_json)
    else:
        app.router.add_post("/inbox", verify_only)
    return app


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["json", "verify"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key-file", type=Path)
    parser.add_argument("--owner", default="")
    args = parser.parse_args()
    pem = args.key_file.read_text() if args.key_file else ""
    runner = web.AppRunner(_app(args.mode, args.owner, pem), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {args.port}", flush=True)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    run_async(main())  # the event loop `kith serve` runs on
