"""Signing up through the API and `kith user create` is one use case: the same validation, rows
and staff notifications; what differs (modes, reserved names, the audit entry) differs on
purpose."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.state import POOL
from tests.cli import kith_env, run_kith
from tests.test_accounts import app_token, set_registrations

PASSWORD = "a long enough password"
TOO_LONG = "is too long (maximum is 30 characters)"
TOO_SHORT = "is too short (minimum is 8 characters)"


@dataclass
class Outcome:
    """`failures` maps each refused field to its description ("has already been taken")."""

    created: bool
    failures: dict[str, str]


SignUp = Callable[[str, str, str], Awaitable[Outcome]]


@pytest.fixture
def via_api(client) -> SignUp:
    async def sign_up(username: str, email: str, password: str) -> Outcome:
        headers = await app_token(client)
        form = {
            "username": username,
            "email": email,
            "password": password,
            "agreement": "true",
            "reason": "hello",
        }
        response = await client.post("/api/v1/accounts", data=form, headers=headers)
        body = await response.json()
        if response.status == 200:
            return Outcome(True, {})
        assert response.status == 422, body
        details = {field: errors[0]["description"] for field, errors in body["details"].items()}
        return Outcome(False, details)

    return sign_up


@pytest.fixture
def via_cli(client, db_dsn: str, tmp_path: Path) -> SignUp:
    env = kith_env(tmp_path, KITH_DATABASE_URL=db_dsn, KITH_DOMAIN="kith.test")
    env["KITH_INSECURE_HTTP"] = "true"  # the test app's URLs are http://kith.test

    async def sign_up(username: str, email: str, password: str) -> Outcome:
        code, _, err = await run_kith(
            "user", "create", username, "--email", email, "--password-stdin",
            env=env, stdin=f"{password}\n",
        )  # fmt: skip
        if code == 0:
            return Outcome(True, {})
        line = next(line for line in err.splitlines() if line.startswith("kith: "))
        failures = dict(part.split(" ", 1) for part in line.removeprefix("kith: ").split("; "))
        return Outcome(False, failures)

    return sign_up


@pytest.fixture(params=["api", "cli"])
def way(request) -> tuple[str, SignUp]:
    return request.param, request.getfixturevalue(f"via_{request.param}")


async def _rows(pool, username: str):
    return await pool.fetchrow(
        """
        SELECT a.id, a.domain, a.uri, a.url, a.public_key_id, a.public_key_pem IS NOT NULL AS keyed,
               u.email, u.role, u.approved, u.locale, u.disabled
        FROM accounts a JOIN users u ON u.account_id = a.id
        WHERE a.username = $1
        """,
        username,
    )


async def test_same_rows_and_staff_told_and_hand_made_accounts_audited(client, make_member, way):
    name, sign_up = way
    boss = await make_member("boss", role="admin")
    pool = client.server.app[POOL]

    assert await sign_up("newbie", "newbie@example.org", PASSWORD) == Outcome(True, {})

    row = await _rows(pool, "newbie")
    assert dict(row) | {"id": None} == {
        "id": None,
        "domain": None,
        "uri": "http://kith.test/users/newbie",
        "url": "http://kith.test/@newbie",
        "public_key_id": "http://kith.test/users/newbie#main-key",
        "keyed": True,
        "email": "newbie@example.org",
        "role": "user",
        "approved": True,
        "locale": "en",
        "disabled": False,
    }
    told = await pool.fetch(
        "SELECT type, from_account_id FROM notifications WHERE account_id = $1", boss.account_id
    )
    assert [(n["type"], n["from_account_id"]) for n in told] == [("admin.sign_up", row["id"])]
    audit = await pool.fetch("SELECT account_id, action, target_id, detail, reason FROM audit_log")
    if name == "api":  # a visitor's sign-up is no staff action
        assert audit == []
    else:
        assert [dict(entry) for entry in audit] == [
            {
                "account_id": None,
                "action": "account.create",
                "target_id": str(row["id"]),
                "detail": {"username": "newbie", "domain": None, "role": "user"},
                "reason": "cli",
            }
        ]


@pytest.mark.parametrize(
    ("username", "email", "password", "failures"),
    [
        ("taken", "new@example.org", PASSWORD, {"username": "has already been taken"}),
        ("TAKEN", "new@example.org", PASSWORD, {"username": "has already been taken"}),
        (
            "bad name",
            "new@example.org",
            PASSWORD,
            {"username": "must contain only letters, numbers and underscores"},
        ),
        ("x" * 31, "new@example.org", PASSWORD, {"username": TOO_LONG}),
        ("newbie", "taken@example.org", PASSWORD, {"email": "has already been taken"}),
        ("newbie", "not-an-email", PASSWORD, {"email": "is invalid"}),
        ("newbie", "new@example.org", "short", {"password": TOO_SHORT}),
        (
            "taken",
            "nope",
            "short",
            {
                "username": "has already been taken",
                "email": "is invalid",
                "password": TOO_SHORT,
            },
        ),
    ],
)  # fmt: skip
async def test_validation_is_the_same_both_ways(
    client, make_member, way, username, email, password, failures
):
    _, sign_up = way
    await make_member("taken")
    assert await sign_up(username, email, password) == Outcome(False, failures)
    pool = client.server.app[POOL]
    assert await pool.fetchval("SELECT count(*) FROM users") == 1


async def test_the_operator_creates_accounts_whatever_the_mode(client, via_api, via_cli):
    await set_registrations(client, "closed")
    headers = await app_token(client)
    form = {"username": "visitor", "email": "v@example.org", "password": PASSWORD, "agreement": "1"}
    response = await client.post("/api/v1/accounts", data=form, headers=headers)
    assert (response.status, await response.json()) == (
        403,
        {"error": "This action is not allowed"},
    )
    # Reserved names are for the operator to give, not for visitors to take.
    assert await via_cli("admin", "boss@example.org", PASSWORD) == Outcome(True, {})
    row = await _rows(client.server.app[POOL], "admin")
    assert (row["role"], row["approved"]) == ("user", True)


async def test_a_visitor_may_not_take_a_reserved_name(client, via_api):
    assert await via_api("admin", "boss@example.org", PASSWORD) == Outcome(
        False, {"username": "is reserved"}
    )
