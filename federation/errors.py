"""The one error type: a request that cannot be carried out, and what to tell whom about it.

Raised by the use cases, the protocol code and the API handlers alike. Each surface renders it
its own way: the client API as Mastodon's `{"error": ...}` JSON with the status
(`server/errors.py`), the inbox as a recorded refusal (`server/inbox`), the CLI as one line
(`server/cli.py`), web pages as an HTML page. `message` is safe to show the client; `detail`
goes to the log only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class KithError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        detail: str | None = None,
        description: str | None = None,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, list[dict[str, str]]] | None = None,
    ) -> None:
        """`description` is OAuth's `error_description` (RFC 6749: `message` is then the error
        code); `headers` go on the HTTP response (e.g. `Retry-After`); `details` are per-field
        validation failures in Mastodon's shape (`{"username": [{"error": "ERR_TAKEN",
        "description": "has already been taken"}]}`), as sign-up answers them."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.description = description
        self.headers = dict(headers or {})
        self.details = dict(details or {})

    def body(self) -> dict[str, Any]:
        """The client API's JSON body, in Mastodon's shape."""
        body: dict[str, Any] = {"error": self.message}
        if self.description:
            body["error_description"] = self.description
        if self.details:
            body["details"] = self.details
        return body


def not_found(message: str = "Record not found") -> KithError:
    return KithError(404, message)


def invalid(message: str) -> KithError:
    return KithError(422, f"Validation failed: {message}")


def forbidden(message: str = "This action is not allowed") -> KithError:
    return KithError(403, message)
