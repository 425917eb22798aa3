"""Rate limits on signing in (token endpoint and authorization form), signing up and reporting.

Windows are made to pass by moving `rate_limits.resets_at` back in the database, not by sleeping.
Tests that need several client addresses use an app with `trust_proxy` and X-Forwarded-For.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from argon2 import PasswordHasher

from server.app import create_app
from server.config import ConfigError, load_config
from server.rate_limits import (
    LOGIN_PER_IP,
    LOGIN_PER_NAME,
    REPORTS_PER_ACCOUNT,
    SIGN_UP_PER_IP,
    Limit,
)
from server.state import POOL
from server.usecases import passwords
from tests.members import PASSWORD, create_member
from tests.test_accounts import SIGN_UP, app_token
from tests.test_oauth import open_page, password_token, register, submit


@pytest.fixture
async def proxied(db_dsn, config, aiohttp_client):
    """A client of an app that trusts X-Forwarded-For, so tests can pose as several addresses."""
    app = create_app(dataclasses.replace(config, trust_proxy=True), db_dsn)
    return await aiohttp_client(app)


class CountingHasher(PasswordHasher):
    """The test suite's cheap argon2, counting how many passwords it verifies."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=256, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher():
    counting = CountingHasher()
    passwords.use_hasher(counting)
    yield counting
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def pass_window(client, limit: Limit) -> None:
    """End the current window of every counter of `limit`."""
    await client.server.app[POOL].execute(
        "UPDATE rate_limits SET resets_at = now() WHERE bucket = $1", limit.bucket
    )


async def assert_limited(response, longest: int) -> None:
    """A JSON 429 with a Retry-After of at most `longest` seconds (and most of it left)."""
    assert response.status == 429, await response.text()
    assert (await response.json())["error"] == "Too many requests"
    retry_after = int(response.headers["Retry-After"])
    assert longest - 60 < retry_after <= longest


def token_of_password_grant(
    app: dict[str, Any], username: str, password: str = "wrong password"
) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "username": username,
        "password": password,
        "scope": "read",
    }


# --- Signing in through the token endpoint -----------------------------------------------------


async def test_wrong_passwords_lock_the_login_name_even_for_the_right_password(proxied):
    await create_member(proxied.server.app, "alice")
    app = await register(proxied)
    period = int(LOGIN_PER_NAME.period.total_seconds())
    # Every attempt from another address: only the name's limit applies.
    for n in range(40):
        wrong = token_of_password_grant(app, "alice")
        response = await proxied.post(
            "/oauth/token", data=wrong, headers=from_address(f"10.0.0.{n}")
        )
        if n < LOGIN_PER_NAME.limit:
            assert response.status == 400, await response.text()
            assert (await response.json())["error"] == "invalid_grant"
        else:
            await assert_limited(response, period)
    # The 41st, right, password is refused too, and so is the e-mail in other letters: the limit
    # is on the name as typed, lower-cased.
    right = token_of_password_grant(app, "alice", PASSWORD)
    await assert_limited(
        await proxied.post("/oauth/token", data=right, headers=from_address("10.1.0.1")), period
    )
    response = await proxied.post(
        "/oauth/token", data=token_of_password_grant(app, "ALICE", PASSWORD)
    )
    await assert_limited(response, period)

    await pass_window(proxied, LOGIN_PER_NAME)
    response = await proxied.post("/oauth/token", data=right, headers=from_address("10.1.0.2"))
    assert response.status == 200, await response.text()


async def test_an_unknown_login_name_is_limited_the_same_way(proxied):
    app = await register(proxied)
    statuses = []
    for n in range(LOGIN_PER_NAME.limit + 1):
        wrong = token_of_password_grant(app, "nobody")
        response = await proxied.post(
            "/oauth/token", data=wrong, headers=from_address(f"10.0.0.{n}")
        )
        statuses.append(response.status)
    assert statuses == [400] * LOGIN_PER_NAME.limit + [429]


