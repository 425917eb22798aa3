"""The streams a client can ask for, as Mastodon names them, and a subscription to one.

A stream is known to the hub by its key: the member's own streams by their account
(`user:<id>`, `notification:<id>`), the shared ones by what they show (`public:local`,
`hashtag:<tag>`, `direct`, whose statuses are then checked against each viewer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from server.scopes import covers

# Mastodon's stream names, and the filter context each stream's statuses are judged in.
FILTER_CONTEXTS = {
    "user": "home",
    "user:notification": "notifications",
    "public": "public",
    "public:local": "public",
    "public:remote": "public",
    "public:media": "public",
    "public:local:media": "public",
    "public:remote:media": "public",
    "hashtag": "public",
    "hashtag:local": "public",
    "direct": None,
}


class StreamError(Exception):
    """A stream that cannot be had: `status` and message as Mastodon answers them."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Stream:
    name: str
    tag: str | None = None

    @property
    def label(self) -> list[str]:
        """The `stream` array sent with each WebSocket event."""
        return [self.name, self.tag] if self.tag is not None else [self.name]

    @property
    def filter_context(self) -> str | None:
        return FILTER_CONTEXTS[self.name]

    def key(self, viewer_id: int) -> str:
        if self.name == "user":
            return f"user:{viewer_id}"
        if self.name == "user:notification":
            return f"notification:{viewer_id}"
        if self.tag is not None:
            return f"{self.name}:{self.tag.lower()}"
        return self.name


def parse_stream(name: str, *, tag: str | None = None, list_id: str | None = None) -> Stream:
    """The stream `name` (with its `tag`); lists are not supported, so no list exists."""
    if name == "list":
        raise (
            StreamError(404, "Record not found")
            if list_id
            else StreamError(400, "Missing list name parameter")
        )
    if name not in FILTER_CONTEXTS:
        raise StreamError(400, "Unknown stream type")
    if name.startswith("hashtag"):
        tag = (tag or "").strip().lstrip("#")
        if not tag:
            raise StreamError(400, "Missing tag name parameter")
        return Stream(name, tag)
    return Stream(name)


def required_scope(stream: Stream) -> str:
    """Mastodon's rule: the notification stream needs `read:notifications`, the others
    `read:statuses` (`read` covers both)."""
    return "read:notifications" if stream.name == "user:notification" else "read:statuses"


def check_scope(scopes: frozenset[str], stream: Stream) -> None:
    if not covers(scopes, required_scope(stream)):
        raise StreamError(401, "Access token does not have the required scopes")


class Sink(Protocol):
    """Where a connection's events go (an SSE response, a WebSocket). Once it is closed or
    revoked, nothing more is sent, not even events already waiting."""

    def send(self, stream: Stream, event: str, payload: str | None) -> None: ...

    def close(self) -> None:
        """End the connection: the server shuts down, or the client reads too slowly."""

    def revoke(self) -> None:
        """End the connection because its token or member may no longer read."""


@dataclass(frozen=True)
class Grant:
    """What let a connection in: the access token and its member's account. The hub ends the
    connection when the token is revoked or the member shut out (migration 0012)."""

    token_id: int
    account_id: int


@dataclass(eq=False)
class Subscription:
    """One stream of one connection, whose events go to the connection's `sink`.

    `notifications` is whether the token may read notifications: the user stream carries them
    only then, as in Mastodon.
    """

    viewer_id: int
    stream: Stream
    notifications: bool
    sink: Sink = field(repr=False)

    @property
    def key(self) -> str:
        return self.stream.key(self.viewer_id)

    def send(self, event: str, payload: str | None) -> None:
        self.sink.send(self.stream, event, payload)
