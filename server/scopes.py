"""OAuth scopes as Mastodon defines them, and the rule for whether granted scopes cover one."""

from __future__ import annotations

TOP_LEVEL = ("read", "write", "follow", "push", "profile", "admin:read", "admin:write")

_READ = (
    "accounts",
    "blocks",
    "bookmarks",
    "favourites",
    "filters",
    "follows",
    "lists",
    "mutes",
    "notifications",
    "search",
    "statuses",
)
_WRITE = (
    "accounts",
    "blocks",
    "bookmarks",
    "conversations",
    "favourites",
    "filters",
    "follows",
    "lists",
    "media",
    "mutes",
    "notifications",
    "reports",
    "statuses",
)
_ADMIN = (
    "accounts",
    "reports",
    "domain_allows",
    "domain_blocks",
    "ip_blocks",
    "email_domain_blocks",
    "canonical_email_blocks",
)

GRANULAR = (
    *(f"read:{s}" for s in _READ),
    *(f"write:{s}" for s in _WRITE),
    *(f"admin:read:{s}" for s in _ADMIN),
    *(f"admin:write:{s}" for s in _ADMIN),
)
ALL_SCOPES = frozenset(TOP_LEVEL + GRANULAR)

# The legacy `follow` scope covers these granular ones.
_FOLLOW_COVERS = frozenset(
    {"read:blocks", "write:blocks", "read:follows", "write:follows", "read:mutes", "write:mutes"}
)


def parse_scopes(text: str | list[str] | None, default: str = "read") -> list[str]:
    """Split a space- or plus-separated scope string; unknown scopes raise ValueError."""
    if text is None or text == "" or text == []:
        text = default
    items = text if isinstance(text, list) else text.replace("+", " ").split()
    scopes: list[str] = []
    for item in items:
        for scope in str(item).split():
            if scope not in ALL_SCOPES:
                raise ValueError(scope)
            if scope not in scopes:
                scopes.append(scope)
    return scopes


def covers(granted: frozenset[str] | set[str] | list[str], required: str) -> bool:
    """True when `granted` includes `required` directly or through a broader scope."""
    if required in granted:
        return True
    if required in _FOLLOW_COVERS and "follow" in granted:
        return True
    if required == "profile":
        return "read" in granted or "read:accounts" in granted
    parts = required.split(":")
    # admin:read:accounts <- admin:read ; read:statuses <- read
    return any(":".join(parts[:n]) in granted for n in range(1, len(parts)))
