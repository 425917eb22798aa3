"""The reference figures of the issue, measured in this run on this machine: RSA-2048 PKCS#1
v1.5 sign and verify through `cryptography` (and signing with the PEM parsed per request), a bare
aiohttp JSON handler, a bare aiohttp verify-only handler, and COPY into PostgreSQL.

Other scripts import these functions to measure the reference beside their own figure.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import asyncpg

from bench.common import (
    Child,
    Load,
    Peer,
    Prepared,
    Report,
    announce_tool,
    arguments,
    cpu_seconds,
    embedded_database,
    free_port,
    peer,
    run,
    run_load,
    signed_posts,
    spawn,
    wait_ready,
)

# What the issue measured on a 2-core machine like CI's, for the printout only.
ISSUE_FIGURES = {
    "rsa_sign_per_s": 4000,
    "rsa_verify_per_s": 50000,
    "bare_json_rps": 25000,
    "verify_only_rps": 9000,
    "copy_rows_per_s": 700000,
}


def crypto_rates(seconds: float = 1.0) -> dict[str, float]:
    """Operations per second on one core: sign, verify, and sign with the PEM parsed each time."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from federation.keys import generate_rsa_keypair

    private_pem, _ = generate_rsa_keypair()
    key = load_pem_private_key(private_pem.encode(), password=None)
    public = key.public_key()
    message = b"x" * 300
    pad, sha = padding.PKCS1v15(), hashes.SHA256()
    signature = key.sign(message, pad, sha)

    def rate(operation) -> float:
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for _ in range(20):
                operation()
            count += 20
        return count / elapsed

    return {
        "sign": rate(lambda: key.sign(message, pad, sha)),
        "verify": rate(lambda: public.verify(signature, message, pad, sha)),
        "sign_parsing_pem": rate(
            lambda: load_pem_private_key(private_pem.encode(), password=None).sign(
                message, pad, sha
            )
        ),
    }


async def copy_rate(dsn: str, rows: int) -> float:
    """Rows per second COPYed into a fresh table shaped like a narrow `statuses`."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TEMP TABLE bench_copy (id bigint PRIMARY KEY, account_id bigint, text text)"
        )
        records = [(n, n % 1000, f"status {n}") for n in range(rows)]
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_copy", records=records)
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_copy")
    finally:
        await conn.close()
    return rows / elapsed


@asynccontextmanager
async def reference_server(mode: str, the_peer: Peer | None = None):
    port = free_port()
    args = ["-m", "bench.refserver", "--mode", mode, "--port", str(port)]
    key_file = None
    if the_peer is not None:
        key_file = Path(tempfile.mkstemp(suffix=".pem")[1])
        key_file.write_text(the_peer.public_pem)
        args += ["--key-file", str(key_file), "--owner", the_peer.actor]
    process = spawn(args)
    child = Child(process, port)
    try:
        await asyncio.to_thread(wait_ready, process)
        yield child
    finally:
        child.kill()
        if key_file is not None:
            key_file.unlink(missing_ok=True)


async def bare_json(connections: int, seconds: float) -> Load:
    async with reference_server("json") as server:
        get = [Prepared("GET", "/", {})]
        await run_load(server.url, get, connections, 0.5)  # warm-up
        return await _measured(server, get, connections, seconds)


async def verify_only(
    the_peer: Peer, requests: Sequence[Prepared], connections: int, seconds: float
) -> Load:
    async with reference_server("verify", the_peer) as server:
        await run_load(server.url, requests[:50], connections, 0.5)
        return await _measured(server, requests, connections, seconds)


async def _measured(
    server: Child, requests: Sequence[Prepared], connections: int, seconds: float
) -> Load:
    before = cpu_seconds(server.process.pid)
    load = await run_load(server.url, requests, connections, seconds)
    used = cpu_seconds(server.process.pid) - before
    return replace(load, server_cpu_ms=1000 * used / max(1, load.requests))


async def main(smoke: bool) -> None:
    report = Report("references", smoke=smoke)
    announce_tool(report)
    seconds = 0.5 if smoke else 5.0
    crypto = crypto_rates(0.2 if smoke else 1.0)
    sign = crypto["sign"]
    report.figure(
        "RSA-2048 sign (cryptography), 1 core",
        sign,
        "ops/s",
        reference=("issue's 4,000/s", ISSUE_FIGURES["rsa_sign_per_s"]),
    )
    report.figure(
        "RSA-2048 verify (cryptography), 1 core",
        crypto["verify"],
        "ops/s",
        reference=("sign, this run", sign),
    )
    report.figure(
        "RSA-2048 sign, PEM parsed per request",
        crypto["sign_parsing_pem"],
        "ops/s",
        reference=("sign, this run", sign),
    )
    with embedded_database() as db:
        dsn = await db.fresh("bench_references")
        copy = await copy_rate(dsn, 20_000 if smoke else 500_000)
    report.figure(
        "COPY into PostgreSQL",
        copy,
        "rows/s",
        reference=("issue's 700,000/s", ISSUE_FIGURES["copy_rows_per_s"]),
    )
    json_load = await bare_json(8, seconds)
    report.figure(
        "bare aiohttp JSON handler, 8 conns",
        json_load.rate,
        "req/s",
        reference=("issue's 25,000/s", ISSUE_FIGURES["bare_json_rps"]),
    )
    async with peer() as the_peer:
        count = 300 if smoke else 20_000
        requests = await asyncio.to_thread(signed_posts, the_peer, "http://127.0.0.1:1", count)
        verify_load = await verify_only(the_peer, requests, 8, seconds)
    report.figure(
        "bare aiohttp verify-only handler, 8 conns",
        verify_load.rate,
        "req/s",
        reference=("bare JSON handler, this run", json_load.rate),
    )
    report.figure(
        "verify-only handler errors",
        verify_load.errors,
        "requests",
        target="0",
        passed=verify_load.errors == 0,
    )
    print(f"  saved {report.save()}")


if __name__ == "__main__":
    run(main(arguments().smoke))
