"""The production files: docker-compose.yml checked by the real Compose binary (no Docker engine
needed for `config`), and the Dockerfile and .dockerignore that build the image it runs."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import compose
import pytest

from server.config import load_config

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
# The `compose` package's console script always exits 0: call the binary it wraps.
COMPOSE_BINARY = Path(compose.__file__).parent / "docker-compose"
ENV = {"KITH_DOMAIN": "kith.example", "POSTGRES_PASSWORD": "s3cret-pass"}


def _compose(
    *args: str, file: Path = COMPOSE_FILE, env: dict[str, str] = ENV
) -> subprocess.CompletedProcess:
    # Only what Compose needs: no DOCKER_* or COMPOSE_* settings leak in from the caller.
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [str(COMPOSE_BINARY), "-f", str(file), *args],
        cwd=file.parent,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = _compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_binary_is_the_real_compose():
    assert os.access(COMPOSE_BINARY, os.X_OK)
    result = subprocess.run(
        [str(COMPOSE_BINARY), "version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "Docker Compose version" in result.stdout


def test_compose_file_is_valid():
    result = _compose("config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("services:\n  web:\n    image: [not, a, string]\n", "must be a string"),
        (
            "services:\n  web:\n    image: kith\n    depends_on:\n"
            "      nope:\n        condition: service_healthy\n",
            'undefined service "nope"',
        ),
    ],
)
def test_broken_compose_file_fails(tmp_path: Path, text: str, complaint: str):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text)
    result = _compose("config", "-q", file=broken)
    assert result.returncode != 0
    assert complaint in result.stderr


@pytest.mark.parametrize("missing", ["POSTGRES_PASSWORD", "KITH_DOMAIN"])
def test_required_settings_must_be_given(missing: str):
    env = {name: value for name, value in ENV.items() if name != missing}
    result = _compose("config", "-q", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_services_and_their_order(resolved: dict[str, Any]):
    services = resolved["services"]
    assert set(services) == {"db", "migrate", "web", "worker"}
    assert resolved["name"] == "kith"

    db = services["db"]
    assert db["image"] == "postgres:16"
    assert db["environment"] == {
        "POSTGRES_USER": "kith",
        "POSTGRES_PASSWORD": "s3cret-pass",
        "POSTGRES_DB": "kith",
    }
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert [v["target"] for v in db["volumes"]] == ["/var/lib/postgresql/data"]

    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"

    for name, command in (("web", ["serve"]), ("worker", ["worker"])):
        service = services[name]
        assert service["command"] == command
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert [(v["source"], v["target"]) for v in service["volumes"]] == [("media", "/data")]

    web = services["web"]
    assert [(p["target"], p["published"]) for p in web["ports"]] == [(8080, "8080")]
    assert "/api/v1/instance" in " ".join(web["healthcheck"]["test"])
    assert "ports" not in services["worker"]  # so that `--scale worker=N` works
    assert set(resolved["volumes"]) == {"postgres", "media"}


@pytest.mark.parametrize("name", ["migrate", "web", "worker"])
def test_kith_services_have_settings_kith_accepts(resolved: dict[str, Any], name: str):
    service = resolved["services"][name]
    assert service["build"]["context"] == str(ROOT)
    config = load_config(service["environment"], env_file=None)
    assert config.database_url == "postgresql://kith:s3cret-pass@db:5432/kith"
    assert (config.listen_host, config.listen_port) == ("0.0.0.0", 8080)
    assert config.data_dir == Path("/data")
    assert config.base_url == "https://kith.example"


def _instructions() -> list[tuple[str, str]]:
    lines = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    return [
        (keyword.upper(), rest.strip())
        for keyword, _, rest in (line.strip().partition(" ") for line in lines)
        if keyword and not keyword.startswith("#")
    ]


def test_dockerfile_builds_a_non_root_kith_image():
    instructions = _instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert any(kw == "RUN" and "pip install ." in rest for kw, rest in instructions)
    users = [rest for kw, rest in instructions if kw == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("ENTRYPOINT", '["kith"]') in instructions
    assert ("EXPOSE", "8080") in instructions


def test_dockerignore_keeps_what_pip_install_needs():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    needed = sorted(packages | {"pyproject.toml", "README.md"})
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in needed:
        assert (ROOT / path).exists()
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in patterns), path
    assert ".venv" in patterns and "data" in patterns and ".env" in patterns
