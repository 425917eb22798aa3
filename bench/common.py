"""What every benchmark shares: the embedded database, server subprocesses, a signing peer, the
load generator (wrk, or a Python one when wrk is absent) and the way figures are reported.

Absolute figures on a shared 2-core machine are noise; every figure is printed beside its ratio
to a reference measured in the same run (`Report.figure`).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results")
PYTHON = sys.executable
AS_CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


# ---------------------------------------------------------------- reporting


@dataclass
class Report:
    """Figures of one benchmark script, printed as they come and saved as JSON."""

    name: str
    smoke: bool = False
    figures: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def figure(
        self,
        label: str,
        value: float,
        unit: str,
        *,
        reference: tuple[str, float] | None = None,
        target: str | None = None,
        passed: bool | None = None,
    ) -> float | None:
        """Record and print one figure; with `reference` (label, value), its ratio too."""
        ratio = None
        if reference is not None and reference[1] and reference[1] == reference[1]:
            ratio = value / reference[1]
        entry = {
            "label": label,
            "value": _finite(value),
            "unit": unit,
            "reference": reference[0] if reference else None,
            "reference_value": _finite(reference[1]) if reference else None,
            "ratio": _finite(ratio),
            "target": target,
            "passed": passed,
        }
        self.figures.append(entry)
        line = f"  {label:<52} {value:>12.3f} {unit:<8}"
        if ratio is not None:
            line += f" ratio {ratio:8.4f} to {reference[0]}"
        if target is not None:
            verdict = "" if passed is None else (" PASS" if passed else " FAIL")
            line += f"  [target {target}{verdict}]"
        print(line, flush=True)
        return ratio

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def save(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        experiments = os.environ.get("BENCH_EXPERIMENTS", "")
        name = self.name + (f"+{experiments.replace(',', '+')}" if experiments else "")
        path = RESULTS / f"{name}{'-smoke' if self.smoke else ''}.json"
        path.write_text(
            json.dumps(
                {
                    "benchmark": self.name,
                    "experiments": experiments,
                    "smoke": self.smoke,
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "machine": machine(),
                    "figures": self.figures,
                    "notes": self.notes,
                },
                indent=2,
            )
        )
        return path


def _finite(value: float | None) -> float | None:
    """Rounded, and None for NaN (a figure that could not be measured), so the JSON is JSON."""
    if value is None or value != value:
        return None
    return round(value, 4)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with suppress(OSError):
        match = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem_kb = int(match.group(1)) if match else 0
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": shutil.which("wrk") is not None,
    }


# ---------------------------------------------------------------- processes and ports


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry.name))
    return found


@dataclass
class Meter:
    """CPU used by a server process and by this benchmark's PostgreSQL (postmaster and
    backends), and, for `bench/serve.py` servers, the statements their pool sent: per request,
    they show where a request's cost goes and how many round trips it takes."""

    server: Child
    db: Database
    kith: bool = True

    async def snapshot(self) -> dict[str, Any]:
        pg = 0.0
        for pid in [*_children(self.db.postmaster_pid), self.db.postmaster_pid]:
            with suppress(OSError):
                pg += cpu_seconds(pid)
        taken = {"server": cpu_seconds(self.server.process.pid), "pg": pg}
        if self.kith:
            taken |= await stats(self.server.url)
        return taken

    @staticmethod
    def per_request(before: dict, after: dict, requests: int) -> dict[str, Any]:
        n = max(1, requests)
        out: dict[str, Any] = {
            "server_cpu_ms": 1000 * (after["server"] - before["server"]) / n,
            "pg_cpu_ms": 1000 * (after["pg"] - before["pg"]) / n,
        }
        if "queries" in after:
            out["queries"] = (after["queries"] - before["queries"]) / n
            out["by_query"] = {
                q: round((c - before["by_query"].get(q, 0)) / n, 3)
                for q, c in after["by_query"].items()
                if (c - before["by_query"].get(q, 0)) / n >= 0.01
            }
            out["verifications"] = (after["verifications"] - before["verifications"]) / n
        return out