async def test_only_failures_use_up_the_address_limit(client, make_member):
    """A right password before the limit signs in, and its attempt is given back."""
    await make_member("alice")
    app = await register(client)
    for n in range(LOGIN_PER_IP.limit - 1):
        response = await password_token(client, app, f"someone{n}", password="wrong")
        assert response.status == 400, await response.text()
    for _ in range(3):
        response = await password_token(client, app, "alice")
        assert response.status == 200, await response.text()
    # The last failure the window allows, then a refusal across names, right password or not.
    assert (await password_token(client, app, "bob", password="wrong")).status == 400
    period = int(LOGIN_PER_IP.period.total_seconds())
    await assert_limited(await password_token(client, app, "carol", password="wrong"), period)
    await assert_limited(await password_token(client, app, "alice"), period)

    await pass_window(client, LOGIN_PER_IP)
    assert (await password_token(client, app, "alice")).status == 200


async def test_a_limited_attempt_hashes_no_password(client, make_member, hasher):
    """Parallel wrong passwords from one address: the limit holds and costs no argon2."""
    await make_member("alice")
    app = await register(client)
    attempts = LOGIN_PER_IP.limit + 15
    responses = await asyncio.gather(
        *(password_token(client, app, f"name{n}", password="wrong") for n in range(attempts))
    )
    statuses = sorted(response.status for response in responses)
    assert statuses == [400] * LOGIN_PER_IP.limit + [429] * 15
    assert hasher.verified == LOGIN_PER_IP.limit


async def test_two_app_instances_share_the_limits(client, db_dsn, config, aiohttp_client):
    other = await aiohttp_client(create_app(config, db_dsn))
    await create_member(client.server.app, "alice")
    app = await register(client)
    for n in range(LOGIN_PER_IP.limit):
        instance = (client, other)[n % 2]
        response = await password_token(instance, app, f"name{n}", password="wrong")
        assert response.status == 400, await response.text()
    period = int(LOGIN_PER_IP.period.total_seconds())
    await assert_limited(await password_token(client, app, "alice"), period)
    await assert_limited(await password_token(other, app, "alice"), period)


# --- Signing in through the authorization form -------------------------------------------------


async def test_the_sign_in_form_answers_429_with_the_page(client, make_member):
    await make_member("alice")
    app = await register(client)
    page = await (await open_page(client, app)).text()
    for n in range(LOGIN_PER_IP.limit):
        response = await submit(client, page, login=f"name{n}", password="wrong")
        assert response.status == 401, await response.text()
    response = await submit(client, page, login="alice")
    assert response.status == 429
    assert response.content_type == "text/html"
    assert 0 < int(response.headers["Retry-After"]) <= LOGIN_PER_IP.period.total_seconds()
    text = await response.text()
    assert "Too many sign-in attempts. Please try again in 5 minutes." in text
    assert 'name="password"' in text  # the form, to try again later
    # The form and the token endpoint count the same attempts.
    await assert_limited(
        await password_token(client, app, "alice"), int(LOGIN_PER_IP.period.total_seconds())
    )

    await pass_window(client, LOGIN_PER_IP)
    response = await submit(client, page, login="alice")
    assert response.status == 302, await response.text()


# --- Signing up ---------------------------------------------------------------------------------


def sign_up(n: int) -> dict[str, str]:
    return {**SIGN_UP, "username": f"new{n}", "email": f"new{n}@example.org"}


async def test_sign_ups_are_limited_per_address(proxied):
    headers = await app_token(proxied)
    period = int(SIGN_UP_PER_IP.period.total_seconds())
    # Failed attempts count too; the client's own X-Forwarded-For entries change nothing.
    for n in range(SIGN_UP_PER_IP.limit):
        body = sign_up(n) if n % 2 else {**sign_up(n), "agreement": "false"}
        forwarded = from_address(f"198.51.100.{n}, 203.0.113.5")
        response = await proxied.post("/api/v1/accounts", data=body, headers=headers | forwarded)
        assert response.status == (200 if n % 2 else 422), await response.text()
    address = from_address("203.0.113.5")
    response = await proxied.post("/api/v1/accounts", data=sign_up(99), headers=headers | address)
    await assert_limited(response, period)
    assert (
        await proxied.server.app[POOL].fetchval(
            "SELECT count(*) FROM accounts WHERE username = 'new99'"
        )
        == 0
    )
    elsewhere = from_address("203.0.113.6")
    response = await proxied.post("/api/v1/accounts", data=sign_up(99), headers=headers | elsewhere)
    assert response.status == 200, await response.text()

    await pass_window(proxied, SIGN_UP_PER_IP)
    response = await proxied.post("/api/v1/accounts", data=sign_up(100), headers=headers | address)
    assert response.status == 200, await response.text()


