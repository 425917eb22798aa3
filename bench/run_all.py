"""`make bench`: run every benchmark (each in its own process, one after the other), keep their
JSON under `bench/results/`, and draw the plots under `docs/bench/` when matplotlib is
installed (the `[bench]` extra).

`python -m bench.run_all [--smoke] [--profile] [--only NAME ...]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.common import RESULTS, ROOT

BENCHMARKS = ["references", "inbox", "timelines", "fanout", "memory", "sigkill", "media"]
PROFILED = ("inbox", "timelines")
PLOTS = ROOT / "docs" / "bench"


def _load(name: str, smoke: bool) -> dict | None:
    path = RESULTS / f"{name}{'-smoke' if smoke else ''}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _value(result: dict, label: str) -> float | None:
    for figure in result["figures"]:
        if figure["label"] == label:
            return figure["value"]
    return None


def _reference(result: dict, label: str) -> float | None:
    for figure in result["figures"]:
        if figure["label"] == label:
            return figure["reference_value"]
    return None


def plot(smoke: bool) -> list[str]:
    """Latency and rate against concurrency (inbox), and cost against followers (timelines)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plots drawn")
        return []
    PLOTS.mkdir(parents=True, exist_ok=True)
    drawn = []
    inbox = _load("inbox", smoke)
    if inbox:
        conns, rate, ref, p99, ref_p99 = [], [], [], [], []
        for c in (8, 16, 32, 64):
            accepted = _value(inbox, f"inbox accepted, {c} conns")
            if accepted is None:
                continue
            conns.append(c)
            rate.append(accepted)
            ref.append(_value(inbox, f"verify-only reference, {c} conns"))
            p99.append(_value(inbox, f"inbox p99, {c} conns"))
            ref_p99.append(_reference(inbox, f"inbox p99, {c} conns"))
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.plot(conns, rate, "o-", label="Kith inbox (accepted + enqueued)")
        left.plot(conns, ref, "s--", label="bare verify-only handler")
        left.plot(conns, [0.25 * r for r in ref], ":", label="target: 25% of verify-only")
        left.set_xlabel("connections")
        left.set_ylabel("requests/s")
        left.set_xscale("log", base=2)
        left.legend(fontsize=8)
        right.plot(conns, p99, "o-", label="Kith inbox p99")
        right.plot(conns, ref_p99, "s--", label="bare verify-only p99")
        right.plot(
            conns,
            [1000 * c / r for c, r in zip(conns, rate, strict=True)],
            ":",
            label="Kith mean by Little's law (conns / rate)",
        )
        right.axhline(20, linestyle=":", label="target at 64 conns: 20 ms")
        right.set_xlabel("connections")
        right.set_ylabel("p99 latency (ms)")
        right.set_xscale("log", base=2)
        right.legend(fontsize=8)
        fig.suptitle(f"Inbox: rate and p99 against concurrency ({inbox['date'][:10]})")
        fig.tight_layout()
        name = PLOTS / f"inbox-concurrency{'-smoke' if smoke else ''}.png"
        fig.savefig(name, dpi=100)
        plt.close(fig)
        drawn.append(str(name))
    timelines = _load("timelines", smoke)
    if timelines:
        sizes, api, landed = [], [], []
        for figure in timelines["figures"]:
            label = figure["label"]
            if label.startswith("post to ") and label.endswith(": in every home feed"):
                size = int(label.split()[2])
                sizes.append(size)
                landed.append(figure["value"])
                api.append(_value(timelines, f"post to {size} local followers: API answer"))
        fig, axis = plt.subplots(figsize=(6, 4))
        axis.plot(sizes, landed, "o-", label="in every home feed")
        axis.plot(sizes, api, "s--", label="API answer")
        axis.axhline(500, linestyle=":", label="target: 500 ms at 20,000")
        axis.set_xlabel("local followers")
        axis.set_ylabel("ms")
        axis.legend(fontsize=8)
        axis.set_title("Home-feed fan-out: cost against followers")
        fig.tight_layout()
        name = PLOTS / f"fanout-followers{'-smoke' if smoke else ''}.png"
        fig.savefig(name, dpi=100)
        plt.close(fig)
        drawn.append(str(name))
    return drawn


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS)
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the server in inbox and timelines"
    )
    args = parser.parse_args()
    failed = []
    for name in args.only or BENCHMARKS:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                f"bench.{name}",
                *(["--smoke"] if args.smoke else []),
                *(["--profile"] if args.profile and name in PROFILED else []),
            ],
            cwd=ROOT,
        )
        print(f"== {name}: {time.monotonic() - started:.0f} s", flush=True)
        if done.returncode != 0:
            failed.append(name)
    for path in plot(args.smoke):
        print(f"plot: {path}")
    if failed:
        print(f"benchmarks that crashed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
