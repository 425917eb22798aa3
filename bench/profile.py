"""Profile a server process under load with py-spy (the `[bench]` extra installs it).

`python -m bench.profile PID SECONDS NAME` records PID for SECONDS into
`docs/bench/profile-NAME.txt` (collapsed stacks) and prints the functions with the most samples,
by own time and by inclusive time. The benchmark scripts call `profile_during` when `--profile`
is given.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.common import ROOT

OUT = ROOT / "docs" / "bench"


def available() -> bool:
    return shutil.which("py-spy") is not None or (Path(sys.executable).parent / "py-spy").exists()


def _py_spy() -> str:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else "py-spy"


def record(pid: int, seconds: float, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"profile-{name}.txt"
    subprocess.run(
        [
            _py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "250",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return path


def summarise(path: Path, top: int = 25) -> str:
    """Own and inclusive sample shares per function, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [f.split(" (", 1)[0] + " " + _where(f) for f in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append("inclusive time (our code and the libraries under it):")
    ours = [
        (f, n)
        for f, n in inclusive.most_common(400)
        if any(p in f for p in ("federation/", "server/", "storage/", "asyncpg", "aiohttp/web"))
    ]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in ours[:top]]
    return "\n".join(lines)


def _where(frame: str) -> str:
    if " (" not in frame:
        return ""
    location = frame.split(" (", 1)[1].rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in location:
            location = location.split(marker, 1)[1]
    return f"({location})"


async def profile_during(pid: int, seconds: float, name: str) -> asyncio.Task[Path]:
    """Start recording `pid` now, in a thread; await the task for the file."""
    return asyncio.create_task(asyncio.to_thread(record, pid, seconds, name))


def summary_file(path: Path) -> str:
    """Summarise `path` and keep the summary beside it (`profile-NAME-summary.txt`)."""
    text = summarise(path)
    path.with_name(path.stem + "-summary.txt").write_text(text + "\n")
    return text


if __name__ == "__main__":
    pid, seconds, name = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    print(summary_file(record(pid, seconds, name)))