async def test_an_ipv6_client_is_counted_by_its_64(proxied):
    headers = await app_token(proxied)
    for n in range(SIGN_UP_PER_IP.limit):
        address = from_address(f"2001:db8:1:2::{n + 1:x}")
        response = await proxied.post(
            "/api/v1/accounts", data=sign_up(n), headers=headers | address
        )
        assert response.status == 200, await response.text()
    same_64 = from_address("2001:db8:1:2:ffff::1")
    response = await proxied.post("/api/v1/accounts", data=sign_up(98), headers=headers | same_64)
    await assert_limited(response, int(SIGN_UP_PER_IP.period.total_seconds()))
    next_64 = from_address("2001:db8:1:3::1")
    response = await proxied.post("/api/v1/accounts", data=sign_up(99), headers=headers | next_64)
    assert response.status == 200, await response.text()


# --- Reports --------------------------------------------------------------------------------


async def test_reports_are_limited_per_account(client, make_member):
    alice, bob, spammer = (
        await make_member("alice"),
        await make_member("bob"),
        await make_member("spammer"),
    )
    target = {"account_id": str(spammer.account_id)}
    for _ in range(2):
        response = await client.post("/api/v1/reports", json=target, headers=alice.headers)
        assert response.status == 200, await response.text()
    pool = client.server.app[POOL]
    bucket = REPORTS_PER_ACCOUNT.bucket
    key = str(alice.account_id)
    sql = "SELECT hits FROM rate_limits WHERE bucket = $1 AND key = $2"
    assert await pool.fetchval(sql, bucket, key) == 2
    # Rather than filing 398 more reports:
    await pool.execute(
        "UPDATE rate_limits SET hits = $3 WHERE bucket = $1 AND key = $2",
        bucket,
        key,
        REPORTS_PER_ACCOUNT.limit,
    )
    response = await client.post("/api/v1/reports", json=target, headers=alice.headers)
    await assert_limited(response, int(REPORTS_PER_ACCOUNT.period.total_seconds()))
    reports = "SELECT count(*) FROM reports WHERE account_id = $1"
    assert await pool.fetchval(reports, alice.account_id) == 2
    response = await client.post("/api/v1/reports", json=target, headers=bob.headers)
    assert response.status == 200, await response.text()

    await pass_window(client, REPORTS_PER_ACCOUNT)
    response = await client.post("/api/v1/reports", json=target, headers=alice.headers)
    assert response.status == 200, await response.text()


# --- The counters themselves --------------------------------------------------------------------


async def test_a_hit_sweeps_expired_counters(client, make_member):
    alice = await make_member("alice")
    pool = client.server.app[POOL]
    await pool.execute(
        "INSERT INTO rate_limits (bucket, key, hits, resets_at)"
        " SELECT 'login/ip', '192.0.2.' || n, 3, now() - interval '1 second'"
        " FROM generate_series(1, 5) AS n"
    )
    await pool.execute(
        "INSERT INTO rate_limits (bucket, key, hits, resets_at)"
        " VALUES ('login/ip', '192.0.2.200', 3, now() + interval '1 minute')"
    )
    response = await client.post(
        "/api/v1/reports", json={"account_id": "999999999"}, headers=alice.headers
    )
    assert response.status == 404
    rows = await pool.fetch("SELECT bucket, key, hits FROM rate_limits ORDER BY bucket, key")
    assert [tuple(row) for row in rows] == [
        ("login/ip", "192.0.2.200", 3),
        ("reports/account", str(alice.account_id), 1),
    ]


def test_trust_proxy_setting():
    assert load_config({}, env_file=None).trust_proxy is False
    assert load_config({"KITH_TRUST_PROXY": "1"}, env_file=None).trust_proxy is True
    with pytest.raises(ConfigError, match="KITH_TRUST_PROXY"):
        load_config({"KITH_TRUST_PROXY": "maybe"}, env_file=None)
