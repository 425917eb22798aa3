"""toot 0.52, the command-line client, against a real Kith server on a TCP port.

toot runs as a subprocess (its console script from this virtualenv) with its configuration and
cache in per-test directories, while the server answers on the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from server.config import VERSION_STRING
from server.state import POOL

if TYPE_CHECKING:
    from tests.live_server import LiveServer

pytest_plugins = ["tests.live_server"]

TOOT = Path(sys.executable).parent / "toot"


class Toot:
    """Runs `toot` with a private configuration directory."""

    def __init__(self, home: Path) -> None:
        self.config_dir = home / "config"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(self.config_dir),
            "XDG_CACHE_HOME": str(home / "cache"),
            "NO_COLOR": "1",
            "COLUMNS": "120",
        }

    async def __call__(self, *args: str) -> str:
        """toot's standard output; a non-zero exit fails the test with what toot printed."""
        process = await asyncio.create_subprocess_exec(
            str(TOOT),
            *args,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        out, err = stdout.decode(), stderr.decode()
        assert process.returncode == 0, (
            f"toot {' '.join(args)} exited {process.returncode}:\n{out}{err}"
        )
        return out

    def saved_config(self) -> dict:
        return json.loads((self.config_dir / "toot" / "config.json").read_text())


async def test_login_post_and_read_timeline(live_server: LiveServer, tmp_path: Path):
    login = await live_server.create_login("alice")
    toot = Toot(tmp_path)
    domain = live_server.config.domain

    out = await toot("login_cli", "-i", live_server.url, "-e", login.email, "-p", login.password)
    assert "Successfully logged in" in out
    saved = toot.saved_config()
    assert domain in saved["apps"]  # keyed by the `uri` of GET /api/v1/instance
    assert saved["active_user"] == f"alice@{domain}"

    assert "alice" in await toot("whoami")

    out = await toot("post", "Hello from toot")
    assert "Toot posted" in out

    assert "Hello from toot" in await toot("timeline", "--once")
    assert "Hello from toot" in await toot("timeline", "--public", "--once")


async def test_instance_details(live_server: LiveServer, tmp_path: Path):
    await live_server.create_login("harbour_admin", role="admin")
    await live_server.app[POOL].execute(
        "INSERT INTO rules (text, hint) VALUES ('Be kind to each other', '')"
    )
    out = await Toot(tmp_path)("instance", live_server.url)
    lines = out.splitlines()
    assert lines[:3] == ["Kith", live_server.config.domain, f"running Mastodon {VERSION_STRING}"]
    assert "1. Be kind to each other" in lines
    # toot prints the contact as "Contact: DISPLAY_NAME @ACCT"; the display name is empty here.
    assert "Contact:  @harbour_admin" in lines
