"""The instance endpoints: v1 and v2 entities, rules, peers, statistics and settings."""

from __future__ import annotations

import asyncpg
import pytest

from server.config import VERSION_STRING
from server.state import POOL
from tests.api import api
from tests.schemas import assert_matches


def _pool(client) -> asyncpg.Pool:
    return client.server.app[POOL]


async def _set(client, key: str, value) -> None:
    await _pool(client).execute(
        "INSERT INTO instance_settings (key, value) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        key,
        value,
    )


async def _remote_account(client, username: str, domain: str) -> int:
    return await _pool(client).fetchval(
        "INSERT INTO accounts (username, domain, uri) VALUES ($1, $2, $3) RETURNING id",
        username,
        domain,
        f"https://{domain}/users/{username}",
    )


@pytest.mark.parametrize("path", ["/api/v1/instance", "/api/v1/instance/"])
async def test_v1_defaults(client, path: str):
    data = await api(client, None, "GET", path)
    assert_matches("instance_v1", data)
    assert data["uri"] == "kith.test"
    assert data["title"] == "Kith"
    assert data["version"] == VERSION_STRING
    assert data["version"].split(" ")[0] == "4.2.0"
    assert data["urls"] == {"streaming_api": "ws://kith.test"}
    assert data["stats"] == {"user_count": 0, "status_count": 0, "domain_count": 0}
    assert (data["registrations"], data["approval_required"]) == (True, False)
    assert data["configuration"]["statuses"] == {
        "max_characters": 500,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
    }
    assert data["contact_account"] is None
    assert data["rules"] == []


@pytest.mark.parametrize("path", ["/api/v2/instance", "/api/v2/instance/"])
async def test_v2_defaults(client, path: str):
    data = await api(client, None, "GET", path)
    assert_matches("instance_v2", data)
    assert data["domain"] == "kith.test"
    assert data["version"] == VERSION_STRING
    assert data["api_versions"] == {"mastodon": 1}
    assert data["configuration"]["urls"] == {"streaming": "ws://kith.test"}
    assert data["configuration"]["translation"] == {"enabled": False}
    assert data["registrations"] == {
        "enabled": True,
        "approval_required": False,
        "message": None,
        "url": None,
    }
    assert data["contact"] == {"email": "", "account": None}
    assert data["usage"] == {"users": {"active_month": 0}}


async def test_thumbnail_is_served(client):
    data = await api(client, None, "GET", "/api/v2/instance")
    url = data["thumbnail"]["url"]
    assert url == (await api(client, None, "GET", "/api/v1/instance"))["thumbnail"]
    assert url.startswith("http://kith.test/")
    response = await client.get(url.removeprefix("http://kith.test"))
    assert response.status == 200
    assert response.content_type == "image/png"


async def test_settings_are_shown(client):
    await _set(client, "title", "Harbour")
    await _set(client, "description", "A quiet place.")
    await _set(client, "contact_email", "mods@harbour.example")
    await _set(client, "registrations_mode", "approval")
    v1 = await api(client, None, "GET", "/api/v1/instance")
    v2 = await api(client, None, "GET", "/api/v2/instance")
    assert_matches("instance_v1", v1)
    assert_matches("instance_v2", v2)
    assert (v1["title"], v2["title"]) == ("Harbour", "Harbour")
    assert v1["description"] == v1["short_description"] == v2["description"] == "A quiet place."
    assert v1["email"] == v2["contact"]["email"] == "mods@harbour.example"
    assert (v1["registrations"], v1["approval_required"]) == (True, True)
    assert (v2["registrations"]["enabled"], v2["registrations"]["approval_required"]) == (
        True,
        True,
    )


@pytest.mark.parametrize(
    ("mode", "enabled", "approval"),
    [
        ("open", True, False),
        ("approval", True, True),
        ("closed", False, False),
        # Only people with an invite may sign up: Mastodon's closed-with-invites.
        ("invite", False, False),
        # Unknown values close registrations, as POST /api/v1/accounts does.
        ("bogus", False, False),
        (3, False, False),
    ],
)
async def test_registrations_mode(client, mode, enabled: bool, approval: bool):
    await _set(client, "registrations_mode", mode)
    v1 = await api(client, None, "GET", "/api/v1/instance")
    v2 = await api(client, None, "GET", "/api/v2/instance")
    assert (v1["registrations"], v1["approval_required"]) == (enabled, approval)
    assert (v2["registrations"]["enabled"], v2["registrations"]["approval_required"]) == (
        enabled,
        approval,
    )
    assert v1["invites_enabled"] is False


@pytest.mark.parametrize(
    ("mode", "members_may_invite", "enabled"),
    [
        ("invite", True, True),
        ("open", True, True),
        ("invite", False, False),
        ("closed", True, False),
    ],
)
async def test_invites_enabled(client, mode, members_may_invite: bool, enabled: bool):
    await _set(client, "registrations_mode", mode)
    await _set(client, "members_may_invite", members_may_invite)
    v1 = await api(client, None, "GET", "/api/v1/instance")
    assert_matches("instance_v1", v1)
    assert v1["invites_enabled"] is enabled


