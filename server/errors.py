"""Errors that carry a message safe to show a client, and the middleware that renders them.

Handlers, use cases and protocol code raise `federation.errors.KithError`; anything else that
escapes a handler becomes a logged 500 with a generic message. Every error body has Mastodon's
shape: `{"error": "..."}`.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from federation.errors import KithError
from server.json import json_response

log = logging.getLogger(__name__)


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
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if "\x00" in request.path:
            # PostgreSQL text cannot hold NUL: no path containing one names anything.
            raise KithError(404, "Record not found")
        return await handler(request)
    except KithError as exc:
        if exc.detail:
            log.info("%s %s: %s (%s)", request.method, request.path, exc.message, exc.detail)
        return json_response(exc.body(), status=exc.status, headers=exc.headers or None)
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
