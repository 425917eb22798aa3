"""`kith policy`: the incoming-content policy pipeline from the shell.

    kith policy list
    kith policy add KIND --config JSON [--dry-run] [--disabled] [--position N]
    kith policy remove|enable|disable ID
    kith policy dry-run ID on|off
    kith policy decisions [--limit N]
    kith policy held
    kith policy release|discard ID
    kith policy nodeinfo on|off

Every change goes through `server.usecases.policies`, as the admin API's do (actor none, reason
"cli"). Bad input (an unknown kind, a config its schema refuses, a bad regular expression, an
unknown id) ends with one line on standard error and exit status 1.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import asyncpg

from federation.errors import KithError
from federation.policies.kinds import KINDS
from server.cli_common import CliError, open_pool
from server.config import Config
from server.params import parse_id
from server.usecases import policies as service
from storage import policies as store
from storage.pagination import Page

COMMANDS: frozenset[str] = frozenset({"policy"})
REASON = "cli"
_SWITCH = {"on": True, "off": False}


def add_commands(subparsers: Any) -> None:
    """Add `policy` and its subcommands to `kith`'s parser."""
    parser = subparsers.add_parser("policy", help="manage the incoming-content policies")
    commands = parser.add_subparsers(dest="policy_command", required=True)
    commands.add_parser("list", help="list the policies in pipeline order")
    add = commands.add_parser("add", help=f"add a policy ({', '.join(sorted(KINDS))})")
    add.add_argument("kind")
    add.add_argument("--config", required=True, help="the policy's configuration as JSON")
    add.add_argument("--dry-run", action="store_true", help="record decisions, change nothing")
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    add.add_argument("--position", help="1-based place in the pipeline (default: last)")
    for name, text in (
        ("remove", "delete a policy"),
        ("enable", "switch a policy on"),
        ("disable", "switch a policy off"),
        ("release", "let a held activity through"),
        ("discard", "drop a held activity"),
    ):
        commands.add_parser(name, help=text).add_argument("id")
    dry_run = commands.add_parser("dry-run", help="switch a policy's dry run on or off")
    dry_run.add_argument("id")
    dry_run.add_argument("switch", choices=sorted(_SWITCH))
    decisions = commands.add_parser("decisions", help="list recent decisions, newest first")
    decisions.add_argument("--limit", type=int, default=50)
    commands.add_parser("held", help="list activities held for review")
    nodeinfo = commands.add_parser("nodeinfo", help="publish the policies in NodeInfo or not")
    nodeinfo.add_argument("switch", choices=sorted(_SWITCH))


async def run(config: Config, args: argparse.Namespace) -> None:
    """Run one of `COMMANDS`."""
    async with open_pool(config) as pool:
        try:
            await _run(pool, args)
        except KithError as exc:
            raise CliError(exc.message.removeprefix("Validation failed: ")) from None


async def _run(pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    command = args.policy_command
    if command == "list":
        _print_policies(await store.list_policies(pool))
    elif command == "add":
        await _add(pool, args)
    elif command == "remove":
        policy = await service.delete_policy(pool, _id(args.id), actor_id=None, reason=REASON)
        print(f"removed policy {policy['id']} ({policy['kind']})")
    elif command in ("enable", "disable", "dry-run"):
        fields = (
            {"enabled": command == "enable"}
            if command != "dry-run"
            else {"dry_run": _SWITCH[args.switch]}
        )
        policy = await service.update_policy(
            pool, _id(args.id), fields, actor_id=None, reason=REASON
        )
        _print_policies([policy])
    elif command == "decisions":
        _print_decisions(await store.list_decisions(pool, Page(limit=max(1, args.limit))))
    elif command == "held":
        _print_held(await store.list_held(pool, Page(limit=200)))
    elif command in ("release", "discard"):
        act = service.release if command == "release" else service.discard
        held = await act(pool, _id(args.id), actor_id=None, reason=REASON)
        print(f"{command}d {held['activity_uri']}")
    elif command == "nodeinfo":
        await service.set_publication(pool, _SWITCH[args.switch], actor_id=None, reason=REASON)
        print(f"policies {'published' if _SWITCH[args.switch] else 'not published'} in NodeInfo")


async def _add(pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    service.check_kind(args.kind)
    try:
        config = json.loads(args.config)
    except json.JSONDecodeError as exc:
        raise CliError(f"--config is not valid JSON: {exc.msg}") from None
    position = None
    if args.position is not None:
        if not args.position.isdigit():
            raise CliError(f"--position must be a positive integer, not {args.position!r}")
        position = int(args.position)
    policy = await service.create_policy(
        pool,
        args.kind,
        config,
        position=position,
        enabled=not args.disabled,
        dry_run=args.dry_run,
        actor_id=None,
        reason=REASON,
    )
    print(f"added policy {policy['id']} ({policy['kind']}) at position {policy['position']}")


def _id(text: str) -> int:
    value = parse_id(text)
    if value is None:
        raise CliError(f"{text!r} is not an id")
    return value


def _print_policies(rows: list[Any]) -> None:
    if not rows:
        print("no policies")
    for row in rows:
        flags = ["enabled" if row["enabled"] else "disabled"] + (
            ["dry-run"] if row["dry_run"] else []
        )
        config = json.dumps(row["config"], sort_keys=True)
        print(
            "\t".join([str(row["id"]), str(row["position"]), row["kind"], ",".join(flags), config])
        )


def _print_decisions(rows: list[Any]) -> None:
    if not rows:
        print("no decisions")
    for row in rows:
        action = f"{row['action']} (dry run)" if row["dry_run"] else row["action"]
        fields = [row["created_at"].isoformat(), row["policy_kind"], action, row["activity_uri"]]
        print("\t".join([*fields, row["reason"]]))


def _print_held(rows: list[Any]) -> None:
    if not rows:
        print("no held activities")
    for row in rows:
        fields = [str(row["id"]), row["created_at"].isoformat(), row["type"], row["actor_uri"]]
        print("\t".join([*fields, row["activity_uri"], row["reason"]]))
