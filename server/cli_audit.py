"""`kith audit-log [--action A] [--limit N]`: the audit log for operators at the console."""

from __future__ import annotations

import argparse
import json

from server.cli_common import open_pool
from server.config import Config
from storage import audit
from storage.pagination import Page


def add_audit_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audit-log", help="list staff actions, newest first")
    parser.add_argument("--action", help='only this action, e.g. "account.suspend"')
    parser.add_argument("--limit", type=int, default=50, help="how many entries (default 50)")


async def run_audit_command(config: Config, args: argparse.Namespace) -> None:
    async with open_pool(config) as pool:
        rows = await audit.list_entries(pool, Page(limit=max(1, args.limit)), action=args.action)
    if not rows:
        print("no entries")
    for row in rows:
        actor = row["actor_username"] or "(automatic)"
        target = f"{row['target_type']}:{row['target_id']}"
        detail = json.dumps(row["detail"], sort_keys=True) if row["detail"] else ""
        line = f"{row['created_at'].isoformat()}\t{actor}\t{row['action']}\t{target}"
        print("\t".join(filter(None, [line, row["reason"], detail])))
