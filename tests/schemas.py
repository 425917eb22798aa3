"""Check API responses against the JSON schemas in `schemas/mastodon/`.

`assert_matches("account", data)` validates `data` against `schemas/mastodon/account.json`
(draft 2020-12). A schema may refer to another by file name (`{"$ref": "account.json"}`).

Every test client (the `client` fixture, the harness's instances) also checks each JSON answer to
`/api/v1/...` and `/api/v2/...` on its own, through the `checked_api_responses` middleware:
`ROUTES` says what each route answers on success, and an error answers `error.json`. Each
schema's validator is compiled once a session.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientRequest, ClientResponse
from aiohttp.client_middlewares import ClientHandlerType
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "mastodon"
# Schemas get this base so that relative `$ref`s name sibling files.
BASE_URI = "https://kith.invalid/schemas/mastodon/"


def _load(name: str) -> dict[str, Any]:
    schema = json.loads((SCHEMA_DIR / name).read_text())
    schema.setdefault("$id", BASE_URI + name)
    return schema


def _retrieve(uri: str) -> Resource:
    if not uri.startswith(BASE_URI) or not (SCHEMA_DIR / uri.removeprefix(BASE_URI)).is_file():
        raise NoSuchResource(ref=uri)
    return Resource.from_contents(
        _load(uri.removeprefix(BASE_URI)), default_specification=DRAFT202012
    )


_REGISTRY: Registry = Registry(retrieve=_retrieve)


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = _load(f"{name}.json")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, registry=_REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_matches(name: str, data: Any) -> None:
    """Fail with every violation listed when `data` does not match schema `name`."""
    errors = sorted(_validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(f"  at {list(e.absolute_path)}: {e.message}" for e in errors)
        raise AssertionError(f"response does not match schema {name!r}:\n{details}")


# -- every API response ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """What a route answers with on success: one `entity` (a schema's file name without
    `.json`) or, when `many`, a JSON array of them."""

    entity: str
    many: bool = False

    def __str__(self) -> str:
        return f"array of {self.entity}.json" if self.many else f"{self.entity}.json"


def one(entity: str) -> Body:
    return Body(entity)


def many(entity: str) -> Body:
    return Body(entity, many=True)


# Every client API route by method and aiohttp's route pattern, with what it answers on success.
# An error (4xx, 5xx) answers `error.json` whatever the route.
ROUTES: dict[tuple[str, str], Body] = {
    ("POST", "/api/v1/apps"): one("application"),
    ("GET", "/api/v1/apps/verify_credentials"): one("application"),
    ("POST", "/api/v1/accounts"): one("token"),
    ("GET", "/api/v1/accounts/verify_credentials"): one("credential_account"),
    ("PUT", "/api/v1/accounts/update_credentials"): one("credential_account"),
    ("PATCH", "/api/v1/accounts/update_credentials"): one("credential_account"),
    ("DELETE", "/api/v1/profile/avatar"): one("credential_account"),
    ("DELETE", "/api/v1/profile/header"): one("credential_account"),
    ("GET", "/api/v1/accounts/relationships"): many("relationship"),
    ("GET", "/api/v1/accounts/lookup"): one("account"),
    ("GET", "/api/v1/accounts/{id}"): one("account"),
    ("GET", "/api/v1/accounts/{id}/statuses"): many("status"),
    ("GET", "/api/v1/accounts/{id}/followers"): many("account"),
    ("GET", "/api/v1/accounts/{id}/following"): many("account"),
    ("POST", "/api/v1/accounts/{id}/follow"): one("relationship"),
    ("POST", "/api/v1/accounts/{id}/unfollow"): one("relationship"),
    ("POST", "/api/v1/accounts/{id}/block"): one("relationship"),
    ("POST", "/api/v1/accounts/{id}/unblock"): one("relationship"),
    ("POST", "/api/v1/accounts/{id}/mute"): one("relationship"),
    ("POST", "/api/v1/accounts/{id}/unmute"): one("relationship"),
    ("POST", "/api/v1/accounts/{id}/remove_from_followers"): one("relationship"),
    ("GET", "/api/v1/follow_requests"): many("account"),
    ("POST", "/api/v1/follow_requests/{id}/authorize"): one("relationship"),
    ("POST", "/api/v1/follow_requests/{id}/reject"): one("relationship"),
    ("GET", "/api/v1/blocks"): many("account"),
    ("GET", "/api/v1/mutes"): many("account"),
    ("GET", "/api/v1/domain_blocks"): many("domain"),
    ("POST", "/api/v1/domain_blocks"): one("empty"),
    ("DELETE", "/api/v1/domain_blocks"): one("empty"),
    ("POST", "/api/v1/statuses"): one("status"),
    ("GET", "/api/v1/statuses/{id}"): one("status"),
    ("PUT", "/api/v1/statuses/{id}"): one("status"),
    ("DELETE", "/api/v1/statuses/{id}"): one("status"),
    ("GET", "/api/v1/statuses/{id}/context"): one("context"),
    ("POST", "/api/v1/statuses/{id}/favourite"): one("status"),
    ("POST", "/api/v1/statuses/{id}/unfavourite"): one("status"),
    ("POST", "/api/v1/statuses/{id}/reblog"): one("status"),
    ("POST", "/api/v1/statuses/{id}/unreblog"): one("status"),
    ("GET", "/api/v1/statuses/{id}/favourited_by"): many("account"),
    ("GET", "/api/v1/statuses/{id}/reblogged_by"): many("account"),
    ("GET", "/api/v1/statuses/{id}/history"): many("status_edit"),
    ("GET", "/api/v1/statuses/{id}/source"): one("status_source"),
    ("POST", "/api/v1/media"): one("media_attachment"),
    ("POST", "/api/v2/media"): one("media_attachment"),
    ("GET", "/api/v1/media/{id}"): one("media_attachment"),
    ("PUT", "/api/v1/media/{id}"): one("media_attachment"),
    ("DELETE", "/api/v1/media/{id}"): one("empty"),
    ("GET", "/api/v1/polls/{id}"): one("poll"),
    ("POST", "/api/v1/polls/{id}/votes"): one("poll"),
    ("GET", "/api/v1/markers"): one("markers"),
    ("POST", "/api/v1/markers"): one("markers"),
    ("GET", "/api/v2/search"): one("search"),
    ("GET", "/api/v1/timelines/home"): many("status"),
    ("GET", "/api/v1/timelines/public"): many("status"),
    ("GET", "/api/v1/timelines/tag/{hashtag}"): many("status"),
    ("GET", "/api/v1/notifications"): many("notification"),
    ("GET", "/api/v1/notifications/{id}"): one("notification"),
    ("POST", "/api/v1/notifications/clear"): one("empty"),
    ("POST", "/api/v1/notifications/{id}/dismiss"): one("empty"),
    ("GET", "/api/v1/instance"): one("instance_v1"),
    ("GET", "/api/v1/instance/"): one("instance_v1"),
    ("GET", "/api/v2/instance"): one("instance_v2"),
    ("GET", "/api/v2/instance/"): one("instance_v2"),
    ("GET", "/api/v1/instance/rules"): many("rule"),
    ("GET", "/api/v1/instance/peers"): many("domain"),
    ("GET", "/api/v1/instance/domain_blocks"): many("domain_block"),
    ("GET", "/api/v2/filters"): many("filter"),
    ("POST", "/api/v2/filters"): one("filter"),
    ("GET", "/api/v2/filters/{id}"): one("filter"),
    ("PUT", "/api/v2/filters/{id}"): one("filter"),
    ("DELETE", "/api/v2/filters/{id}"): one("empty"),
    ("GET", "/api/v2/filters/{id}/keywords"): many("filter_keyword"),
    ("POST", "/api/v2/filters/{id}/keywords"): one("filter_keyword"),
    ("GET", "/api/v2/filters/keywords/{id}"): one("filter_keyword"),
    ("PUT", "/api/v2/filters/keywords/{id}"): one("filter_keyword"),
    ("DELETE", "/api/v2/filters/keywords/{id}"): one("empty"),
    ("GET", "/api/v2/filters/{id}/statuses"): many("filter_status"),
    ("POST", "/api/v2/filters/{id}/statuses"): one("filter_status"),
    ("GET", "/api/v2/filters/statuses/{id}"): one("filter_status"),
    ("DELETE", "/api/v2/filters/statuses/{id}"): one("empty"),
    ("POST", "/api/v1/reports"): one("report"),
    ("GET", "/api/v1/invites"): many("invite"),
    ("POST", "/api/v1/invites"): one("invite"),
    ("DELETE", "/api/v1/invites/{id}"): one("invite"),
    ("GET", "/api/v1/admin/accounts"): many("admin_account"),
    ("GET", "/api/v2/admin/accounts"): many("admin_account"),
    ("GET", "/api/v1/admin/accounts/{id}"): one("admin_account"),
    ("POST", "/api/v1/admin/accounts/{id}/action"): one("empty"),
    ("POST", "/api/v1/admin/accounts/{id}/reject"): one("admin_account"),
    ("POST", "/api/v1/admin/accounts/{id}/approve"): one("admin_account"),
    ("POST", "/api/v1/admin/accounts/{id}/enable"): one("admin_account"),
    ("POST", "/api/v1/admin/accounts/{id}/unsilence"): one("admin_account"),
    ("POST", "/api/v1/admin/accounts/{id}/unsuspend"): one("admin_account"),
    ("POST", "/api/v1/admin/accounts/{id}/unsensitive"): one("admin_account"),
    ("GET", "/api/v1/admin/reports"): many("admin_report"),
    ("GET", "/api/v1/admin/reports/{id}"): one("admin_report"),
    ("POST", "/api/v1/admin/reports/{id}/assign_to_self"): one("admin_report"),
    ("POST", "/api/v1/admin/reports/{id}/unassign"): one("admin_report"),
    ("POST", "/api/v1/admin/reports/{id}/resolve"): one("admin_report"),
    ("POST", "/api/v1/admin/reports/{id}/reopen"): one("admin_report"),
    ("GET", "/api/v1/admin/audit_log"): many("audit_log_entry"),
    ("GET", "/api/v1/admin/domain_blocks"): many("admin_domain_block"),
    ("POST", "/api/v1/admin/domain_blocks"): one("admin_domain_block"),
    ("GET", "/api/v1/admin/domain_blocks/{id}"): one("admin_domain_block"),
    ("PUT", "/api/v1/admin/domain_blocks/{id}"): one("admin_domain_block"),
    ("DELETE", "/api/v1/admin/domain_blocks/{id}"): one("empty"),
    ("GET", "/api/v1/admin/domain_allows"): many("admin_domain_allow"),
    ("POST", "/api/v1/admin/domain_allows"): one("admin_domain_allow"),
    ("GET", "/api/v1/admin/domain_allows/{id}"): one("admin_domain_allow"),
    ("DELETE", "/api/v1/admin/domain_allows/{id}"): one("empty"),
    ("GET", "/api/v1/admin/registrations"): one("registrations"),
    ("PUT", "/api/v1/admin/registrations"): one("registrations"),
    ("GET", "/api/v1/admin/federation"): one("federation_settings"),
    ("PUT", "/api/v1/admin/federation"): one("federation_settings"),
    ("GET", "/api/v1/admin/polls"): one("poll_settings"),
    ("PUT", "/api/v1/admin/polls"): one("poll_settings"),
    ("GET", "/api/v1/admin/blocklist_subscriptions"): many("blocklist_subscription"),
    ("POST", "/api/v1/admin/blocklist_subscriptions"): one("blocklist_subscription"),
    ("GET", "/api/v1/admin/blocklist_subscriptions/{id}"): one("blocklist_subscription"),
    ("PUT", "/api/v1/admin/blocklist_subscriptions/{id}"): one("blocklist_subscription"),
    ("DELETE", "/api/v1/admin/blocklist_subscriptions/{id}"): one("empty"),
    ("POST", "/api/v1/admin/blocklist_subscriptions/{id}/refresh"): one("blocklist_subscription"),
    ("GET", "/api/v1/admin/blocklist_subscriptions/{id}/pending"): many("blocklist_change"),
    (
        "POST",
        "/api/v1/admin/blocklist_subscriptions/{id}/pending/{change_id}/approve",
    ): one("blocklist_subscription"),
    (
        "POST",
        "/api/v1/admin/blocklist_subscriptions/{id}/pending/{change_id}/reject",
    ): one("blocklist_subscription"),
    ("GET", "/api/v1/admin/policies"): many("policy"),
    ("POST", "/api/v1/admin/policies"): one("policy"),
    ("GET", "/api/v1/admin/policies/{id}"): one("policy"),
    ("PUT", "/api/v1/admin/policies/{id}"): one("policy"),
    ("DELETE", "/api/v1/admin/policies/{id}"): one("empty"),
    ("GET", "/api/v1/admin/policy_decisions"): many("policy_decision"),
    ("GET", "/api/v1/admin/held_activities"): many("held_activity"),
    ("POST", "/api/v1/admin/held_activities/{id}/release"): one("held_activity"),
    ("POST", "/api/v1/admin/held_activities/{id}/discard"): one("held_activity"),
}

# Client API routes that answer something other than JSON when they succeed: the streaming API
# (plain text, Server-Sent Events, WebSocket). Their errors are JSON and checked as errors.
NOT_JSON: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/api/v1/streaming/health"),
        ("GET", "/api/v1/streaming/{path}"),
        ("GET", "/api/v1/streaming"),
    }
)

ERROR = Body("error")
API_PREFIXES = ("/api/v1/", "/api/v2/")


def _pattern(route: str) -> re.Pattern[str]:
    return re.compile(
        "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", route)
        )
    )


# Literal routes first, so `/api/v1/accounts/lookup` is not taken for `/api/v1/accounts/{id}`
# (aiohttp decides the same way: Kith registers the literal routes before the patterns).
_MATCHERS: list[tuple[str, str, re.Pattern[str]]] = sorted(
    ((method, route, _pattern(route)) for method, route in ROUTES),
    key=lambda entry: entry[1].count("{"),
)


def route_for(method: str, path: str) -> str | None:
    """The route pattern in `ROUTES` that answers `method` on `path`, if any; like Kith
    (`server/trailing_slash.py`), a path with a trailing slash is answered by the route
    without it."""
    for candidate in (path, path[:-1]) if path.endswith("/") else (path,):
        for route_method, route, pattern in _MATCHERS:
            if route_method == method and pattern.fullmatch(candidate):
                return route
    return None


def _json_path(prefix: list[str | int], error: ValidationError) -> str:
    return "$" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}"
        for part in [*prefix, *error.absolute_path]
    )


def check_api_response(method: str, path: str, status: int, data: Any) -> None:
    """Fail, naming the route, the schema and each JSON path at fault, when the JSON body an
    API request answered does not match what the route answers (its error shape for >= 400)."""
    route = route_for(method, path)
    if status >= 400:
        body = ERROR
    elif route is None:
        raise AssertionError(f"{method} {path} answered JSON but no route in ROUTES matches it")
    else:
        body = ROUTES[(method, route)]
    where = f"{method} {route or path} ({status})"
    if body.many and not isinstance(data, list):
        raise AssertionError(f"{where}: expected {body}, got {type(data).__name__}")
    items = list(enumerate(data)) if body.many else [(None, data)]
    validator = _validator(body.entity)
    problems = [
        f"  at {_json_path([] if index is None else [index], error)}: {error.message}"
        for index, item in items
        for error in validator.iter_errors(item)
    ]
    if problems:
        raise AssertionError(f"{where} does not match {body}:\n" + "\n".join(problems))


async def checked_api_responses(
    request: ClientRequest, handler: ClientHandlerType
) -> ClientResponse:
    """aiohttp client middleware: every JSON answer to the client API is checked against the
    schemas. Streams and other content types pass through unread."""
    response = await handler(request)
    path = request.url.path
    if (
        request.method != "HEAD"
        and path.startswith(API_PREFIXES)
        and response.content_type == "application/json"
    ):
        check_api_response(request.method, path, response.status, await response.json())
    return response
