"""Errors that carry a message safe to show a client, and the middleware that renders them.

Handlers raise `ApiError(status, message)`; anything else that escapes a handler becomes a logged
500 with a generic message. Every error body has Mastodon's shape: `{"error": "..."}`.
"""

from __future__ import annotations

import logging

from aiohttp import web

from federation.errors import ServiceError
from server.json import json_response

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, description: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.description = description

    def body(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.description:
            body["error_description"] = self.description
        return body


def not_found(what: str = "Record not found") -> ApiError:
    return ApiError(404, what)


def unprocessable(message: str) -> ApiError:
    return ApiError(422, f"Validation failed: {message}")


_REASONS = {
    400: "Bad request",
    401: "The access token is invalid",
    403: "This action is not allowed",
    404: "Record not found",
    405: "Method not allowed",
    413: "Request entity too large",
    415: "Unsupported media type",
    422: "Unprocessable entity",
    429: "Too many requests",
}


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        if "\x00" in request.path:
            # PostgreSQL text cannot hold NUL: no path containing one names anything.
            raise ApiError(404, "Record not found")
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.body(), status=exc.status)
    except ServiceError as exc:
        return json_response({"error": exc.message}, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = _REASONS.get(exc.status, exc.reason)
        response = json_response({"error": message}, status=exc.status)
        for name in ("Allow", "Location"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return json_response({"error": "Internal server error"}, status=500)
