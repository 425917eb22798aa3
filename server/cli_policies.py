"""Placeholder: filled in by the work on issue 4."""

from __future__ import annotations

import argparse
from typing import Any

from server.config import Config

COMMANDS: frozenset[str] = frozenset()


def add_commands(subparsers: Any) -> None:
    """Add this module's commands to `kith`'s parser."""


async def run(config: Config, args: argparse.Namespace) -> None:
    """Run one of `COMMANDS`."""
