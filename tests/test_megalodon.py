"""megalodon (npm, the library behind several fediverse apps) against a live Kith: its
`detector()` must pick its Mastodon client, which then reads the home timeline and posts.

The packages come from `npm ci` in tests/megalodon_client (`make test` runs it); without them
or without Node.js the test fails, saying what is missing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.members import create_member

if TYPE_CHECKING:
    from tests.live_server import LiveServer

pytest_plugins = ["tests.live_server"]

CLIENT_DIR = Path(__file__).resolve().parent / "megalodon_client"
TIMEOUT = 60


def _node_or_fail() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not installed: the megalodon test needs `node` (20.18 or later)")
    if not (CLIENT_DIR / "node_modules" / "megalodon" / "package.json").is_file():
        pytest.fail(
            f"megalodon is not installed: run `make test`, or `npm ci --prefix {CLIENT_DIR}`"
        )
    return node


async def test_megalodon_detects_kith_and_uses_its_mastodon_client(live_server: LiveServer):
    node = _node_or_fail()
    _, token = await create_member(live_server.app, "alice")
    process = await asyncio.create_subprocess_exec(
        node,
        str(CLIENT_DIR / "client.mjs"),
        live_server.url,
        token,
        "Hello from megalodon",
        cwd=CLIENT_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode()[-2000:]
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["sns"] == "mastodon"
    assert result["me"] == "alice"
    assert result["homeBefore"] == 0
    assert result["posted"]["content"] == "<p>Hello from megalodon</p>"
    assert result["homeAfter"] == [result["posted"]["id"]]
