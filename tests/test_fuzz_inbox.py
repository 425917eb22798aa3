"""Property-based fuzz of what a peer sends: the ActivityPub inbox and the parsers behind it.

Activities are valid ones with one field replaced by any JSON value (lists and objects nested a
few levels, or very deep), or removed. The parsers (`federation.parse`) either accept a document
or refuse it with a short reason; the inbox, sent them signed by a real peer over loopback,
answers a 2xx or a 4xx with a short JSON error, never a 5xx. The runs are seeded and keep no
example database, so they are the same on every machine.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from federation.parse.actors import parse_actor
from federation.parse.notes import NoteError, parse_note
from federation.parse.schema import MAX_MESSAGE, first_error
from tests.inbox_peer import PUBLIC, kith_fixture, peer_fixture  # noqa: F401 - fixtures
from tests.test_error_excerpts import SHORT_BODY, nested

ACTOR = "http://peer.test/users/ana"
NOTE = {
    "id": f"{ACTOR}/statuses/1",
    "type": "Note",
    "attributedTo": ACTOR,
    "content": "<p>hello #kith</p>",
    "published": "2024-05-01T10:00:00Z",
    "to": [PUBLIC],
    "cc": [f"{ACTOR}/followers"],
    "tag": [{"type": "Hashtag", "name": "#kith", "href": "http://peer.test/tags/kith"}],
    "attachment": [{"type": "Document", "mediaType": "image/png", "url": "http://peer.test/a.png"}],
    "inReplyTo": None,
    "summary": "",
    "sensitive": False,
    "url": f"{ACTOR}/statuses/1",
}
PERSON = {
    "id": ACTOR,
    "type": "Person",
    "preferredUsername": "ana",
    "name": "Ana",
    "summary": "<p>hi</p>",
    "inbox": f"{ACTOR}/inbox",
    "outbox": f"{ACTOR}/outbox",
    "endpoints": {"sharedInbox": "http://peer.test/inbox"},
    "publicKey": {"id": f"{ACTOR}#main-key", "owner": ACTOR, "publicKeyPem": "-----BEGIN"},
    "icon": {"type": "Image", "url": "http://peer.test/avatar.png"},
    "attachment": [{"type": "PropertyValue", "name": "site", "value": "<a href='x'>x</a>"}],
    "published": "2024-05-01T10:00:00Z",
}
NOTE_FIELDS = sorted(NOTE)
ACTIVITY_FIELDS = ["id", "type", "actor", "object", "to", "cc", "published", "@context"]
SETTINGS = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))

# JSON as a peer can send it: orjson reads integers up to 64 bits, and no NUL (refused first).
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.sampled_from(["x" * 5000, PUBLIC, ACTOR, "Note", "Person", "Hashtag", "Mention", ""]),
)
JSON = st.one_of(
    st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
        max_leaves=10,
    ),
    st.sampled_from([8, 63, 64, 65, 300, 900]).map(nested),
)
MISSING = object()


def replace(document: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    if value is MISSING:
        changed.pop(field, None)
    else:
        changed[field] = value
    return changed


def mutations(base: dict[str, Any], fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """`base` with one of `fields` (or a field of its own) set to any value, or removed."""
    field = st.sampled_from(fields) | TEXT
    value = JSON | st.just(MISSING)
    return st.builds(replace, st.just(base), field, value)


def activities(peer) -> st.SearchStrategy[dict[str, Any]]:
    """Create, Update, Like, Follow, Announce and Delete, with the object or the activity
    mutated."""

    def build(type_: str, object_: Any) -> dict[str, Any]:
        return peer.activity(type_, object_, actor=ACTOR)

    objects = st.one_of(mutations(NOTE, NOTE_FIELDS), mutations(PERSON, sorted(PERSON)))
    types = st.sampled_from(["Create", "Update", "Like", "Announce", "Follow", "Delete", "Undo"])
    whole = st.builds(build, types, objects | st.just(NOTE["id"]))
    return st.one_of(whole, whole.flatmap(lambda a: mutations(a, ACTIVITY_FIELDS)))


def short(reason: str) -> bool:
    return len(reason) <= MAX_MESSAGE + 50


@seed(20240501)
@SETTINGS
@given(note=mutations(NOTE, NOTE_FIELDS))
def test_parsing_a_post_accepts_or_gives_a_short_reason(note):
    try:
        parse_note(note)
    except NoteError as exc:
        assert short(str(exc)), str(exc)[:300]


@seed(20240501)
@SETTINGS
@given(actor=mutations(PERSON, sorted(PERSON)))
def test_parsing_an_actor_accepts_or_gives_a_short_reason(actor):
    try:
        parse_actor(actor)
    except ValueError as exc:
        assert short(str(exc)), str(exc)[:300]


@seed(20240501)
@SETTINGS
@given(activity=mutations({"id": "x", "type": "Like", "actor": ACTOR}, ACTIVITY_FIELDS))
def test_schema_errors_are_short(activity):
    error = first_error("activity", activity)
    assert error is None or len(error) <= MAX_MESSAGE


async def test_signed_deliveries_get_no_5xx_and_short_errors(kith, peer):
    peer.actor()
    loop = asyncio.get_running_loop()

    def deliver(activity: dict[str, Any]) -> tuple[int, Any]:
        delivery = peer.deliver(kith, json.dumps(activity).encode(), signer=ACTOR)
        return asyncio.run_coroutine_threadsafe(delivery, loop).result(60)

    @seed(20240501)
    @settings(SETTINGS, max_examples=40)
    @given(activity=activities(peer))
    def check(activity: dict[str, Any]) -> None:
        status, body = deliver(activity)
        assert status < 500, body
        if status >= 400:
            assert isinstance(body, dict) and len(json.dumps(body)) < SHORT_BODY, body

    await loop.run_in_executor(None, check)
