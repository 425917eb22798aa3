"""Media uploads through the real endpoint (`POST /api/v2/media`) of a `kith serve` process:

1. a 12-megapixel JPEG (with EXIF), one upload at a time: seconds per upload, against decoding
   and re-encoding the same file with Pillow in this process (the least any pipeline must do);
2. the home timeline's p99 at 8 connections while 4 clients upload without pause, against the
   same timeline without uploads: processing runs in the pipeline's worker processes, not on
   the event loop, so the timeline should barely notice;
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
    on stdout per upload."""
    data = Path(path).read_bytes()
    headers = {"Authorization": authorization}

    async def client(http: aiohttp.ClientSession) -> None:
        while True:
            await upload(http, url, headers, data)
            print("uploaded", flush=True)

    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(client(http) for _ in range(int(clients))))

    asyncio.run(main())


def _workers_rss_kb(pid: int) -> int:
    return sum(rss_kb(child) for child in _children(pid))


async def main(smoke: bool) -> None:
    report = Report("media", smoke=smoke)
    announce_tool(report)
    width, height = (1200, 900) if smoke else (4000, 3000)
    rounds, burst, seconds = (1, 3, 0.5) if smoke else (8, 20, 8.0)
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

                # 2. The timeline with and without uploads running. The uploads come from
                # another process: in this one they would slow the Python load generator.
                quiet = await run_load(server.url, home, 8, seconds)
                photo_file = Path(tmp) / "photo.jpg"
                photo_file.write_bytes(data)
                token = reader.headers["Authorization"]
                uploaders = await asyncio.create_subprocess_exec(
                    PYTHON, "-c", "import sys; from bench.media import upload_forever;"
                    " upload_forever(*sys.argv[1:])", server.url, token, str(photo_file),
                    stdout=asyncio.subprocess.PIPE, cwd=ROOT,
                )  # fmt: skip
                assert uploaders.stdout is not None
                await uploaders.stdout.readline()  # they are under way
                busy = await run_load(server.url, home, 8, seconds)
                uploaders.terminate()
                output, _ = await uploaders.communicate()
                uploaded = output.count(b"\n")  # finished during the load
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
                report.note(f"{uploaded} uploads during the timeline load")

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
    print(f"  saved {report.save()}")


if __name__ == "__main__":
    run(main(arguments().smoke))
