"""`kith domain-block add|remove|list|import|export`: instance domain blocks from the shell.

Every change goes through `server.usecases.domain_blocks`, so a CLI block has the same
effects and audit entries as one made through the admin API (actor none, reason "cli").

Import and export use Mastodon's CSV: a header
`#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate`, then one block a
line; a file without that header is a list of bare domains, one a line, each suspended. Export
adds an `#origin` column ("local", or "subscription" for blocks that block-list subscriptions
made; Mastodon ignores columns it does not know, and so does import: imported blocks are local).
`list` shows the origin after the severity. Import
is idempotent (an existing block is updated to match the line). A bad line is reported on
standard error with its number and skipped; the command fails (exit 1) only when the file had
bad lines and none was applied, so a large list with a few typos still goes in.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from typing import Any

from federation.errors import KithError
from server.cli_common import CliError, open_pool
from server.config import Config
from server.usecases import domain_blocks as service
from storage import domain_blocks as store

HEADER = [
    "#domain",
    "#severity",
    "#reject_media",
    "#reject_reports",
    "#public_comment",
    "#obfuscate",
    "#origin",
]
REASON = "cli"
_BOOLEANS = {"true": True, "false": False, "": False}


def add_domain_commands(subparsers: Any) -> None:
    """Add the `domain-block` command and its subcommands to `kith`'s parser."""
    parser = subparsers.add_parser("domain-block", help="manage instance-wide domain blocks")
    commands = parser.add_subparsers(dest="domain_command", required=True)
    add = commands.add_parser("add", help="block a domain (and its subdomains)")
    add.add_argument("domain")
    add.add_argument("--severity", choices=service.SEVERITIES, default="suspend")
    add.add_argument("--reject-media", action="store_true")
    add.add_argument("--reject-reports", action="store_true")
    add.add_argument("--obfuscate", action="store_true")
    add.add_argument("--public-comment", default="")
    add.add_argument("--private-comment", default="")
    remove = commands.add_parser("remove", help="lift a domain block")
    remove.add_argument("domain")
    commands.add_parser("list", help="list domain blocks")
    import_ = commands.add_parser("import", help="import blocks from Mastodon's CSV ('-': stdin)")
    import_.add_argument("file")
    commands.add_parser("export", help="write the blocks as Mastodon's CSV to standard output")


async def run_domain_command(config: Config, args: argparse.Namespace) -> None:
    async with open_pool(config) as pool:
        await _run(pool, args)


async def _run(pool: Any, args: argparse.Namespace) -> None:
    try:
        if args.domain_command == "add":
            await _add(pool, args)
        elif args.domain_command == "remove":
            await _remove(pool, args.domain)
        elif args.domain_command == "list":
            await _list(pool)
        elif args.domain_command == "import":
            await _import(pool, _read(args.file))
        elif args.domain_command == "export":
            sys.stdout.write(export_csv(await store.list_blocks(pool)))
    except KithError as exc:
        raise CliError(exc.message.removeprefix("Validation failed: ")) from None


async def _add(pool: Any, args: argparse.Namespace) -> None:
    fields = {
        "severity": args.severity,
        "reject_media": args.reject_media,
        "reject_reports": args.reject_reports,
        "obfuscate": args.obfuscate,
        "public_comment": args.public_comment,
        "private_comment": args.private_comment,
    }
    block = await service.create_block(pool, args.domain, fields, actor_id=None, reason=REASON)
    print(f"blocked {block['domain']} ({block['severity']})")


async def _remove(pool: Any, domain: str) -> None:
    block = await store.get_block_by_domain(pool, service.normalize_domain(domain))
    if block is None:
        raise CliError(f"{domain} is not blocked")
    await service.delete_block(pool, block["id"], actor_id=None, reason=REASON)
    print(f"unblocked {block['domain']}")


async def _list(pool: Any) -> None:
    rows = await store.list_blocks(pool)
    if not rows:
        print("no domain blocks")
    for row in rows:
        flags = [name for name in ("reject_media", "reject_reports", "obfuscate") if row[name]]
        print(
            "\t".join(
                [
                    row["domain"],
                    row["severity"],
                    row["origin"],
                    ",".join(flags),
                    row["public_comment"],
                ]
            )
        )


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8-sig") as file:
            return file.read()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def export_csv(rows: list[Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(
            [
                row["domain"],
                row["severity"],
                str(row["reject_media"]).lower(),
                str(row["reject_reports"]).lower(),
                row["public_comment"],
                str(row["obfuscate"]).lower(),
                row["origin"],
            ]
        )
    return out.getvalue()


def parse_csv(text: str) -> tuple[list[tuple[int, str, dict[str, Any]]], list[tuple[int, str]]]:
    """The blocks of an import file as (line number, domain, fields), and the bad lines' errors."""
    lines = text.splitlines()
    with_header = bool(lines) and lines[0].strip().lower().startswith("#domain")
    good: list[tuple[int, str, dict[str, Any]]] = []
    bad: list[tuple[int, str]] = []
    if not with_header:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                good.append((number, line.strip(), {"severity": "suspend"}))
        return good, bad
    header = [name.strip().lower() for name in next(csv.reader([lines[0]]))]
    for number, cells in enumerate(csv.reader(lines[1:]), start=2):
        if not any(cell.strip() for cell in cells):
            continue
        record = dict(zip(header, (cell.strip() for cell in cells), strict=False))
        try:
            good.append((number, record.get("#domain", ""), _fields(record)))
        except ValueError as exc:
            bad.append((number, str(exc)))
    return good, bad


def _fields(record: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"severity": record.get("#severity") or "suspend"}
    for name in ("reject_media", "reject_reports", "obfuscate"):
        value = record.get(f"#{name}", "").lower()
        if value not in _BOOLEANS:
            raise ValueError(f"#{name} must be true or false, not {value!r}")
        fields[name] = _BOOLEANS[value]
    fields["public_comment"] = record.get("#public_comment", "")
    return fields


async def _import(pool: Any, text: str) -> None:
    entries, bad = parse_csv(text)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for number, domain, fields in entries:
        try:
            outcome = await service.upsert_block(pool, domain, fields, actor_id=None, reason=REASON)
        except KithError as exc:
            bad.append((number, f"{domain}: {exc.message.removeprefix('Validation failed: ')}"))
            continue
        counts[outcome] += 1
    for number, error in sorted(bad):
        print(f"kith: line {number}: {error}", file=sys.stderr)
    print(", ".join(f"{n} {outcome}" for outcome, n in counts.items()) + f", {len(bad)} skipped")
    if bad and not sum(counts.values()):
        raise CliError("no line could be imported")
