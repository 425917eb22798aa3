"""Property-based fuzz of every route: whatever the parameters, no answer is a 5xx.

Routes are read from the application's router (as in `tests/test_bad_input.py`, which sweeps
them with fixed malformed bodies); the parameter names a route is likely to read are taken from
the source of its handler's module (`params.int("limit")`, `request.query.get("resource")`), so a
new parameter is fuzzed the day it is added. Hypothesis fills them with huge and negative
numbers, floats, odd and very long strings (NUL, RTL marks), nested lists and objects, sent as a
query string, a form, a multipart form or JSON, as an anonymous client, a member and an admin;
path parameters get ids of real rows as well as odd values.

Hypothesis runs in a worker thread, so the app keeps the test's event loop: each example sends
its request to that loop and waits. Examples share one fresh database per role; the run is
derandomized and keeps no example database, so it is the same on every machine.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from federation.excerpt import MAX_EXCERPT
from server.state import POOL
from tests.test_bad_input import ADMIN_SCOPES

ROLES = ["anonymous", "user", "admin"]
# Enough for `make test` to stay quick; KITH_FUZZ_EXAMPLES=200 searches harder.
EXAMPLES_PER_ROUTE = int(os.environ.get("KITH_FUZZ_EXAMPLES", "6"))
# Reproducible: each route's run has a seed of its own (`fuzz`), and no example is kept.
FUZZ = settings(
    max_examples=EXAMPLES_PER_ROUTE,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
# An error quotes at most an excerpt of what was sent, next to a sentence of its own.
MAX_ERROR = 4 * MAX_EXCERPT
# Past this, a query string would be refused by the HTTP parser before any route: sent as a form.
MAX_QUERY = 4000
# How handler modules read parameters: `params.int("limit")`, `item.str("keyword")`,
# `request.query.get("resource")`, `"title" in params`; the accessor says what a plausible value is.
PARAMETER_CALL = re.compile(
    r"\.(str|required_str|int|bool|id|list|dict|raw|duration|url)\(\s*\"(\w+)\""
)
QUERY_READ = re.compile(r"query(?:\.get\(|\.getall\(|\[)\s*\"(\w+)\"")
NAME_TEST = re.compile(r"\"(\w+)\" in params")
WORD = re.compile(r"\"([a-z][a-z_:]{1,24})\"")
# Most telling first: a name read with `int` and tested with `in` is an int.
KIND_ORDER = ["int", "duration", "id", "bool", "url", "list", "dict", "required_str", "str", "raw"]
# Read by authentication, not by handlers: a wrong token would only make every example a 401.
AUTH_PARAMETERS = {"access_token"}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

EDGE_INTS = [0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1]
BEYOND_BIGINT = [2**63, -(2**63) - 1, 10**30, "9" * 30, 1e300, -1e300]
ODD_STRINGS = [
    "",
    " ",
    "NaN",
    "-Infinity",
    "1e400",
    "-0",
    "0x1f",
    "1_000",
    "١٢",
    "true",
    "null",
    "\x00",
    "a\x00b",
    "\u202eevil\u200f",
    "\ufeff",
    "💥",
    "x" * 5000,
    "http://[",
    "https://",
    "//peer.test/x",
    "javascript:alert(1)",
    "https://peer.test/users/ana",
    "@",
    "a@b@c",
    "#kith",
    "%",
    "[]",
    "public",
    "direct",
    "home",
    "user",
    "read write",
    "urn:ietf:wg:oauth:2.0:oob",
]
NUMBER_STRINGS = ["1e400", "NaN", "1.5", "-0", "١٢", "9" * 30, " 7 ", "0x10", "1_0"]
ODD_URLS = [
    "http://[",
    "https://[::1",
    "javascript:alert(1)",
    "https://",
    "//peer.test/x",
    "http://a b/",
    "http://\u202e.example/",
    "https://peer.test/" + "x" * 3000,
]
WORDS = ["hello", "kith", "public", "home", "notifications", "accounts", "statuses", "read write"]
ODD_PATH_VALUES = [
    "abc",
    "0",
    "-1",
    "1.5",
    "99999999999999999999999",
    str(2**63),
    "\x00",
    "é\u202e",
]


# -- the routes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # (name, accessor) of the parameters its module reads: ("limit", "int").
    params: tuple[tuple[str, str], ...]
    # Short string literals of its module: likely values of its enumerations ("hashtags").
    words: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return sorted({name for name, _ in self.params})

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


def _modules_read_by(handler: Callable[..., Any]) -> set[ModuleType]:
    """The handler's module and the project modules it takes functions or modules from
    (`server.pagination`, `server.filtering`...), where parameter reading may happen."""
    module = inspect.getmodule(inspect.unwrap(handler))
    if module is None:
        return set()
    found = {module}
    for value in vars(module).values():
        source = value if inspect.ismodule(value) else inspect.getmodule(value)
        name = getattr(source, "__name__", "")
        if name.startswith(("server.", "web.", "federation.endpoints")) and name != "server.params":
            found.add(source)
    return found


def _params_read_by(handler: Callable[..., Any]) -> tuple[tuple[str, str], ...]:
    """(name, accessor) for each parameter; a name read two ways keeps the most telling."""
    found: list[tuple[str, str]] = []
    for module in _modules_read_by(handler):
        text = inspect.getsource(module)
        found.extend((name, kind) for kind, name in PARAMETER_CALL.findall(text))
        found.extend((name, "str") for name in QUERY_READ.findall(text))
        found.extend((name, "raw") for name in NAME_TEST.findall(text))
    kinds: dict[str, str] = {}
    for name, kind in sorted(found, key=lambda item: KIND_ORDER.index(item[1]), reverse=True):
        if name not in AUTH_PARAMETERS:
            kinds[name] = kind
    return tuple(sorted(kinds.items()))


def _words_of(handler: Callable[..., Any]) -> tuple[str, ...]:
    module = inspect.getmodule(inspect.unwrap(handler))
    return tuple(sorted(set(WORD.findall(inspect.getsource(module))))) if module else ()


def app_routes(app) -> list[Route]:
    """Every route but HEAD (GET's handler) and the static files."""
    routes = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method not in ("HEAD", "OPTIONS", "*"):
            path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)
            params = _params_read_by(route.handler)
            routes[route.method, path] = Route(route.method, path, params, _words_of(route.handler))
    return [routes[key] for key in sorted(routes)]


