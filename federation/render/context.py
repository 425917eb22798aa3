"""What every rendered ActivityPub document shares: JSON-LD contexts, the public collection and
the timestamp format.

The contexts follow Mastodon's, term for term, so that JSON-LD processors (and Mastodon's own
expectations of term names) read Kith's documents as they read Mastodon's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

AS = "https://www.w3.org/ns/activitystreams"
SECURITY = "https://w3id.org/security/v1"
PUBLIC = f"{AS}#Public"

# Actors: Mastodon's extensions for locked accounts, profile fields, discoverability, featured
# collections and moves.
ACTOR_CONTEXT: list[Any] = [
    AS,
    SECURITY,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
        "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
        "movedTo": {"@id": "as:movedTo", "@type": "@id"},
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "suspended": "toot:suspended",
        "memorial": "toot:memorial",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    },
]

# Notes, and anything that embeds them (Create, Update, outbox pages).
NOTE_CONTEXT: list[Any] = [
    AS,
    {
        "ostatus": "http://ostatus.org#",
        "atomUri": "ostatus:atomUri",
        "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
        "conversation": "ostatus:conversation",
        "sensitive": "as:sensitive",
        "toot": "http://joinmastodon.org/ns#",
        "votersCount": "toot:votersCount",
        "Hashtag": "as:Hashtag",
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    },
]


def timestamp(moment: datetime) -> str:
    """ActivityPub's timestamp format, as Mastodon writes it: `2021-11-05T11:46:50Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
