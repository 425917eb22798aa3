"""Media uploads through the real endpoint (`POST /api/v2/media`) of a `kith serve` process:

1. a 12-megapixel JPEG (with EXIF), one upload at a time: seconds per upload, against decoding
   and re-encoding the same file with Pillow in this process (the least any pipeline must do);
2. the home timeline's p99 at 8 connections while 4 clients upload without pause, against the
   same timeline without uploads: processing runs in the pipeline's worker processes, not on
   the event loop, so the timeline should barely notice. 8 closed-loop connections from the
   Python load generator saturate a 2-core machine, so that p99 is mostly queueing; hence also
2b. the home timeline at a fixed, non-saturating rate (open loop, 20 requests/s: each request
   is sent on schedule whatever the previous answer, and its latency counts from the scheduled
   send time, so a stall of the event loop shows in full and is not hidden by the load
   generator waiting for it), without uploads and while 4 clients upload: p50 and p99; beside
   it, at the same rate, the health endpoint (no database), whose p99 is the event loop's;
3. the web process's RSS during 20 simultaneous uploads (peak above its steady state; uploads
   stream to disk, so no upload is ever held whole in its memory), and the pipeline workers' RSS
   beside it.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from PIL import Image, ImageDraw, ImageFilter

from bench import seed
from bench.common import (
    PYTHON,
    ROOT,
    Prepared,
    Report,
    _children,
    announce_tool,
    arguments,
    embedded_database,
    free_port,
    kith_server,
    rss_kb,
    run,
    run_load,
)
from bench.memory import Sampler

# The open-loop timeline's rate: far below what the server answers (≈ 1,000 pages/s), so the
# latency is a page's service time plus whatever delays it, not a queue.
RATE = 20.0


def photo(width: int, height: int) -> bytes:
    """A photo-like JPEG (smooth shapes plus sensor noise, quality 90, with EXIF): it
    compresses like a camera's picture, not like a flat colour or pure noise."""
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(base)
    for n in range(40):
        x, y = (n * 7919) % width, (n * 104729) % height
        radius = width // (8 + n % 12)
        colour = ((n * 53) % 256, (n * 97) % 256, (n * 193) % 256)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    base = base.filter(ImageFilter.GaussianBlur(4))
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    picture = Image.blend(base, noise, 0.15)
    exif = Image.Exif()
    exif[0x010F] = "Bench camera"  # Make
    exif[0x0112] = 1  # Orientation
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def pillow_reference(data: bytes) -> float:
    """Seconds to decode `data` and encode it again as JPEG, in this process."""
    started = time.perf_counter()
    image = Image.open(io.BytesIO(data))
    image.load()
    image.save(io.BytesIO(), format="JPEG", quality=85)
    return time.perf_counter() - started


async def upload(http: aiohttp.ClientSession, url: str, headers: dict, data: bytes) -> float:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="photo.jpg", content_type="image/jpeg")
    started = time.perf_counter()
    async with http.post(f"{url}/api/v2/media", data=form, headers=headers) as response:
        body = await response.json()
        if response.status != 200 or not body.get("url"):
            raise RuntimeError(f"upload failed: {response.status} {body}")
    return time.perf_counter() - started


async def _seed(dsn: str, base_url: str, statuses: int) -> seed.Member:
    """A reader following 20 authors, whose home timeline holds `statuses` posts."""
    reader = await seed.member(dsn, base_url, "reader")
    conn = await asyncpg.connect(dsn)
    try:
        authors = await seed.accounts(conn, 20, prefix="author", base_url=base_url)
        await seed.follows(conn, [(reader.account_id, a) for a in authors])
        made = await seed.statuses(conn, authors, statuses, base_url=base_url)
        await seed.home_feed(conn, reader.account_id, made)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return reader


def upload_forever(url: str, authorization: str, path: str, clients: str = "4") -> None:
    """Upload the file at `path` from `clients` clients without pause until killed; one line
    on stdout per upload, with its seconds."""
    data = Path(path).read_bytes()
    headers = {"Authorization": authorization}

    async def client(http: aiohttp.ClientSession) -> None:
        while True:
            seconds = await upload(http, url, headers, data)
            print(f"uploaded {seconds:.4f}", flush=True)

    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(client(http) for _ in range(int(clients))))

    asyncio.run(main())


