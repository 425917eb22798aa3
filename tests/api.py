"""One way for tests to call Kith's client API.

`await api(client, alice, "POST", "/api/v1/statuses", json={"status": "hi"})` sends the request
with alice's token (anonymously with `None`), asserts the answer's status (`expect=`, 200 unless
told) and returns its JSON body, or None when the body is empty. The client, whether the `client`
fixture or a harness instance's, has already checked that body against the schemas.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp.test_utils import TestClient


class Caller(Protocol):
    """A member as the tests hold one (conftest's `Member`, inbox_peer's `Local`)."""

    @property
    def headers(self) -> dict[str, str]: ...


async def api(
    client: TestClient,
    who: Caller | None,
    method: str,
    path: str,
    *,
    expect: int = 200,
    headers: dict[str, str] | None = None,
    **request: Any,
) -> Any:
    """`method` `path` as `who`; `request` is what aiohttp takes (`json=`, `params=`, `data=`),
    `headers` more headers to send."""
    sent = {**(who.headers if who is not None else {}), **(headers or {})}
    async with client.request(method, path, headers=sent, **request) as response:
        text = await response.text()
        assert response.status == expect, (
            f"{method} {path} answered {response.status}, not {expect}: {text[:500]}"
        )
        return json.loads(text) if text else None
