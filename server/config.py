"""Settings read from the environment (and an optional `.env` file).

Every setting is parsed and checked here, once, so that a bad value stops start-up with one line
naming the setting instead of a traceback from deep inside the server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from federation.version import KITH_VERSION as VERSION

# Clients parse the Mastodon version they talk to from the text before the first space, and
# some switch endpoints by it: Ice Cubes reads grouped notifications (`/api/v2/notifications`)
# from any server at 4.3 or later. Kith serves Mastodon 4.2's API plus a few later additions
# (OAuth server metadata, `api_versions`, the instance icon), not 4.3's grouped notifications,
# so it says 4.2.0 until they exist (issue 13; docs/COMPATIBILITY.md).
MASTODON_API_VERSION = "4.2.0"
VERSION_STRING = f"{MASTODON_API_VERSION} (compatible; Kith {VERSION})"


class ConfigError(Exception):
    """A setting has a value Kith cannot use; the message names the setting."""


@dataclass(frozen=True)
class Config:
    domain: str = "localhost:8080"
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    database_url: str | None = None
    data_dir: Path = Path("data")
    insecure_http: bool = False
    allow_private_addresses: bool = False
    # Behind one reverse proxy that appends the client's address to X-Forwarded-For: rate
    # limits then count that address instead of the proxy's.
    trust_proxy: bool = False

    @property
    def scheme(self) -> str:
        return "http" if self.insecure_http else "https"

    @property
    def base_url(self) -> str:
        """The public origin, e.g. `https://kith.example`; every local URL starts with it."""
        return f"{self.scheme}://{self.domain}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def embedded_db_dir(self) -> Path:
        return self.data_dir / "postgres"


_DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use 1 or 0")


def _listen(raw: str) -> tuple[str, int]:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"KITH_LISTEN={raw!r} must be HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def _domain(raw: str) -> str:
    value = raw.strip().lower()
    if not _DOMAIN_RE.match(value):
        raise ConfigError(
            f"KITH_DOMAIN={raw!r} must be a host name with an optional port, e.g. kith.example"
        )
    return value


def _database_url(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            f"KITH_DATABASE_URL must be a postgresql:// URL (got scheme {parts.scheme!r})"
        )
    if not parts.path.strip("/") and "host=" not in parts.query and not parts.hostname:
        raise ConfigError("KITH_DATABASE_URL names no host and no database")
    return value


def load_config(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Config:
    """Build the settings from `environ` (default: the process environment) over `.env`."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    host, port = _listen(values.get("KITH_LISTEN", "127.0.0.1:8080"))
    return Config(
        domain=_domain(values.get("KITH_DOMAIN", "localhost:8080")),
        listen_host=host,
        listen_port=port,
        database_url=_database_url(values.get("KITH_DATABASE_URL", "")),
        data_dir=Path(values.get("KITH_DATA_DIR", "data") or "data").resolve(),
        insecure_http=_flag("KITH_INSECURE_HTTP", values.get("KITH_INSECURE_HTTP", "0")),
        allow_private_addresses=_flag(
            "KITH_ALLOW_PRIVATE_ADDRESSES", values.get("KITH_ALLOW_PRIVATE_ADDRESSES", "0")
        ),
        trust_proxy=_flag("KITH_TRUST_PROXY", values.get("KITH_TRUST_PROXY", "0")),
    )