# -- what a request is made of --------------------------------------------------------------------


@dataclass
class World:
    """Real values to aim at: ids of rows, usernames, and every parameter name seen anywhere."""

    ids: list[int]
    usernames: list[str]
    all_names: list[str]
    path_values: dict[str, list[str]] = field(default_factory=dict)

    def for_path(self, name: str) -> list[str]:
        return self.path_values.get(name) or [str(n) for n in self.ids]


@dataclass
class Probe:
    method: str
    url: str
    encoding: str
    params: dict[str, Any]


# Text without NUL: one NUL anywhere makes the whole request a 400 before any handler reads a
# parameter, so it comes only now and then, from ODD_STRINGS.
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)


def scalars(world: World) -> st.SearchStrategy[Any]:
    real = world.ids + [str(n) for n in world.ids] + world.usernames
    return st.one_of(
        st.sampled_from(EDGE_INTS),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.none(),
        TEXT,
        st.sampled_from(ODD_STRINGS),
        st.sampled_from(real),
        st.sampled_from(real),
    )


def hostile(world: World) -> st.SearchStrategy[Any]:
    """Any value: single ones, and lists and objects nested a few levels, empty ones included."""
    keys = st.one_of(st.sampled_from(world.all_names), TEXT)
    return st.recursive(
        scalars(world),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=6,
    )


def plausible(kind: str, route: Route, world: World) -> st.SearchStrategy[Any]:
    """A value of the kind the handler reads, so the request gets past this parameter."""
    ids = st.sampled_from([str(n) for n in world.ids])
    words = st.sampled_from(route.words or WORDS) | st.sampled_from([*world.usernames, *WORDS])
    return {
        "int": st.integers(0, 100) | st.sampled_from([20, 40, 3600]),
        "duration": st.sampled_from([0, 60, 3600, 86400]),
        "id": ids,
        "bool": st.booleans(),
        "list": st.lists(ids | words, max_size=3),
        "dict": st.dictionaries(st.sampled_from(world.all_names), words, max_size=2),
        "url": st.sampled_from(["https://client.example/", "http://peer.test/x"]),
    }.get(kind, words | ids | TEXT)


NUMBERS = st.one_of(
    st.sampled_from(BEYOND_BIGINT),
    st.sampled_from([*EDGE_INTS, *map(str, EDGE_INTS), *NUMBER_STRINGS]),
    st.integers(),
    st.floats(),
)


