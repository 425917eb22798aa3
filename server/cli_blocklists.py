"""`kith blocklist`: block-list subscriptions from the shell.

    kith blocklist subscribe URL [--max-severity noop|silence|suspend] [--mode auto|review]
                                 [--interval-hours N]
    kith blocklist list
    kith blocklist refresh ID
    kith blocklist unsubscribe ID
    kith blocklist pending ID
    kith blocklist approve|reject ID CHANGE_ID

Every action goes through `federation.blocklists`, as the admin API's do (actor none, reason
"cli"). `subscribe` fetches the list at once, so a wrong URL shows immediately (the
subscription stays, and is retried on schedule); `refresh` does too. Bad input, and a list that
could not be fetched, end with one line on standard error and exit status 1.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from federation.context import Federation
from federation.errors import KithError
from federation.urls import LocalUrls
from server.cli_common import CliError, open_pool
from server.composition import open_federation
from server.config import Config
from server.params import parse_id
from server.usecases.blocklists import refresh
from server.usecases.blocklists import subscriptions as service
from storage import blocklist_subscriptions as store

COMMANDS: frozenset[str] = frozenset({"blocklist"})
REASON = "cli"


def add_commands(subparsers: Any) -> None:
    """Add `blocklist` and its subcommands to `kith`'s parser."""
    parser = subparsers.add_parser("blocklist", help="manage block-list subscriptions")
    commands = parser.add_subparsers(dest="blocklist_command", required=True)
    subscribe = commands.add_parser("subscribe", help="subscribe to a shared block list")
    subscribe.add_argument("url")
    subscribe.add_argument("--max-severity", help="noop, silence or suspend (default suspend)")
    subscribe.add_argument("--mode", help="auto (default) or review")
    subscribe.add_argument("--interval-hours", help="hours between refreshes (default 24)")
    commands.add_parser("list", help="list subscriptions")
    for name, text in (
        ("refresh", "fetch a subscribed list now"),
        ("unsubscribe", "unsubscribe and retract the list's blocks"),
        ("pending", "list the changes a review-mode subscription holds"),
    ):
        commands.add_parser(name, help=text).add_argument("id")
    for name in ("approve", "reject"):
        decide = commands.add_parser(name, help=f"{name} a held change")
        decide.add_argument("id")
        decide.add_argument("change_id")


async def run(config: Config, args: argparse.Namespace) -> None:
    """Run one `kith blocklist` subcommand."""
    async with open_pool(config) as pool:
        try:
            await _run(config, pool, args)
        except KithError as exc:
            if exc.status == 404 and hasattr(args, "change_id"):
                raise CliError(f"no change {args.change_id} in subscription {args.id}") from None
            if exc.status == 404:
                raise CliError(f"no subscription {args.id}") from None
            raise CliError(exc.message.removeprefix("Validation failed: ")) from None


async def _run(config: Config, pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    command = args.blocklist_command
    if command == "list":
        _print_list(await store.list_subscriptions(pool))
        return
    if command == "subscribe":
        row = await service.subscribe(
            pool,
            args.url,
            _settings(args),
            actor_id=None,
            allow_http=config.allow_private_addresses,
            reason=REASON,
        )
        print(f"subscribed {row['id']} to {row['url']}")
        async with _federation(config, pool) as fed:
            _print_refresh(await refresh(fed, row["id"]))
        return
    subscription_id = _id(args.id, "subscription")
    if command == "refresh":
        async with _federation(config, pool) as fed:
            _print_refresh(await refresh(fed, subscription_id))
    elif command == "unsubscribe":
        counts = await service.unsubscribe(pool, subscription_id, actor_id=None, reason=REASON)
        print(f"unsubscribed {subscription_id}: {counts['retracted']} block(s) retracted")
    elif command == "pending":
        _print_pending(await _changes(pool, subscription_id))
    elif command in ("approve", "reject"):
        change_id = _id(args.change_id, "change")
        if command == "approve":
            await service.approve(pool, subscription_id, change_id, actor_id=None, reason=REASON)
        else:
            await service.reject(pool, subscription_id, change_id, actor_id=None, reason=REASON)
        print(f"{command}d change {change_id}")


def _id(text: str, what: str) -> int:
    value = parse_id(text)
    if value is None:
        raise CliError(f"{text!r} is not a {what} id")
    return value


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if args.max_severity is not None:
        settings["max_severity"] = args.max_severity
    if args.mode is not None:
        settings["mode"] = args.mode
    if args.interval_hours is not None:
        try:
            settings["interval_hours"] = int(args.interval_hours)
        except ValueError:
            raise CliError(
                f"--interval-hours must be a whole number, not {args.interval_hours!r}"
            ) from None
    return settings


@asynccontextmanager
async def _federation(config: Config, pool: asyncpg.Pool) -> AsyncIterator[Federation]:
    """Enough of a `Federation` to fetch lists with, as the server would."""
    async with open_federation(config, pool, LocalUrls(config.base_url)) as federation:
        yield federation


async def _changes(pool: asyncpg.Pool, subscription_id: int) -> list[asyncpg.Record]:
    if await store.get_subscription(pool, subscription_id) is None:
        raise CliError(f"no subscription {subscription_id}")
    return await store.changes(pool, subscription_id, state="pending")


def _print_list(rows: list[asyncpg.Record]) -> None:
    if not rows:
        print("no subscriptions")
    for row in rows:
        state = f"error: {row['last_error']}" if row["last_error"] else "ok"
        print(
            "\t".join(
                [
                    str(row["id"]),
                    row["url"],
                    f"max {row['max_severity']}",
                    row["mode"],
                    f"every {row['interval_hours']}h",
                    f"{row['entries_count']} entries",
                    f"{row['pending_count']} pending",
                    state,
                ]
            )
        )


def _print_refresh(row: asyncpg.Record) -> None:
    """The outcome of a refresh; a failed one is an error (the last good copy stays)."""
    if row["last_error"]:
        raise CliError(
            f"refreshing {row['id']} failed: {row['last_error']}"
            f" (kept the last good copy: {row['entries_count']} entries)"
        )
    print(
        f"refreshed {row['id']} ({row['format']}): {row['entries_count']} entries,"
        f" {row['pending_count']} pending, {row['obfuscated_count']} obfuscated and"
        f" {row['invalid_count']} invalid skipped"
    )


def _print_pending(rows: list[asyncpg.Record]) -> None:
    if not rows:
        print("no pending changes")
    for row in rows:
        severity = row["severity"] or ""
        previous = row["previous_severity"] or ""
        print("\t".join([str(row["id"]), row["action"], row["domain"], previous, severity]))