def rss_kb(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


@dataclass
class Child:
    """A subprocess started by a benchmark (a server, a worker, sinks)."""

    process: subprocess.Popen
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn(args: Sequence[str], *, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if not os.environ.get("BENCH_VERBOSE") else None,
        text=True,
    )


def wait_ready(process: subprocess.Popen, timeout: float = 120) -> str:
    """Wait for the child's `READY ...` line on stdout; return the rest of that line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                raise RuntimeError(f"child exited with {process.returncode} before READY")
            continue
        if line.startswith("READY"):
            return line[5:].strip()
    raise RuntimeError("child not ready in time")


@contextmanager
def kith_server(dsn: str, *, worker: bool, data_dir: Path, port: int | None = None):
    """`kith serve` (with `worker`) or the web process alone, as a subprocess of
    `bench/serve.py`: the real app plus a `/__bench/stats` route."""
    port = port or free_port()
    args = ["-m", "bench.serve", "--dsn", dsn, "--port", str(port), "--data-dir", str(data_dir)]
    process = spawn([*args, *(["--worker"] if worker else [])])
    child = Child(process, port)
    try:
        wait_ready(process)
        yield child
    finally:
        child.kill()


def start_worker_process(env: dict[str, str]) -> subprocess.Popen:
    """Start `kith worker`; return once it logs that its worker started. Its log is drained in
    a thread so a chatty worker never blocks on a full pipe."""
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "kith"), "worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    for line in process.stderr:
        if "job worker" in line and "started" in line:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("kith worker did not start")
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
    return process


def worker_env(dsn: str, data_dir: Path, domain: str) -> dict[str, str]:
    return {
        "KITH_DATABASE_URL": dsn,
        "KITH_DOMAIN": domain,
        "KITH_INSECURE_HTTP": "1",
        "KITH_ALLOW_PRIVATE_ADDRESSES": "1",
        "KITH_DATA_DIR": str(data_dir),
    }


@contextmanager
def kith_worker(dsn: str, *, data_dir: Path, domain: str):
    """`kith worker` as a subprocess, so it can be killed with SIGKILL."""
    env = worker_env(dsn, data_dir, domain)
    child = Child(start_worker_process(env))
    try:
        yield child
    finally:
        child.kill()


async def stats(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/__bench/stats") as response:
        return await response.json()


# ---------------------------------------------------------------- database


@dataclass
class Database:
    server_dsn: str
    root: Path
    server: Any

    @property
    def postmaster_pid(self) -> int:
        return int((self.root / "postmaster.pid").read_text().split()[0])

    def dsn(self, name: str) -> str:
        parts = urlsplit(self.server_dsn)
        return parts._replace(path=f"/{name}").geturl()

    async def fresh(self, name: str) -> str:
        """A new migrated database named `name`; returns its DSN."""
        from storage.migrate import migrate

        admin = await asyncpg.connect(self.server_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await admin.execute(f"CREATE DATABASE {name}")
        finally:
            await admin.close()
        conn = await asyncpg.connect(self.dsn(name))
        try:
            await migrate(conn)
        finally:
            await conn.close()
        return self.dsn(name)


@contextmanager
def embedded_database():
    """One embedded PostgreSQL (pgserver) for a benchmark script, removed afterwards; or, when
    `BENCH_PG_DSN` and `BENCH_PG_DATA` (its data directory) are set, that running one (the smoke
    tests share one cluster between scripts)."""
    if os.environ.get("BENCH_PG_DSN"):
        yield Database(os.environ["BENCH_PG_DSN"], Path(os.environ["BENCH_PG_DATA"]), None)
        return
    from storage.embedded import start_embedded

    root = Path(tempfile.mkdtemp(prefix="kith-bench-pg-"))
    server = start_embedded(root / "data")
    try:
        yield Database(server.get_uri(), root / "data", server)
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- a signing remote peer


@dataclass
class Peer:
    """A remote actor served on a loopback port, whose activities the benchmark signs."""

    base_url: str
    private_pem: str
    public_pem: str
    runner: web.AppRunner

    @property
    def actor(self) -> str:
        return f"{self.base_url}/users/bench"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#main-key"

    def actor_document(self) -> dict[str, Any]:
        uri = self.actor
        return {
            "@context": AS_CONTEXT,
            "id": uri,
            "type": "Person",
            "preferredUsername": "bench",
            "name": "Bench peer",
            "inbox": f"{uri}/inbox",
            "outbox": f"{uri}/outbox",
            "followers": f"{uri}/followers",
            "following": f"{uri}/following",
            "endpoints": {"sharedInbox": f"{self.base_url}/inbox"},
            "publicKey": {"id": self.key_id, "owner": uri, "publicKeyPem": self.public_pem},
        }

    def note_activity(self, n: int) -> dict[str, Any]:
        """A unique public Create(Note), so de-duplication never drops it."""
        unique = uuid.uuid4().hex
        note = f"{self.base_url}/notes/{unique}"
        return {
            "@context": AS_CONTEXT,
            "id": f"{note}/activity",
            "type": "Create",
            "actor": self.actor,
            "to": [PUBLIC],
            "cc": [f"{self.actor}/followers"],
            "object": {
                "id": note,
                "type": "Note",
                "attributedTo": self.actor,
                "content": f"<p>bench note {n}</p>",
                "published": "2026-01-01T00:00:00Z",
                "to": [PUBLIC],
                "cc": [f"{self.actor}/followers"],
            },
        }


@asynccontextmanager
async def peer() -> AsyncIterator[Peer]:
    from federation.keys import generate_rsa_keypair

    private_pem, public_pem = generate_rsa_keypair()
    port = free_port()
    app = web.Application()
    runner = web.AppRunner(app, access_log=None)
    made = Peer(f"http://127.0.0.1:{port}", private_pem, public_pem, runner)

    async def actor(_request: web.Request) -> web.Response:
        return web.json_response(made.actor_document(), content_type="application/activity+json")

    app.router.add_get("/users/bench", actor)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield made
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class Prepared:
    """One ready-to-send request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


def signed_posts(peer: Peer, target_url: str, count: int, path: str = "/inbox") -> list[Prepared]:
    """`count` distinct signed Create(Note) POSTs to `target_url + path` (one key, parsed once)."""
    from federation.keycache import KeyCache
    from federation.signatures import sign_request

    key = KeyCache().signing_key(peer.key_id, peer.private_pem)
    url = f"{target_url}{path}"
    out = []
    for n in range(count):
        body = json.dumps(peer.note_activity(n)).encode()
        headers = {"Content-Type": "application/activity+json"}
        headers |= sign_request("POST", url, body=body, key=key)
        out.append(Prepared("POST", path, headers, body))
    return out


# ---------------------------------------------------------------- load generation


@dataclass
class Load:
    """What a load run measured."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    tool: str
    # CPU the server under load used per request, when the caller measured it
    server_cpu_ms: float = float("nan")

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0


def _raw_request(r: Prepared, host: str) -> bytes:
    headers = {"Host": host, **r.headers}
    if r.body or r.method == "POST":
        headers["Content-Length"] = str(len(r.body))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"{r.method} {r.path} HTTP/1.1\r\n{head}\r\n".encode() + r.body


def _wrk_files(requests: Sequence[Prepared], host: str, threads: int) -> tuple[str, str]:
    """A data file of length-prefixed raw requests, and the Lua script sending them in turn
    (each wrk thread takes every `threads`-th one, so no two send the same request)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".req", delete=False) as data:
        for r in requests:
            raw = _raw_request(r, host)
            data.write(b"%d\n" % len(raw) + raw)
    script = f"""
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  local f = assert(io.open("{data.name}", "rb"))
  local blob = f:read("*a")
  f:close()
  reqs = {{}}
  local pos = 1
  while pos <= #blob do
    local nl = blob:find("\\n", pos, true)
    local n = tonumber(blob:sub(pos, nl - 1))
    reqs[#reqs + 1] = blob:sub(nl + 1, nl + n)
    pos = nl + n + 1
  end
  idx = tid
end
function request()
  local r = reqs[(idx % #reqs) + 1]
  idx = idx + {threads}
  return r
end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    return data.name, lua.name


_DURATION = re.compile(r"([\d.]+)(us|ms|s|m)\b")


def _ms(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _run_wrk(url: str, requests: Sequence[Prepared], connections: int, seconds: float) -> Load:
    threads = min(2, connections)
    data, script = _wrk_files(requests, urlsplit(url).netloc, threads)
    try:
        done = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(script)
        os.unlink(data)
    out = done.stdout
    if "lua" in done.stderr.lower() or "error" in done.stderr.lower():
        raise RuntimeError(f"wrk failed: {done.stderr.strip()}")
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    seconds_run = _ms(f"{total.group(2)}{total.group(3)}") / 1000
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors:.*?timeout (\d+)"):
        match = re.search(pattern, out)
        errors += int(match.group(1)) if match else 0
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    return Load(
        int(total.group(1)),
        errors,
        seconds_run,
        _ms(p50.group(1)) if p50 else float("nan"),
        _ms(p99.group(1)) if p99 else float("nan"),
        "wrk",
    )


async def _run_python(
    url: str, requests: Sequence[Prepared], connections: int, seconds: float
) -> Load:
    """The fallback load generator: `connections` aiohttp clients in a loop for `seconds`."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.monotonic() + seconds
    base = url.rstrip("/")
    connector = aiohttp.TCPConnector(limit=connections)

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal errors, counter
        while time.monotonic() < deadline:
            r = requests[counter % len(requests)]
            counter += 1
            started = time.perf_counter()
            try:
                async with http.request(
                    r.method, f"{base}{r.path}", headers=r.headers, data=r.body or None
                ) as response:
                    await response.read()
                    if response.status >= 400:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, skip_auto_headers=["User-Agent"]) as h:
        await asyncio.gather(*(client(h) for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return Load(
        len(latencies),
        errors,
        elapsed,
        pick(0.5) if latencies else float("nan"),
        pick(0.99) if latencies else float("nan"),
        "python",
    )


def load_tool() -> str:
    if os.environ.get("BENCH_NO_WRK") or shutil.which("wrk") is None:
        return "python"
    return "wrk"


async def run_load(
    url: str, requests: Sequence[Prepared], connections: int, seconds: float
) -> Load:
    """Send `requests` round-robin over `connections` connections for `seconds`."""
    if load_tool() == "wrk":
        return await asyncio.to_thread(_run_wrk, url, requests, connections, seconds)
    return await _run_python(url, requests, connections, seconds)


def announce_tool(report: Report) -> None:
    if load_tool() == "python":
        report.note(
            "wrk not found (or BENCH_NO_WRK set): using the Python load generator, which costs"
            " CPU on the same cores; rates are lower bounds"
        )
    else:
        report.note("load generator: wrk")


def arguments():
    """`--smoke` (tiny sizes, for the tests) and `--profile` (py-spy the server under load)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for the tests")
    parser.add_argument("--profile", action="store_true", help="record the server with py-spy")
    return parser.parse_args()


def run(main_coro) -> None:
    """Run a benchmark's main coroutine."""
    with suppress(KeyboardInterrupt):
        asyncio.run(main_coro)