def extreme(kind: str, world: World) -> st.SearchStrategy[Any]:
    """A value at or past the edge of what the handler reads: huge, negative or not-quite
    numbers, odd URLs and strings, empty or nested lists, and any value at all."""
    specific = {
        "int": NUMBERS,
        "duration": NUMBERS,
        "id": NUMBERS,
        "bool": st.sampled_from(["maybe", 2, -1, "TRUE ", 0.5]),
        "url": st.sampled_from(ODD_URLS),
        "list": st.sampled_from([[], [""], "", "a b", [[]], [{}]]),
        "dict": st.sampled_from([{}, [], "", {"": ""}]),
    }.get(kind, st.sampled_from(ODD_STRINGS) | TEXT)
    return st.one_of(specific, specific, hostile(world))


@st.composite
def probes(draw: st.DrawFn, route: Route, world: World) -> Probe:
    """A request to `route`: one of its parameters (or a stray one) with an extreme value, some
    of the others with plausible values, its path filled with ids of real rows or odd values."""
    stray = (draw(st.one_of(st.sampled_from(world.all_names), TEXT)), "raw")
    target = draw(st.sampled_from([*route.params, stray]))
    params = {
        name: draw(plausible(kind, route, world))
        for name, kind in route.params
        if draw(st.booleans())
    }
    params[target[0]] = draw(extreme(target[1], world))
    path = route.path
    for slot in re.findall(r"\{(\w+)\}", route.path):
        value = draw(st.sampled_from(world.for_path(slot) + ODD_PATH_VALUES))
        path = path.replace(f"{{{slot}}}", quote(value, safe=""), 1)
    # A GET's body is never read: its parameters go in the query string.
    encodings = ["query"] if route.method == "GET" else ["query", "form", "multipart", "json"]
    encoding = draw(st.sampled_from(encodings))
    return Probe(route.method, path, encoding, params)


def form_pairs(name: str, value: Any) -> Iterator[tuple[str, str]]:
    """`value` as form fields, the way Rails clients nest them: `a[]=`, `a[0][b]=`."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            slot = f"{name}[{index}]" if isinstance(item, dict | list) else f"{name}[]"
            yield from form_pairs(slot, item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from form_pairs(f"{name}[{key}]", item)
    elif isinstance(value, bool):
        yield name, str(value).lower()
    elif value is not None:
        yield name, str(value)


# -- sending and judging --------------------------------------------------------------------------


def request_arguments(probe: Probe) -> dict[str, Any]:
    pairs = [pair for name, value in probe.params.items() for pair in form_pairs(name, value)]
    encoding = probe.encoding
    if encoding == "query" and len(urlencode(pairs)) > MAX_QUERY:
        encoding = "form"
    if encoding == "multipart" and any(CONTROL.search(key + value) for key, value in pairs):
        encoding = "form"  # a multipart part's headers cannot carry them
    if encoding == "query":
        return {"params": pairs}
    if encoding == "form":
        return {"data": urlencode(pairs), "content_type": "application/x-www-form-urlencoded"}
    if encoding == "multipart":
        form = aiohttp.FormData()
        for key, value in pairs:
            form.add_field(key, value)
        return {"data": form if pairs else b"", "content_type": None}
    return {"data": json.dumps(probe.params), "content_type": "application/json"}


async def send(client, probe: Probe, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """(status, content type, body); a stream's body is not waited for."""
    arguments = request_arguments(probe)
    content_type = arguments.pop("content_type", None)
    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    async with client.request(
        probe.method, probe.url, headers=sent, allow_redirects=False, **arguments
    ) as response:
        streaming = response.content_type == "text/event-stream"
        body = b"" if streaming else await response.read()
        return response.status, response.content_type, body


def problem_with(route: Route, status: int, content_type: str, body: bytes) -> str | None:
    """Why this answer breaks the rules, or None."""
    if status >= 500:
        return f"answered {status}: {body[:300]!r}"
    if status < 400 or content_type != "application/json":
        return "an API error that is not JSON" if route.is_api and status >= 400 else None
    payload = json.loads(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), str):
        return f"error body without an error: {body[:300]!r}"
    if len(payload["error"]) > MAX_ERROR:
        return f"error echoes {len(payload['error'])} characters: {body[:300]!r}"
    return None


def fuzz(
    route: Route, world: World, role: str, call: Callable[[Probe], tuple[int, str, bytes]]
) -> None:
    """Run Hypothesis on one route (in a worker thread); raises on the first rule broken."""

    @seed(zlib.crc32(f"{role} {route.method} {route.path}".encode()))
    @FUZZ
    @given(probe=probes(route, world))
    def check(probe: Probe) -> None:
        problem = problem_with(route, *call(probe))
        assert problem is None, f"{probe.method} {probe.url}: {problem}"

    check()


