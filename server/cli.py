"""The `kith` command line: serve, worker, migrate, user management.

Every failure a user can cause (a bad setting, a taken name, an unreachable database, a port in
use) ends with one line on standard error and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import signal
import sys
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

import uvloop

from federation.errors import KithError
from federation.urls import LocalUrls
from server import cli_blocklists, cli_federation, cli_policies, cli_registrations
from server.cli_audit import add_audit_commands, run_audit_command
from server.cli_common import CliError, open_pool
from server.cli_domains import add_domain_commands, run_domain_command
from server.composition import database_url, prepare_database
from server.config import VERSION_STRING, Config, ConfigError, load_config
from server.usecases.actors import Actor
from server.usecases.sign_up import SignUpForm, sign_up
from storage import accounts as account_store
from storage.db import DatabaseUnavailable
from storage.embedded import EmbeddedDatabaseError

log = logging.getLogger("kith")


def run_async(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on uvloop: its event loop roughly halves the cost of each database round trip
    and HTTP request compared with asyncio's default loop (see docs/BENCHMARKS.md)."""
    uvloop.run(main)


# Subcommand modules: each has `COMMANDS` (its top-level command names), `add_commands(subparsers)`
# and `async def run(config, args)`.
PLUGGED_IN = (cli_blocklists, cli_policies, cli_federation, cli_registrations)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kith", description="Kith, a fediverse server")
    parser.add_argument("--version", action="version", version=VERSION_STRING)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the web app with a background worker")
    commands.add_parser("worker", help="run background jobs only")
    commands.add_parser("migrate", help="apply database migrations")

    user = commands.add_parser("user", help="manage local accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create = user_commands.add_parser("create", help="create a local account")
    create.add_argument("username")
    create.add_argument("--email", required=True)
    role = create.add_mutually_exclusive_group()
    role.add_argument("--admin", action="store_true", help="give the account the admin role")
    role.add_argument("--moderator", action="store_true", help="give it the moderator role")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of generating one",
    )
    user_commands.add_parser("list", help="list local accounts")
    add_domain_commands(commands)
    add_audit_commands(commands)
    for module in PLUGGED_IN:
        module.add_commands(commands)
    return parser


def _read_password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("no password on standard input")
    return password


async def _user_create(config: Config, args: argparse.Namespace) -> None:
    """The sign-up use case as the operator: any registration mode, any role, audited."""
    password = _read_password_from_stdin() if args.password_stdin else secrets.token_urlsafe(18)
    role = "admin" if args.admin else "moderator" if args.moderator else "user"
    form = SignUpForm(username=args.username, email=args.email, password=password, role=role)
    async with open_pool(config) as pool:
        try:
            await sign_up(
                pool, LocalUrls(config.base_url), form, by=Actor.operator(), audit_reason="cli"
            )
        except KithError as exc:
            raise CliError(_one_line(exc)) from None
    print(f"created @{args.username}@{config.domain} ({role})")
    if not args.password_stdin:
        print(f"password: {password}")


def _one_line(exc: KithError) -> str:
    """Field failures as "username has already been taken; email is invalid"."""
    if not exc.details:
        return exc.message.removeprefix("Validation failed: ")
    return "; ".join(
        f"{field.replace('_', ' ')} {error['description']}"
        for field, errors in exc.details.items()
        for error in errors
    )


async def _user_list(config: Config) -> None:
    async with open_pool(config) as pool:
        rows = await account_store.list_local_users(pool)
    if not rows:
        print("no accounts")
    for row in rows:
        state = "" if row["approved"] else " (pending approval)"
        state += " (disabled)" if row["disabled"] else ""
        print(f"{row['username']}\t{row['email']}\t{row['role']}{state}")


async def _migrate(config: Config) -> None:
    applied = await prepare_database(database_url(config))
    print(f"applied {len(applied)} migration(s)" if applied else "database is up to date")


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def _serve(config: Config) -> None:
    # Imported here, like the worker below: the web app (every API module, the media pipeline)
    # is a third of a second to import, which every other command would pay for nothing.
    from aiohttp import web

    from server.app import create_app

    dsn = database_url(config)
    app = create_app(config, dsn, run_worker=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # runs the cleanup contexts: migrations, pool, worker
    try:
        site = web.TCPSite(runner, config.listen_host, config.listen_port)
        try:
            await site.start()
        except OSError as exc:
            raise CliError(
                f"KITH_LISTEN={config.listen_host}:{config.listen_port} cannot be bound:"
                f" {exc.strerror or exc}"
            ) from None
        from server.state import POOL

        if await account_store.count_local_users(app[POOL]) == 0:
            print(
                "No accounts yet. Create the first admin with:\n"
                "  .venv/bin/kith user create NAME --email you@example.org --admin"
            )
        print(f"Kith serving {config.base_url} on http://{config.listen_host}:{config.listen_port}")
        await _wait_for_signal()
    finally:
        await runner.cleanup()


async def _worker(config: Config) -> None:
    from server.jobs.worker import run_standalone_worker

    await run_standalone_worker(config, database_url(config), _wait_for_signal)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one command; `environ` replaces the process environment and `.env` (for embedding:
    the test suite runs commands in its own process)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # pgserver narrates every pg_ctl call at INFO; its warnings and errors still show.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    try:
        config = load_config() if environ is None else load_config(environ, env_file=None)
        if args.command == "serve":
            run_async(_serve(config))
        elif args.command == "worker":
            run_async(_worker(config))
        elif args.command == "migrate":
            run_async(_migrate(config))
        elif args.command == "user" and args.user_command == "create":
            run_async(_user_create(config, args))
        elif args.command == "user" and args.user_command == "list":
            run_async(_user_list(config))
        elif args.command == "domain-block":
            run_async(run_domain_command(config, args))
        elif args.command == "audit-log":
            run_async(run_audit_command(config, args))
        else:
            module = next(m for m in PLUGGED_IN if args.command in m.COMMANDS)
            run_async(module.run(config, args))
    except (
        ConfigError,
        CliError,
        DatabaseUnavailable,
        EmbeddedDatabaseError,
    ) as exc:
        print(f"kith: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
