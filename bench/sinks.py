"""Many remote servers in one process, for the fan-out benchmark: `--live N` aiohttp sites on N
loopback ports that count what they receive, and `--dead M` ports that accept connections and
never answer (black holes).

Run as `python -m bench.sinks --live N --dead M`; prints `READY <control port> <live ports>
<dead ports>` (ports comma-separated). `GET /stats` on the control port gives, for each activity
(told apart by its body's SHA-256) and live port, the deliveries received and the first arrival
(wall-clock seconds). `POST /reference` answers 202 and counts nothing (the reference run).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import signal
import socket
import time
from collections import defaultdict

from aiohttp import web


def _bound(count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    return sockets


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", type=int, required=True)
    parser.add_argument("--dead", type=int, default=0)
    args = parser.parse_args()

    # SHA-256 of the body (one per activity) -> port -> [deliveries, first arrival]
    arrivals: dict[str, dict[int, list[float]]] = defaultdict(dict)
    signatures: set[str] = set()

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        port = request.transport.get_extra_info("sockname")[1]
        digest = hashlib.sha256(body).hexdigest()
        seen = arrivals[digest].setdefault(port, [0, time.time()])
        seen[0] += 1
        signatures.add(request.headers.get("Signature", ""))
        return web.json_response({}, status=202)

    async def reference(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({}, status=202)

    async def actor(_request: web.Request) -> web.Response:
        return web.json_response({"error": "not here"}, status=404)

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "arrivals": {
                    d: {str(p): v for p, v in ports.items()} for d, ports in arrivals.items()
                },
                "signatures": len(signatures - {""}),
            }
        )

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/inbox", inbox)
    app.router.add_post("/reference", reference)
    app.router.add_get("/stats", stats)
    app.router.add_route("*", "/{tail:.*}", actor)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    live = _bound(args.live + 1)
    for sock in live:
        await web.SockSite(runner, sock, backlog=128).start()

    held: list[asyncio.StreamWriter] = []

    async def black_hole(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # never read, never answer, never close

    dead = _bound(args.dead)
    servers = [await asyncio.start_server(black_hole, sock=sock) for sock in dead]
    ports = [s.getsockname()[1] for s in live]
    print(
        "READY",
        ports[0],
        ",".join(map(str, ports[1:])),
        ",".join(str(s.getsockname()[1]) for s in dead) or "-",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for server in servers:
        server.close()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
