"""Routing a stored activity to the handler for its type.

Each handler module registers its types on a `Dispatcher`; registering a type twice is a wiring
mistake and raises at start-up (Fedify's listeners refuse it too). A type nobody handles is
acknowledged and logged, never an error: peers send many types Kith has no use for.

A handler returns the outcome recorded on the activity: `OK`, `ignored(why)` (nothing to do
here) or `refused(why)` (not allowed or not believable).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from federation.context import Federation

log = logging.getLogger(__name__)

OK = "ok"


def ignored(why: str) -> str:
    return f"ignored: {why}"


def refused(why: str) -> str:
    return f"refused: {why}"


@dataclass(frozen=True)
class Activity:
    """A stored activity as handlers see it."""

    uri: str
    type: str
    actor_uri: str
    payload: dict[str, Any]

    @property
    def object(self) -> Any:
        return self.payload.get("object")


Handler = Callable[[Federation, Activity], Awaitable[str]]


class Dispatcher:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, type_: str, handler: Handler) -> None:
        """Route activities of `type_` to `handler`; a type has exactly one handler."""
        if type_ in self._handlers:
            raise ValueError(f"a handler for {type_!r} activities is already registered")
        self._handlers[type_] = handler

    async def dispatch(self, fed: Federation, activity: Activity) -> str:
        handler = self._handlers.get(activity.type)
        if handler is None:
            log.info("inbox: %s %s: unsupported type", activity.type, activity.uri)
            return ignored(f"unsupported type {activity.type}")
        return await handler(fed, activity)
