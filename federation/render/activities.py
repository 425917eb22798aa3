"""Builders for the activities Kith sends, each the one place its shape is decided.

An activity that embeds an object (a `Note`, an actor, a received `Follow`) takes over the
object's @context, so the terms the object uses stay defined, and the embedded copy carries
neither its own @context nor a signature. Ids are stable where the thing they announce is: a
Create is its status's id plus `/activity`, an Accept or Reject is derived from the Follow's id,
an Undo from the undone activity's id.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from federation.render.context import AS, PUBLIC, timestamp

Document = dict[str, Any]


def create(note: Mapping[str, Any], actor_uri: str) -> Document:
    """A Create of `note` (as `render_note` makes it), addressed as the note is."""
    context, body = _embed(note)
    return {
        "@context": context,
        "id": f"{note['id']}/activity",
        "type": "Create",
        "actor": actor_uri,
        "published": body["published"],
        "to": body["to"],
        "cc": body["cc"],
        "object": body,
    }


def update(obj: Mapping[str, Any], actor_uri: str) -> Document:
    """An Update carrying the new version of `obj`, addressed as `obj` is."""
    context, body = _embed(obj)
    return {
        "@context": context,
        # Every update is a new activity: the id names the moment it was made.
        "id": _fragment(obj["id"], f"updates/{time.time_ns() // 1_000_000}"),
        "type": "Update",
        "actor": actor_uri,
        "to": body.get("to", []),
        "cc": body.get("cc", []),
        "object": body,
    }


def update_actor(actor_doc: Mapping[str, Any]) -> Document:
    """An actor's Update of its own profile, for everyone."""
    activity = update(actor_doc, actor_doc["id"])
    activity["to"] = [PUBLIC]
    return activity


def delete(
    object_uri: str,
    actor_uri: str,
    to: list[str],
    cc: list[str],
    *,
    former_type: str = "Note",
) -> Document:
    """A Delete of `object_uri`, with a Tombstone in its place (`former_type` "Person" for an
    actor deleting itself)."""
    return {
        "@context": AS,
        "id": f"{object_uri}#delete",
        "type": "Delete",
        "actor": actor_uri,
        "to": to,
        "cc": cc,
        "object": {"id": object_uri, "type": "Tombstone", "formerType": former_type},
    }


def announce(
    activity_id: str,
    actor_uri: str,
    object_uri: str,
    published: datetime,
    to: list[str],
    cc: list[str],
) -> Document:
    return {
        "@context": AS,
        "id": activity_id,
        "type": "Announce",
        "actor": actor_uri,
        "published": timestamp(published),
        "to": to,
        "cc": cc,
        "object": object_uri,
    }


def like(activity_id: str, actor_uri: str, object_uri: str) -> Document:
    return _simple("Like", activity_id, actor_uri, object_uri)


def follow(activity_id: str, actor_uri: str, target_uri: str) -> Document:
    return _simple("Follow", activity_id, actor_uri, target_uri)


def block(activity_id: str, actor_uri: str, target_uri: str) -> Document:
    return _simple("Block", activity_id, actor_uri, target_uri)


def accept(actor_uri: str, follow_activity: Mapping[str, Any]) -> Document:
    """`actor_uri` accepting a Follow (embedded, as Mastodon expects)."""
    return _answer("Accept", "accepts", actor_uri, follow_activity)


def reject(actor_uri: str, follow_activity: Mapping[str, Any]) -> Document:
    """`actor_uri` rejecting a Follow, or removing a follower it had accepted."""
    return _answer("Reject", "rejects", actor_uri, follow_activity)


def undo(actor_uri: str, activity: Mapping[str, Any]) -> Document:
    """An Undo of one of `actor_uri`'s activities (embedded), addressed as that activity was."""
    context, body = _embed(activity)
    undone: Document = {
        "@context": context,
        "id": _fragment(activity["id"], "undo"),
        "type": "Undo",
        "actor": actor_uri,
    }
    for key in ("to", "cc"):
        if key in body:
            undone[key] = body[key]
    undone["object"] = body
    return undone


def flag(
    activity_id: str, actor_uri: str, target_uri: str, status_uris: list[str], content: str
) -> Document:
    """A report of `target_uri` (and some of its statuses), sent as Mastodon does: by the
    instance actor, naming the account first in `object`."""
    return {
        "@context": AS,
        "id": activity_id,
        "type": "Flag",
        "actor": actor_uri,
        "content": content,
        "object": [target_uri, *status_uris],
    }


def _simple(kind: str, activity_id: str, actor_uri: str, object_uri: str) -> Document:
    return {
        "@context": AS,
        "id": activity_id,
        "type": kind,
        "actor": actor_uri,
        "object": object_uri,
    }


def _answer(kind: str, plural: str, actor_uri: str, follow_activity: Mapping[str, Any]) -> Document:
    _, body = _embed(follow_activity)
    digest = hashlib.sha256(str(follow_activity["id"]).encode()).hexdigest()[:32]
    return {
        "@context": AS,
        "id": _fragment(actor_uri, f"{plural}/follows/{digest}"),
        "type": kind,
        "actor": actor_uri,
        "object": body,
    }


def _embed(obj: Mapping[str, Any]) -> tuple[Any, Document]:
    """`obj`'s @context (AS when it has none) and `obj` without it or a signature."""
    body = {key: value for key, value in obj.items() if key not in ("@context", "signature")}
    return obj.get("@context", AS), body


def _fragment(uri: str, suffix: str) -> str:
    """An id under `uri` that is never fetched: a fragment, or more of one."""
    return f"{uri}{'/' if '#' in uri else '#'}{suffix}"
