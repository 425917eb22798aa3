"""Every API route answers malformed input with a 4xx and a JSON error, never a 500.

The routes are read from the application's router, so a new endpoint is covered the day it is
added.
"""

from __future__ import annotations

import re

import pytest

# Bodies that no endpoint accepts as meaningful input.
MALFORMED_BODIES = [
    ("application/json", b"{not json"),
    ("application/json", b"[1, 2, 3]"),
    ("application/json", b'{"status": {"nested": [1]}, "limit": "many", "id": [null]}'),
    ("application/x-www-form-urlencoded", b"a[b][=1&%zz=%%&limit=NaN&max_id=-5"),
    ("text/xml", b"<status/>"),
    ("application/json", b'{"status": "nul \\u0000 byte", "q": "\\u0000"}'),
    ("application/x-www-form-urlencoded", b"status=nul%00byte&acct=%00"),
]
PATH_VALUES = ["abc", "99999999999999999999999", "-1", "%00"]
# A plain member, and an admin whose requests get past the role check into every admin handler.
ROLES = ["user", "admin"]
ADMIN_SCOPES = ("read", "write", "follow", "push", "admin:read", "admin:write")


async def prober(make_member, role: str):
    return await make_member("prober", role=role, scopes=ADMIN_SCOPES)


def api_routes(app) -> list[tuple[str, str]]:
    routes = []
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if not path or not path.startswith(("/api/", "/oauth/")):
            continue
        for route in resource:
            if route.method not in ("HEAD", "OPTIONS", "*"):
                routes.append((route.method, path))
    return sorted(set(routes))


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


async def test_router_has_the_api(client):
    routes = api_routes(client.server.app)
    assert ("POST", "/api/v1/statuses") in routes
    assert ("GET", "/api/v1/timelines/home") in routes
    assert len(routes) > 40


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("content_type", "body"), MALFORMED_BODIES)
async def test_malformed_bodies_get_a_json_4xx(client, make_member, content_type, body, role):
    member = await prober(make_member, role)
    failures = []
    for method, path in api_routes(client.server.app):
        url = fill(path, "1")
        response = await client.request(
            method, url, data=body, headers={**member.headers, "Content-Type": content_type}
        )
        if response.status >= 500:
            failures.append(f"{method} {url}: {response.status}")
        elif response.status >= 400 and response.content_type == "application/json":
            payload = await response.json()
            if not isinstance(payload, dict) or "error" not in payload:
                failures.append(f"{method} {url}: error body {payload!r}")
    assert failures == []


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("value", PATH_VALUES)
async def test_odd_path_ids_are_not_found_not_errors(client, make_member, value, role):
    member = await prober(make_member, role)
    failures = []
    for method, path in api_routes(client.server.app):
        if "{" not in path:
            continue
        response = await client.request(method, fill(path, value), headers=member.headers)
        # A hashtag is a name, not an id: an unknown one is an empty timeline.
        names_a_tag = "{hashtag}" in path and value != "%00"
        if response.status >= 500 or (response.status < 400 and not names_a_tag):
            failures.append(f"{method} {fill(path, value)}: {response.status}")
    assert failures == []


async def test_oversized_body_is_413(client, make_member):
    member = await make_member("prober")
    response = await client.post(
        "/api/v1/statuses",
        data=b"status=" + b"x" * (2 * 1024 * 1024),
        headers={**member.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 413
    assert "error" in await response.json()


async def test_wrong_token_everywhere_is_401_or_public(client):
    failures = []
    for method, path in api_routes(client.server.app):
        response = await client.request(
            method, fill(path, "1"), headers={"Authorization": "Bearer not-a-token"}
        )
        if response.status >= 500:
            failures.append(f"{method} {path}: {response.status}")
    assert failures == []
