"""The table that checks every API response (`tests/schemas.py`) covers the app's routes, its
schemas are valid, and the check fails where a response does not match."""

from __future__ import annotations

import pytest
from aiohttp import web

from server.app import create_app
from server.config import Config
from tests.schemas import (
    API_PREFIXES,
    NOT_JSON,
    ROUTES,
    SCHEMA_DIR,
    check_api_response,
    checked_api_responses,
    route_for,
)


def _api_routes(tmp_path) -> set[tuple[str, str]]:
    app = create_app(Config(domain="kith.test", data_dir=tmp_path), "postgresql://unused/kith")
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        pattern = info.get("formatter") or info.get("path") or ""
        if route.method != "HEAD" and pattern.startswith(API_PREFIXES):
            routes.add((route.method, pattern))
    return routes


def test_every_api_route_has_a_schema(tmp_path):
    routes = _api_routes(tmp_path)
    missing = sorted(routes - ROUTES.keys() - NOT_JSON)
    assert not missing, "API routes with no entry in tests/schemas.py ROUTES: " + ", ".join(
        f"{method} {pattern}" for method, pattern in missing
    )
    stale = sorted((ROUTES.keys() | NOT_JSON) - routes)
    assert not stale, f"ROUTES names routes the app does not have: {stale}"


def test_every_schema_named_exists():
    names = {body.entity for body in ROUTES.values()} | {"error"}
    assert not [name for name in names if not (SCHEMA_DIR / f"{name}.json").is_file()]


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/api/v1/accounts/lookup", "/api/v1/accounts/lookup"),
        ("GET", "/api/v1/accounts/123", "/api/v1/accounts/{id}"),
        ("GET", "/api/v2/filters/keywords/5", "/api/v2/filters/keywords/{id}"),
        ("GET", "/api/v2/filters/5/keywords", "/api/v2/filters/{id}/keywords"),
        ("POST", "/api/v1/accounts/123", None),
    ],
)
def test_paths_resolve_to_their_route(method, path, route):
    assert route_for(method, path) == route


def test_a_mismatch_names_route_schema_and_path():
    with pytest.raises(AssertionError) as failure:
        check_api_response("GET", "/api/v1/instance/rules", 200, [{"id": "1", "text": 5}])
    message = str(failure.value)
    assert "GET /api/v1/instance/rules (200)" in message
    assert "array of rule.json" in message
    assert "$[0].text" in message and "$[0]: 'hint' is a required property" in message


def test_errors_are_checked_against_the_error_shape():
    check_api_response("GET", "/api/v1/accounts/1", 404, {"error": "Record not found"})
    with pytest.raises(AssertionError, match=r"error\.json"):
        check_api_response("GET", "/api/v1/accounts/1", 404, {"message": "Record not found"})


def test_json_from_an_unknown_route_fails():
    with pytest.raises(AssertionError, match="no route in ROUTES"):
        check_api_response("GET", "/api/v1/nowhere", 200, {})


async def test_the_client_middleware_fails_a_wrong_answer(aiohttp_client):
    """What the test clients run on every response: a wrong body fails the request that got it;
    a stream is passed through unread."""

    async def wrong_rules(request: web.Request) -> web.Response:
        return web.json_response([{"id": 1, "text": "Be kind", "hint": ""}])

    async def stream(request: web.Request) -> web.Response:
        return web.Response(text="data: {}\n\n", content_type="text/event-stream")

    app = web.Application()
    app.router.add_get("/api/v1/instance/rules", wrong_rules)
    app.router.add_get("/api/v1/streaming/public", stream)
    client = await aiohttp_client(app, middlewares=(checked_api_responses,))
    with pytest.raises(AssertionError, match=r"\$\[0\]\.id: 1 is not of type 'string'"):
        await client.get("/api/v1/instance/rules")
    assert (await client.get("/api/v1/streaming/public")).status == 200
