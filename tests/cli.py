"""Running `kith` commands from tests about the features they manage (domain blocks, block lists,
policies, ...), in the test process: the same `server.cli.main`, with its own environment and
captured output, without paying a new interpreter's start (about a second) per command.

`tests/test_cli.py` runs the command line as a real subprocess, the way an admin does; these
helpers are for everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import threading
from pathlib import Path

from server import cli

# sys.stdin, sys.stdout and sys.stderr are the process's: one command at a time.
_ONE_AT_A_TIME = threading.Lock()


def kith_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a command: this process's, without any KITH_ setting, plus `settings`
    and a data directory under `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
    env.update({"KITH_DATA_DIR": str(tmp_path / "data"), **settings})
    return env


def _run(args: list[str], env: dict[str, str], stdin: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with (
        _ONE_AT_A_TIME,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _stdin(stdin),
    ):
        try:
            code = cli.main(args, environ=env)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _stdin(text: str):
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


async def run_kith(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """Exit status, standard output and standard error of `kith ARGS` run with `env`. It runs in
    a thread with its own event loop, so servers of the test's loop can answer its requests."""
    return await asyncio.wait_for(asyncio.to_thread(_run, list(args), env, stdin or ""), timeout)


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("kith:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0]
