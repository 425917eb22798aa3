"""The embedded PostgreSQL that runs when no database URL is configured.

`pgserver` ships PostgreSQL binaries inside a wheel; it initialises a cluster under the data
directory on first use and re-attaches to a running one later, so a new user needs nothing else.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # start_embedded imports pgserver only when it runs
    from pgserver import PostgresServer

log = logging.getLogger(__name__)


class EmbeddedDatabaseError(Exception):
    """The embedded PostgreSQL could not be started."""


def start_embedded(pgdata: Path, *, stop_on_exit: bool = True) -> PostgresServer:
    """Start (or re-attach to) the cluster in `pgdata` and return the pgserver handle.

    The handle's `get_uri()` is a unix-socket URL with trust authentication.
    """
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver only keeps a lock file there.
        warnings.simplefilter("ignore")
        import pgserver

        try:
            return pgserver.get_server(pgdata, cleanup_mode="stop" if stop_on_exit else None)
        except Exception as exc:  # pgserver raises bare exceptions from pg_ctl/initdb
            raise EmbeddedDatabaseError(
                f"the embedded PostgreSQL in {pgdata} did not start: {exc}"
            ) from exc
