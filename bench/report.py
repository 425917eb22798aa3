"""Print the results under `bench/results/` as the Markdown table of docs/BENCHMARKS.md:
`python -m bench.report [--smoke]`."""

from __future__ import annotations

import argparse
import json

from bench.common import RESULTS
from bench.run_all import BENCHMARKS


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def table(smoke: bool) -> str:
    lines = [
        "| benchmark | figure | value | reference (same run) | ratio | target | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in BENCHMARKS:
        path = RESULTS / f"{name}{'-smoke' if smoke else ''}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        for f in result["figures"]:
            reference = (
                f"{f['reference']}: {_number(f['reference_value'])}" if f["reference"] else ""
            )
            verdict = {True: "pass", False: "**FAIL**", None: ""}[f["passed"]]
            lines.append(
                f"| {name} | {f['label']} | {_number(f['value'])} {f['unit']} | {reference}"
                f" | {_number(f['ratio']) if f['ratio'] is not None else ''}"
                f" | {f['target'] or ''} | {verdict} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    print(table(parser.parse_args().smoke))