async def test_blank_or_wrongly_typed_settings_fall_back_to_defaults(client):
    await _set(client, "title", "   ")
    await _set(client, "description", {"not": "text"})
    data = await api(client, None, "GET", "/api/v1/instance")
    assert data["title"] == "Kith"
    assert data["description"] == data["short_description"] != ""


async def test_contact_account_is_the_first_admin(client, make_member):
    await make_member("someone")
    first = await make_member("first_admin", role="admin")
    await make_member("second_admin", role="admin")
    v1 = await api(client, None, "GET", "/api/v1/instance")
    v2 = await api(client, None, "GET", "/api/v2/instance")
    assert_matches("instance_v1", v1)
    assert_matches("instance_v2", v2)
    assert v1["contact_account"]["id"] == str(first.account_id)
    assert v1["contact_account"]["username"] == "first_admin"
    assert v2["contact"]["account"] == v1["contact_account"]


async def test_disabled_admin_is_not_the_contact(client, make_member):
    admin = await make_member("gone_admin", role="admin")
    await _pool(client).execute("UPDATE users SET disabled = true WHERE id = $1", admin.user_id)
    assert (await api(client, None, "GET", "/api/v1/instance"))["contact_account"] is None


async def test_stats_count_real_data(client, make_member):
    alice = await make_member("alice")
    bob = await make_member("bob")
    gone = await make_member("gone")
    pending = await make_member("pending")
    pool = _pool(client)
    await pool.execute("UPDATE users SET disabled = true WHERE id = $1", gone.user_id)
    await pool.execute("UPDATE users SET approved = false WHERE id = $1", pending.user_id)
    for n, deleted in enumerate([False, False, True]):
        await pool.execute(
            "INSERT INTO statuses (uri, account_id, local, visibility, deleted_at)"
            " VALUES ($1, $2, true, 'public', CASE WHEN $3 THEN now() END)",
            f"http://kith.test/users/alice/statuses/{n}",
            alice.account_id,
            deleted,
        )
    remote = await _remote_account(client, "carol", "remote.example")
    await pool.execute(
        "INSERT INTO statuses (uri, account_id, local, visibility)"
        " VALUES ('https://remote.example/s/1', $1, false, 'public')",
        remote,
    )
    await _remote_account(client, "dave", "REMOTE.example")
    await _remote_account(client, "erin", "other.example")
    # Nobody has used bob's token for two months: he is no longer active.
    await pool.execute(
        "UPDATE oauth_access_tokens SET created_at = now() - interval '60 days' WHERE user_id = $1",
        bob.user_id,
    )

    v1 = await api(client, None, "GET", "/api/v1/instance")
    assert v1["stats"] == {"user_count": 2, "status_count": 2, "domain_count": 2}
    v2 = await api(client, None, "GET", "/api/v2/instance")
    assert v2["usage"]["users"]["active_month"] == 1

    # A suspended member's posts stop counting, as the member does.
    await pool.execute("UPDATE accounts SET suspended_at = now() WHERE id = $1", alice.account_id)
    v1 = await api(client, None, "GET", "/api/v1/instance")
    assert v1["stats"] == {"user_count": 1, "status_count": 0, "domain_count": 2}


async def test_rules_in_order_everywhere(client):
    pool = _pool(client)
    await pool.execute(
        "INSERT INTO rules (text, hint, position) VALUES"
        " ('Be kind', 'Assume good faith.', 2), ('No hate', '', 1)"
    )
    rules = await api(client, None, "GET", "/api/v1/instance/rules")
    for rule in rules:
        assert_matches("rule", rule)
    assert [(r["text"], r["hint"]) for r in rules] == [
        ("No hate", ""),
        ("Be kind", "Assume good faith."),
    ]
    assert (await api(client, None, "GET", "/api/v1/instance"))["rules"] == rules
    assert (await api(client, None, "GET", "/api/v2/instance"))["rules"] == rules


async def test_peers_are_known_domains_without_blocked_ones(client):
    for username, domain in [
        ("a", "remote.example"),
        ("b", "Remote.Example"),
        ("c", "zeta.example"),
        ("d", "bad.example"),
        ("e", "sub.bad.example"),
        ("f", "loud.example"),
        ("g", "meh.example"),
        ("h", "notbad.example"),
    ]:
        await _remote_account(client, username, domain)
    await _pool(client).execute(
        "INSERT INTO domain_blocks (domain, severity) VALUES"
        " ('bad.example', 'suspend'), ('loud.example', 'silence'), ('meh.example', 'noop')"
    )
    assert await api(client, None, "GET", "/api/v1/instance/peers") == [
        "meh.example",
        "notbad.example",
        "remote.example",
        "zeta.example",
    ]
    stats = (await api(client, None, "GET", "/api/v1/instance"))["stats"]
    assert stats["domain_count"] == 4


async def test_peers_empty(client):
    assert await api(client, None, "GET", "/api/v1/instance/peers") == []


async def test_a_stale_token_does_not_hide_the_instance(client):
    headers = {"Authorization": "Bearer not-a-token"}
    for path in ("/api/v1/instance/", "/api/v2/instance/", "/api/v1/instance/rules"):
        await api(client, None, "GET", path, headers=headers)
