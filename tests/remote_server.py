"""A scripted remote server for fetch tests: serves fixture documents under a test host name.

Unlike a peer Kith instance it can misbehave on purpose (redirect loops, huge bodies, wrong
content types, spoofed ids), and it records every request it receives.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.test_utils import TestServer

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "activitypub"
ACTIVITY_JSON = "application/activity+json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: dict[str, str]


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


class RemoteServer:
    """`http://{host}/...` answering from `routes` (path -> handler); unknown paths are 404."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.base_url = f"http://{host}"
        self.routes: dict[str, Handler] = {}
        self.seen: list[Seen] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.server = TestServer(app)

    async def start(self, resolver: Any) -> RemoteServer:
        """Listen, and make `resolver` (the harness's LoopbackResolver) send `host` here."""
        await self.server.start_server()
        resolver.ports[self.host] = self.server.port
        return self

    async def close(self) -> None:
        await self.server.close()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers)))
        handler = self.routes.get(request.path)
        return await handler(request) if handler else web.Response(status=404)

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path_qs.split("?")[0] == path]

    def serve(
        self,
        path: str,
        doc: Any,
        *,
        content_type: str = ACTIVITY_JSON,
        status: int = 200,
    ) -> None:
        body = json.dumps(doc).encode()

        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, body=body, headers={"Content-Type": content_type})

        self.routes[path] = handler

    def fixture_actor(self, fixture: str, **changes: Any) -> dict[str, Any]:
        """Fixture `fixture` (e.g. "mastodon/objects/person.json") moved to this host, served at
        the path of its id; returns the document."""
        doc = load_fixture(fixture)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(doc["id"]))
        doc = json.loads(json.dumps(doc).replace(origin, self.base_url))
        doc.update(changes)
        self.serve(urlsplit(doc["id"]).path, doc)
        return doc

    def serve_webfinger(self, username: str, actor_id: str) -> None:
        """WebFinger for `username@host`, pointing at `actor_id`."""
        resource = f"acct:{username}@{self.host}"

        async def handler(request: web.Request) -> web.Response:
            if request.query.get("resource") != resource:
                return web.Response(status=404)
            return web.json_response(
                {
                    "subject": resource,
                    "links": [
                        {"rel": "self", "type": ACTIVITY_JSON, "href": actor_id},
                    ],
                },
                content_type="application/jrd+json",
            )

        self.routes["/.well-known/webfinger"] = handler
