"""What changed between a subscription's accepted entries and a freshly fetched list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from storage.blocklist_subscriptions import ENTRY_FIELDS
from storage.db import Row


@dataclass(frozen=True)
class Change:
    domain: str
    action: str  # "add", "update" or "remove"
    fields: dict[str, Any] = field(default_factory=dict)  # the new entry; empty for "remove"


def entry_fields(row: Row) -> dict[str, Any]:
    """The fields of an entry (or of a change) that a list decides."""
    return {name: row[name] for name in ENTRY_FIELDS}


def diff(
    current: Mapping[str, Mapping[str, Any]], listed: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    """The changes that turn `current` into `listed` (both: domain → entry fields), by domain."""
    changes = []
    for domain in sorted(current.keys() | listed.keys()):
        old, new = current.get(domain), listed.get(domain)
        if new is None:
            changes.append(Change(domain, "remove"))
        elif old is None:
            changes.append(Change(domain, "add", dict(new)))
        elif entry_fields(old) != entry_fields(new):
            changes.append(Change(domain, "update", dict(new)))
    return changes
