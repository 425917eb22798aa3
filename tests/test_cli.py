"""The `kith` command line, run as a real subprocess the way an admin runs it."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.cli import assert_one_line_error, kith_env

KITH = [sys.executable, "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def run_kith(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *KITH,
        *args,
        env=env,
        cwd=Path(env["KITH_DATA_DIR"]).parent,  # away from any .env of the checkout
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else None), timeout
    )
    return proc.returncode, out.decode(), err.decode()


async def test_user_create_and_list(tmp_path: Path, db_dsn: str):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn, KITH_DOMAIN="kith.example")
    code, out, err = await run_kith(
        "user",
        "create",
        "alice",
        "--email",
        "alice@example.org",
        "--admin",
        "--password-stdin",
        env=env,
        stdin="a long enough password\n",
    )
    assert code == 0, err
    assert "created @alice@kith.example (admin)" in out
    assert "password:" not in out

    code, out, err = await run_kith("user", "create", "bob", "--email", "bob@example.org", env=env)
    assert code == 0, err
    generated = out.split("password: ", 1)[1].strip()
    assert len(generated) >= 16

    code, out, _ = await run_kith("user", "list", env=env)
    assert code == 0
    assert "alice\talice@example.org\tadmin" in out
    assert "bob\tbob@example.org\tuser" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["user", "create", "alice", "--email", "other@example.org"], "already been taken"),
        (["user", "create", "new", "--email", "alice@example.org"], "already been taken"),
        (["user", "create", "bad name", "--email", "x@example.org"], "username"),
        (["user", "create", "carol", "--email", "not-an-email"], "email"),
    ],
)
async def test_user_create_refuses_bad_input(tmp_path: Path, db_dsn: str, args, needle):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    code, _, err = await run_kith(
        "user", "create", "alice", "--email", "alice@example.org", env=env
    )
    assert code == 0, err
    code, _, err = await run_kith(*args, env=env)
    assert_one_line_error(code, err, needle)


async def test_short_password_from_stdin_is_refused(tmp_path: Path, db_dsn: str):
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn)
    code, _, err = await run_kith(
        "user",
        "create",
        "dave",
        "--email",
        "d@example.org",
        "--password-stdin",
        env=env,
        stdin="short\n",
    )
    assert_one_line_error(code, err, "password")


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"KITH_LISTEN": "nowhere"}, "KITH_LISTEN"),
        ({"KITH_DATABASE_URL": "mysql://db/kith"}, "KITH_DATABASE_URL"),
        ({"KITH_INSECURE_HTTP": "perhaps"}, "KITH_INSECURE_HTTP"),
        ({"KITH_DATABASE_URL": "postgresql://kith@127.0.0.1:1/kith"}, "cannot connect"),
    ],
)
async def test_bad_settings_stop_with_one_line(tmp_path: Path, settings, needle):
    code, _, err = await run_kith("migrate", env=kith_env(tmp_path, **settings))
    assert_one_line_error(code, err, needle)


async def test_migrate_with_the_embedded_database(tmp_path: Path):
    """No database URL: the embedded PostgreSQL starts under the data directory, and a second
    run reuses it."""
    env = kith_env(tmp_path)
    code, out, err = await run_kith("migrate", env=env)
    assert code == 0, err
    assert "applied" in out
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
    code, out, err = await run_kith("migrate", env=env)
    assert code == 0, err
    assert "up to date" in out


async def test_serve_answers_and_stops_on_sigterm(tmp_path: Path, db_dsn: str):
    port = free_port()
    env = kith_env(
        tmp_path,
        KITH_DATABASE_URL=db_dsn,
        KITH_LISTEN=f"127.0.0.1:{port}",
        KITH_DOMAIN=f"127.0.0.1:{port}",
        KITH_INSECURE_HTTP="1",
    )
    proc = await asyncio.create_subprocess_exec(
        *KITH,
        "serve",
        env=env,
        cwd=str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        status = None
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/api/v1/instance") as r:
                        status = r.status
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "Create the first admin" in out.decode()


async def test_serve_reports_a_port_in_use(tmp_path: Path, db_dsn: str):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn, KITH_LISTEN=f"127.0.0.1:{port}")
        code, _, err = await run_kith("serve", env=env)
    assert_one_line_error(code, err, "KITH_LISTEN", str(port))