@dataclass
class Paced:
    """What an open-loop run measured: latencies from each request's scheduled send time."""

    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    # how late this process sent its requests (its own event loop's lag), p99
    late_p99_ms: float
    # latency from the actual send, p99: without this process's own lag
    sent_p99_ms: float


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def open_loop(url: str, request: Prepared, rate: float, seconds: float) -> Paced:
    """Send `request` `rate` times a second for `seconds`, each on its schedule whatever the
    answers before it (as many connections as that takes): latency is measured from the
    scheduled send time, so a stalled server is charged for every request it kept waiting
    (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    lateness: list[float] = []
    from_send: list[float] = []
    errors = 0
    target = f"{url.rstrip('/')}{request.path}"

    async def one(http: aiohttp.ClientSession, scheduled: float) -> None:
        nonlocal errors
        sent = loop.time()
        lateness.append((sent - scheduled) * 1000)
        try:
            async with http.request(request.method, target, headers=request.headers) as response:
                await response.read()
                if response.status >= 400:
                    errors += 1
        except aiohttp.ClientError:
            errors += 1
        done = loop.time()
        latencies.append((done - scheduled) * 1000)
        from_send.append((done - sent) * 1000)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, skip_auto_headers=["User-Agent"]) as h:
        await one(h, loop.time())  # a warm connection, not counted
        latencies.clear()
        lateness.clear()
        from_send.clear()
        errors = 0
        start = loop.time() + 0.01
        tasks = []
        for n in range(max(1, round(rate * seconds))):
            scheduled = start + n / rate
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            tasks.append(asyncio.create_task(one(h, scheduled)))
        await asyncio.gather(*tasks)
    return Paced(
        len(latencies),
        errors,
        _quantile(latencies, 0.5),
        _quantile(latencies, 0.99),
        max(latencies),
        _quantile(lateness, 0.99),
        _quantile(from_send, 0.99),
    )


HEALTH = Prepared("GET", "/api/v1/streaming/health", {})


async def both_paced(url: str, request: Prepared, seconds: float) -> tuple[Paced, Paced]:
    """`request` and, beside it at the same rate, the health endpoint (no database: its
    latency is the event loop's responsiveness plus the machine's scheduling)."""
    timeline, health = await asyncio.gather(
        open_loop(url, request, RATE, seconds), open_loop(url, HEALTH, RATE, seconds)
    )
    return timeline, health


class Uploaders:
    """`upload_forever` in another process (in this one it would slow the load generator),
    its finished uploads' seconds collected as they come."""

    def __init__(self, url: str, authorization: str, path: Path) -> None:
        self.args = (url, authorization, str(path))
        self.seconds: list[float] = []

    async def __aenter__(self) -> Uploaders:
        self.process = await asyncio.create_subprocess_exec(
            PYTHON, "-c", "import sys; from bench.media import upload_forever;"
            " upload_forever(*sys.argv[1:])", *self.args,
            stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        assert self.process.stdout is not None
        self._collect(await self.process.stdout.readline())  # they are under way
        self.reader = asyncio.create_task(self._read())
        return self

    def _collect(self, line: bytes) -> None:
        if line.startswith(b"uploaded"):
            self.seconds.append(float(line.split()[1]))

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self._collect(line)

    async def __aexit__(self, *exc) -> None:
        self.process.terminate()
        await self.process.wait()
        await self.reader

    def since(self, mark: int) -> list[float]:
        return self.seconds[mark:]


def _workers_rss_kb(pid: int) -> int:
    return sum(rss_kb(child) for child in _children(pid))


async def main(smoke: bool) -> None:
    report = Report("media", smoke=smoke)
    announce_tool(report)
    width, height = (1200, 900) if smoke else (4000, 3000)
    rounds, burst, seconds = (1, 3, 0.5) if smoke else (8, 20, 8.0)
    paced_seconds = 0.5 if smoke else 30.0
    data = photo(width, height)
    report.note(f"photo: {width}x{height} JPEG with EXIF, {len(data) / 1e6:.1f} MB")
    with (
        embedded_database() as db,
        tempfile.TemporaryDirectory(prefix="kith-bench-") as tmp,
    ):
        dsn = await db.fresh("bench_media")
        port = free_port()
        reader = await _seed(dsn, f"http://127.0.0.1:{port}", 200 if smoke else 20_000)
        with kith_server(dsn, worker=False, data_dir=Path(tmp), port=port) as server:
            pid = server.process.pid
            home = [Prepared("GET", "/api/v1/timelines/home", reader.headers)]
            async with aiohttp.ClientSession() as http:
                await upload(http, server.url, reader.headers, data)  # starts the pool
                await run_load(server.url, home, 8, 0.5)

                # 1. One upload at a time.
                times = [
                    await upload(http, server.url, reader.headers, data) for _ in range(rounds)
                ]
                reference = statistics.median(pillow_reference(data) for _ in range(3))
                per_upload = statistics.median(times)
                report.figure(
                    f"{width * height / 1e6:.0f} MP JPEG upload, one at a time (median)",
                    per_upload,
                    "s",
                    reference=("Pillow decode + encode in-process", reference),
                    target="< 1 s",
                    passed=per_upload < 1,
                )

                # 2. The timeline with and without uploads running, closed loop (8 conns)
                # and open loop (a fixed rate).
                quiet = await run_load(server.url, home, 8, seconds)
                quiet_paced, quiet_health = await both_paced(server.url, home[0], paced_seconds)
                photo_file = Path(tmp) / "photo.jpg"
                photo_file.write_bytes(data)
                token = reader.headers["Authorization"]
                async with Uploaders(server.url, token, photo_file) as uploaders:
                    mark = len(uploaders.seconds)
                    busy = await run_load(server.url, home, 8, seconds)
                    closed_uploads = uploaders.since(mark)
                    mark = len(uploaders.seconds)
                    busy_paced, busy_health = await both_paced(server.url, home[0], paced_seconds)
                    paced_uploads = uploaders.since(mark)
                report.figure(
                    "home timeline p99, 8 conns, while 4 clients upload",
                    busy.p99_ms,
                    "ms",
                    reference=("same timeline without uploads", quiet.p99_ms),
                    target="< 20 ms",
                    passed=busy.p99_ms < 20,
                )
                report.figure(
                    "home timeline pages/s while 4 clients upload",
                    busy.rate,
                    "pages/s",
                    reference=("same timeline without uploads", quiet.rate),
                )
                report.note(f"{len(closed_uploads)} uploads during the closed-loop timeline load")
                paced = f"open loop {RATE:g}/s"
                report.figure(
                    f"home timeline p50, {paced}, without uploads",
                    quiet_paced.p50_ms,
                    "ms",
                )
                report.figure(
                    f"home timeline p99, {paced}, without uploads",
                    quiet_paced.p99_ms,
                    "ms",
                )
                report.figure(
                    f"home timeline p50, {paced}, while 4 clients upload",
                    busy_paced.p50_ms,
                    "ms",
                    reference=("same rate without uploads", quiet_paced.p50_ms),
                )
                report.figure(
                    f"home timeline p99, {paced}, while 4 clients upload",
                    busy_paced.p99_ms,
                    "ms",
                    reference=("same rate without uploads", quiet_paced.p99_ms),
                    target="< 20 ms",
                    passed=busy_paced.p99_ms < 20,
                )
                report.figure(
                    f"health endpoint p99, {paced}, while 4 clients upload",
                    busy_health.p99_ms,
                    "ms",
                    reference=("same rate without uploads", quiet_health.p99_ms),
                )
                runs = (
                    ("timeline without", quiet_paced),
                    ("timeline with", busy_paced),
                    ("health without", quiet_health),
                    ("health with", busy_health),
                )
                for name, run_ in runs:
                    report.note(
                        f"open loop, {name} uploads: {run_.requests} requests, {run_.errors}"
                        f" errors, max {run_.max_ms:.1f} ms; the load generator's own send"
                        f" lateness p99 {run_.late_p99_ms:.2f} ms; p99 from the actual send"
                        f" {run_.sent_p99_ms:.2f} ms"
                    )
                if paced_uploads:
                    report.figure(
                        f"{width * height / 1e6:.0f} MP JPEG upload during the open-loop"
                        " timeline, 4 at once (median)",
                        statistics.median(paced_uploads),
                        "s",
                        reference=("one at a time", per_upload),
                    )
                report.note(f"{len(paced_uploads)} uploads during the open-loop timeline load")

                # 3. Memory during a burst of simultaneous uploads.
                await asyncio.sleep(1)
                steady, workers_steady = rss_kb(pid), _workers_rss_kb(pid)
                workers_peak = workers_steady
                with Sampler(pid) as sampler:
                    burst_uploads = asyncio.gather(
                        *(upload(http, server.url, reader.headers, data) for _ in range(burst))
                    )
                    while not burst_uploads.done():
                        workers_peak = max(workers_peak, _workers_rss_kb(pid))
                        await asyncio.sleep(0.05)
                    await burst_uploads
    mb = 1 / 1024
    report.figure(
        f"web process RSS added by {burst} simultaneous uploads (peak)",
        (sampler.peak - steady) * mb,
        "MB",
        reference=("web process at steady state", steady * mb),
        target="< 150 MB",
        passed=(sampler.peak - steady) * mb < 150,
    )
    report.figure(
        "pipeline worker processes' RSS during the burst (peak, together)",
        workers_peak * mb,
        "MB",
        reference=("web process at steady state", steady * mb),
    )
    report.figure(
        f"pipeline worker processes' RSS added by {burst} simultaneous uploads (peak)",
        (workers_peak - workers_steady) * mb,
        "MB",
        reference=("pipeline workers before the burst, together", workers_steady * mb),
    )
    print(f"  saved {report.save()}")


if __name__ == "__main__":
    run(main(arguments().smoke))
