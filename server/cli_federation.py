"""`kith federation show|mode|authorized-fetch|remote-media`, `kith domain-allow add|remove|list`.

Every change goes through `server.usecases` (`federation_settings`, `domain_blocks`), so it
has the same effects and audit entries as one made through the admin API (actor none, reason
"cli"). Allowlist mode with no allowed domain refuses every other server: the CLI says so on
standard error when it is switched on that way, and when the last allow is removed in it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import asyncpg

from federation.errors import KithError
from server.cli_common import CliError, open_pool
from server.config import Config
from server.usecases import domain_blocks as allows
from server.usecases import federation_settings as service
from storage import domain_blocks as store

COMMANDS: frozenset[str] = frozenset({"federation", "domain-allow"})
REASON = "cli"
CUT_OFF = (
    "kith: warning: allowlist mode with no allowed domain: this instance federates with no one "
    "(add some with `kith domain-allow add DOMAIN`)"
)


def add_commands(subparsers: Any) -> None:
    """Add this module's commands to `kith`'s parser."""
    federation = subparsers.add_parser("federation", help="how this instance federates")
    commands = federation.add_subparsers(dest="federation_command", required=True)
    commands.add_parser("show", help="show the federation mode and authorized fetch")
    mode = commands.add_parser("mode", help="federate with everyone, or allowed domains only")
    mode.add_argument("mode", choices=service.MODES)
    fetch = commands.add_parser(
        "authorized-fetch", help="require signed requests for ActivityPub documents"
    )
    fetch.add_argument("state", choices=("on", "off"))
    media = commands.add_parser(
        "remote-media", help="show remote attachments from their origin, or cache them here"
    )
    media.add_argument("remote_media", choices=service.REMOTE_MEDIA_MODES)

    allow = subparsers.add_parser("domain-allow", help="manage the domains allowlist mode admits")
    allow_commands = allow.add_subparsers(dest="allow_command", required=True)
    add = allow_commands.add_parser("add", help="allow a domain (and its subdomains)")
    add.add_argument("domain")
    remove = allow_commands.add_parser("remove", help="remove a domain's allow")
    remove.add_argument("domain")
    allow_commands.add_parser("list", help="list allowed domains")


async def run(config: Config, args: argparse.Namespace) -> None:
    """Run one of `COMMANDS`."""
    async with open_pool(config) as pool:
        try:
            if args.command == "federation":
                await _federation(pool, args)
            else:
                await _domain_allow(pool, args)
        except KithError as exc:
            raise CliError(exc.message.removeprefix("Validation failed: ")) from None


async def _federation(pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    if args.federation_command == "mode":
        settings = await service.change(pool, mode=args.mode, actor_id=None, reason=REASON)
    elif args.federation_command == "authorized-fetch":
        settings = await service.change(
            pool, authorized_fetch=args.state == "on", actor_id=None, reason=REASON
        )
    elif args.federation_command == "remote-media":
        settings = await service.change(
            pool, remote_media=args.remote_media, actor_id=None, reason=REASON
        )
    else:
        settings = await service.current(pool)
    _show(settings)


def _show(settings: service.FederationSettings) -> None:
    fetch = "on" if settings.authorized_fetch else "off"
    if settings.authorized_fetch_effective and not settings.authorized_fetch:
        fetch += " (on while in allowlist mode)"
    print(f"mode: {settings.mode}")
    print(f"authorized fetch: {fetch}")
    print(f"allowed domains: {settings.allows}")
    print(f"remote media: {settings.remote_media}")
    if settings.mode == "allowlist" and settings.allows == 0:
        print(CUT_OFF, file=sys.stderr)


async def _domain_allow(pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    if args.allow_command == "add":
        allow = await allows.create_allow(pool, args.domain, actor_id=None, reason=REASON)
        print(f"allowed {allow['domain']}")
    elif args.allow_command == "remove":
        domain = allows.normalize_domain(args.domain)
        found = [row for row in await store.list_allows(pool) if row["domain"] == domain]
        if not found:
            raise CliError(f"{domain} is not allowed")
        await allows.delete_allow(pool, found[0]["id"], actor_id=None, reason=REASON)
        print(f"removed {domain}")
        settings = await service.current(pool)
        if settings.mode == "allowlist" and settings.allows == 0:
            print(CUT_OFF, file=sys.stderr)
    else:
        rows = await store.list_allows(pool)
        if not rows:
            print("no allowed domains")
        for row in rows:
            print(row["domain"])
