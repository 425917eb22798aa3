"""Routing a stored activity to the handler for its type.

Each handler module registers its types on a `Dispatcher`; registering a type twice is a wiring
mistake and raises at start-up (Fedify's listeners refuse it too). A type nobody handles is
acknowledged and logged, never an error: peers send many types Kith has no use for.

A handler returns the outcome recorded on the activity: `OK`, `ignored(why)` (nothing to do
here) or `refused(why)` (not allowed or not believable).

Dispatching is the chokepoint every delivered activity passes: before any handler runs, the
activity is screened by the policy pipeline (`federation.policies.pipeline`), and the handler
sees it as the pipeline rewrote it. A rejected activity is recorded as refused, a held one as
ignored (an admin releases it later). A Create that only names its post is given the post as
its origin serves it first, so the policies judge what will be stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from federation.context import Federation
from federation.errors import KithError
from federation.fetch import fetch_object
from federation.parse.actors import authority
from federation.parse.notes import reference
from federation.policies import pipeline
from federation.policies.base import HOLD, REJECT

log = logging.getLogger(__name__)

OK = "ok"


def ignored(why: str) -> str:
    return f"ignored: {why}"


def refused(why: str) -> str:
    return f"refused: {why}"


async def carried_out(work: Awaitable[object]) -> str:
    """The outcome of a use case's `work`: what it returns when that is an outcome (a `str`),
    else `OK`. Its "not found" (no such status here, nobody here concerned) is ignored rather
    than refused: peers send edits and deletes of posts they never sent here, and posts to
    everyone. Any other `KithError` is a refusal, which the inbox job records."""
    try:
        result = await work
    except KithError as exc:
        if exc.status != 404:
            raise
        return ignored(exc.message)
    return result if isinstance(result, str) else OK


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
        activity = await _with_post(fed, activity)
        verdict = await pipeline.screen(fed, activity.payload, authority(activity.actor_uri))
        if verdict.action == REJECT:
            return refused(f"rejected by policy {verdict.policy}: {verdict.reason}")
        if verdict.action == HOLD:
            return ignored(f"held for review by policy {verdict.policy}: {verdict.reason}")
        activity = replace(activity, payload=verdict.activity)
        with pipeline.screened(verdict.activity):
            return await handler(fed, activity)


async def _with_post(fed: Federation, activity: Activity) -> Activity:
    """A Create naming its object only by id, with the object fetched from its origin."""
    uri = reference(activity.object)
    if activity.type != "Create" or isinstance(activity.object, dict) or uri is None:
        return activity
    return replace(activity, payload={**activity.payload, "object": await fetch_object(fed, uri)})
