"""The benchmarks of `bench/` (run by `make bench`, never by `make test`) in smoke mode: tiny
sizes, so they cannot rot. They share one embedded PostgreSQL, run side by side, use the Python
load generator (no wrk needed) and draw no plots (no matplotlib needed)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench.run_all import BENCHMARKS
from storage.embedded import start_embedded

ROOT = Path(__file__).resolve().parent.parent

# Figures every smoke run must produce (a renamed or lost figure fails here).
EXPECTED = {
    "references": ["RSA-2048 sign (cryptography), 1 core", "COPY into PostgreSQL"],
    "inbox": ["inbox accepted, 64 conns", "RSA verifications per accepted POST, 64 conns"],
    "timelines": ["home timeline pages/s, 8 conns", "statements (round trips) per page"],
    "fanout": ["all live: live servers reached", "all live: deliveries per inbox reached"],
    "memory": ["kith serve RSS at steady state", "RSS above steady state once drained"],
    "sigkill": ["accepted activities not processed", "inboxes that received the post"],
    "media": [
        "1 MP JPEG upload, one at a time (median)",
        "home timeline p99, 8 conns, while 4 clients upload",
        "web process RSS added by 3 simultaneous uploads (peak)",
    ],
}
# Outcomes that do not depend on the machine's speed, checked even at smoke sizes.
MUST_PASS = {
    "references": ["verify-only handler errors"],
    "fanout": ["all live: live servers reached", "all live: deliveries per inbox reached"],
    "sigkill": ["accepted activities not processed", "jobs left after the drain"],
}


MAX_CONNECTIONS = 400


@pytest.fixture(scope="module")
def shared_postgres():
    root = Path(tempfile.mkdtemp(prefix="kith-bench-smoke-"))
    server = start_embedded(root / "data")
    # Six benchmarks side by side, each with its server's and worker's pools, open more than the
    # default 100 connections; the setting takes a restart.
    server.psql(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS};")
    server.cleanup()
    server = start_embedded(root / "data")
    yield server.get_uri(), root / "data"
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def smoke_results(shared_postgres, tmp_path_factory) -> dict[str, tuple[int, str, dict | None]]:
    """Run every benchmark with --smoke, side by side; (exit status, output, JSON) by name."""
    results = tmp_path_factory.mktemp("bench-results")
    dsn, data = shared_postgres
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BENCH_NO_WRK": "1",
        "BENCH_RESULTS": str(results),
        "BENCH_PG_DSN": dsn,
        "BENCH_PG_DATA": str(data),
    }
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", f"bench.{name}", "--smoke"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in BENCHMARKS
    }
    out = {}
    for name, process in running.items():
        try:
            output, _ = process.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        path = results / f"{name}-smoke.json"
        out[name] = (
            process.returncode,
            output,
            json.loads(path.read_text()) if path.exists() else None,
        )
    return out


def _problems(name: str, status: int, output: str, result: dict | None) -> list[str]:
    """What is wrong with one benchmark's smoke run (nothing when it ran as it must)."""
    if status != 0:
        return [f"{name}: exit status {status}\n{output[-3000:]}"]
    if result is None or result["smoke"] is not True:
        return [f"{name}: no smoke result\n{output[-2000:]}"]
    problems = []
    figures = {f["label"]: f for f in result["figures"]}
    for label in EXPECTED[name]:
        if label not in figures:
            problems.append(f"{name}: no figure {label!r}")
        elif not math.isfinite(figures[label]["value"]):
            problems.append(f"{name}: {figures[label]}")
    for label in MUST_PASS.get(name, []):
        if label in figures and figures[label]["passed"] is not True:
            problems.append(f"{name}: {figures[label]}\n{output[-3000:]}")
    if "Python load generator" not in output and name != "fanout":
        problems.append(f"{name}: did not say it used the Python load generator")
    return problems


# One test for all benchmarks, not one per benchmark: they share one smoke run (the suite's most
# expensive step), and a test process runs a module's fixtures itself, so tests spread over two
# xdist processes would run it twice.
def test_every_benchmark_runs_in_smoke_mode_with_its_ratios(smoke_results) -> None:
    problems = [
        problem
        for name, (status, output, result) in smoke_results.items()
        for problem in _problems(name, status, output, result)
    ]
    assert not problems, "\n\n".join(problems)
    assert set(smoke_results) == set(EXPECTED)
    _check_ratios(smoke_results)


def _check_ratios(smoke_results: dict[str, tuple[int, str, dict | None]]) -> None:
    """A figure that names a reference carries the ratio to it, so a noisy machine's absolute
    numbers never stand alone."""
    checked = 0
    for _status, _output, result in smoke_results.values():
        for figure in (result or {"figures": []})["figures"]:
            if figure["reference"] is not None and figure["reference_value"]:
                assert figure["ratio"] == pytest.approx(
                    figure["value"] / figure["reference_value"], rel=1e-2, abs=1e-3
                )
                checked += 1
    assert checked >= 10
