"""The foundation: configuration, migrations and the error shape."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from server.config import ConfigError, load_config
from storage.migrate import migrate, migration_files


def test_defaults():
    config = load_config({}, env_file=None)
    assert config.domain == "localhost:8080"
    assert (config.listen_host, config.listen_port) == ("127.0.0.1", 8080)
    assert config.database_url is None
    assert config.base_url == "https://localhost:8080"


def test_env_file_is_read_and_environment_wins(tmp_path: Path):
    env = tmp_path / ".env"
    env.write_text("KITH_DOMAIN=from-file.example\nKITH_INSECURE_HTTP=1\n")
    config = load_config({"KITH_DOMAIN": "from-env.example"}, env_file=env)
    assert config.domain == "from-env.example"
    assert config.base_url == "http://from-env.example"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KITH_LISTEN", "no-port"),
        ("KITH_LISTEN", "127.0.0.1:99999"),
        ("KITH_DATABASE_URL", "mysql://x/y"),
        ("KITH_DOMAIN", "bad domain!"),
        ("KITH_INSECURE_HTTP", "maybe"),
        ("KITH_ALLOW_PRIVATE_ADDRESSES", "2"),
    ],
)
def test_bad_settings_name_the_setting(name: str, value: str):
    with pytest.raises(ConfigError, match=name):
        load_config({name: value}, env_file=None)


async def test_migrations_are_recorded_and_idempotent(db_dsn: str):
    conn = await asyncpg.connect(db_dsn)
    try:
        assert await migrate(conn) == []  # the template is already migrated
        recorded = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
        assert recorded == [version for version, _ in migration_files()]
        first, second = (
            await conn.fetchval("SELECT kith_id()"),
            await conn.fetchval("SELECT kith_id()"),
        )
        assert second > first
    finally:
        await conn.close()


async def test_unknown_route_is_json_404(client):
    response = await client.get("/api/v1/nope")
    assert response.status == 404
    assert await response.json() == {"error": "Record not found"}


async def test_cors_preflight_and_headers(client):
    preflight = await client.options(
        "/api/v1/apps",
        headers={"Origin": "https://elk.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]

    error = await client.get("/api/v1/nope", headers={"Origin": "https://elk.example"})
    assert error.status == 404
    assert error.headers["Access-Control-Allow-Origin"] == "*"
    assert "Link" in error.headers["Access-Control-Expose-Headers"]


async def test_html_pages_get_no_cors_headers(client):
    response = await client.get("/oauth/authorize")
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_static_files_are_served(client):
    response = await client.get("/static/missing.png")
    assert response.status == 200
    assert (await response.read()).startswith(b"\x89PNG")