# -- the world the fuzz runs in -------------------------------------------------------------------


async def ok(response) -> dict[str, Any]:
    assert response.status == 200, await response.text()
    return await response.json()


async def populate(client, make_member) -> list[dict[str, str]]:
    """A few rows of each kind, made through the API: two members' statuses, a follow, a
    favourite, a filter with a keyword and a status, a report, domain blocks and allows.
    Returns the headers of (prober, admin)."""
    prober = await make_member("prober")
    target = await make_member("target")
    admin = await make_member("boss", role="admin", scopes=ADMIN_SCOPES)
    post = await ok(
        await client.post(
            "/api/v1/statuses", json={"status": "hello #kith"}, headers=target.headers
        )
    )
    await ok(await client.post("/api/v1/statuses", json={"status": "me"}, headers=prober.headers))
    for action in ("follow", "mute"):
        url = f"/api/v1/accounts/{target.account_id}/{action}"
        await ok(await client.post(url, headers=prober.headers))
    await ok(await client.post(f"/api/v1/statuses/{post['id']}/favourite", headers=prober.headers))
    rule = {"title": "t", "context": ["home"], "keywords_attributes": [{"keyword": "kith"}]}
    filter_ = await ok(await client.post("/api/v2/filters", json=rule, headers=prober.headers))
    await ok(
        await client.post(
            f"/api/v2/filters/{filter_['id']}/statuses",
            json={"status_id": post["id"]},
            headers=prober.headers,
        )
    )
    report = {"account_id": target.account_id, "status_ids": [post["id"]], "comment": "spam"}
    await ok(await client.post("/api/v1/reports", json=report, headers=prober.headers))
    for kind in ("domain_blocks", "domain_allows"):
        body = {"domain": f"{kind.replace('_', '-')}.example"}
        await ok(await client.post(f"/api/v1/admin/{kind}", json=body, headers=admin.headers))
    return [prober.headers, admin.headers]


async def row_ids(client) -> list[int]:
    """The newest few ids of every table with a numeric id."""
    pool = client.server.app[POOL]
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND column_name = 'id' AND data_type IN ('bigint', 'integer')"
    )
    ids: set[int] = set()
    for table in tables:
        rows = await pool.fetch(f'SELECT id FROM "{table["table_name"]}" ORDER BY id DESC LIMIT 3')
        ids.update(row["id"] for row in rows)
    return sorted(ids)


async def make_world(client, routes: list[Route]) -> World:
    usernames = ["prober", "target", "boss"]
    return World(
        ids=await row_ids(client),
        usernames=usernames,
        all_names=sorted({name for route in routes for name, _ in route.params}),
        path_values={
            "username": usernames,
            "hashtag": ["kith"],
            "version": ["2.0", "2.1"],
            # Stream names would open streams that never end: odd values only.
            "path": ["nothing"],
        },
    )


# -- the tests ------------------------------------------------------------------------------------


async def test_routes_are_found_with_their_parameters(client):
    routes = {(route.method, route.path): route for route in app_routes(client.server.app)}
    assert "status" in routes["POST", "/api/v1/statuses"].names
    assert "limit" in routes["GET", "/api/v1/timelines/public"].names
    assert "resource" in routes["GET", "/.well-known/webfinger"].names
    assert ("POST", "/inbox") in routes and ("GET", "/@{username}/{status_id}") in routes


def test_answers_are_judged():
    api = Route("GET", "/api/v1/x", (), ())
    assert problem_with(api, 500, "application/json", b'{"error": "x"}') is not None
    assert problem_with(api, 404, "text/plain", b"Not Found") is not None
    assert problem_with(api, 422, "application/json", b'{"error": "%s"}' % (b"x" * 1000))
    assert problem_with(api, 422, "application/json", b'{"error": "bad"}') is None
    assert problem_with(Route("GET", "/@{username}", (), ()), 404, "text/html", b"") is None


@pytest.mark.parametrize("role", ROLES)
async def test_no_route_answers_5xx_whatever_its_parameters(client, make_member, role):
    routes = app_routes(client.server.app)
    prober, admin = await populate(client, make_member)
    world = await make_world(client, routes)
    headers = {"anonymous": {}, "user": prober, "admin": admin}[role]
    loop = asyncio.get_running_loop()

    def call(probe: Probe) -> tuple[int, str, bytes]:
        return asyncio.run_coroutine_threadsafe(send(client, probe, headers), loop).result(60)

    def fuzz_all() -> None:
        for route in routes:
            fuzz(route, world, role, call)

    await loop.run_in_executor(None, fuzz_all)
