"""`kith registrations show|mode MODE|members-may-invite on|off`: who may sign up.

Changes go through `server.usecases.invites.change_registrations`, so they are audited like
the admin API's (`PUT /api/v1/admin/registrations`), with no actor and the reason "cli".
"""

from __future__ import annotations

import argparse
from typing import Any

from federation.errors import KithError
from server.cli_common import CliError, open_pool
from server.config import Config
from server.usecases import invites as service
from storage.settings import REGISTRATION_MODES

COMMANDS: frozenset[str] = frozenset({"registrations"})
REASON = "cli"


def add_commands(subparsers: Any) -> None:
    """Add `kith registrations` to `kith`'s parser."""
    parser = subparsers.add_parser("registrations", help="who may sign up")
    commands = parser.add_subparsers(dest="registrations_command", required=True)
    commands.add_parser("show", help="show the registration mode and whether members may invite")
    mode = commands.add_parser("mode", help="open, approval, invite (codes only) or closed")
    mode.add_argument("mode", choices=REGISTRATION_MODES)
    invite = commands.add_parser("members-may-invite", help="let members create invites")
    invite.add_argument("state", choices=("on", "off"))


async def run(config: Config, args: argparse.Namespace) -> None:
    """Run `kith registrations ...`."""
    async with open_pool(config) as pool:
        try:
            if args.registrations_command == "mode":
                current = await service.change_registrations(
                    pool, mode=args.mode, actor_id=None, reason=REASON
                )
            elif args.registrations_command == "members-may-invite":
                current = await service.change_registrations(
                    pool, members_may_invite=args.state == "on", actor_id=None, reason=REASON
                )
            else:
                current = await service.registration_settings(pool)
        except KithError as exc:
            raise CliError(exc.message) from None
    invite = "on" if current["members_may_invite"] else "off"
    print(f"mode: {current['mode']}\nmembers may invite: {invite}")
