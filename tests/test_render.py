"""Serving and rendering ActivityPub documents: actors, negotiation, outboxes, collections, notes
and the activities Kith builds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jsonschema import Draft202012Validator

from federation.render import activities
from federation.render.context import ACTOR_CONTEXT, AS, NOTE_CONTEXT, PUBLIC
from federation.render.objects import MentionRef, NoteParts, load_note_parts, render_note
from federation.urls import LocalUrls
from server.state import POOL, URLS
from server.usecases.actors import Actor
from server.usecases.boosts import reblog
from server.usecases.statuses import create_status, delete_status
from storage import follows as follow_store

AP = {"Accept": "application/activity+json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ACTIVITY_SCHEMA = json.loads(
    (Path(__file__).parent.parent / "schemas" / "activitypub" / "activity.json").read_text()
)


async def _ap(client, path: str, status: int = 200, headers=AP):
    response = await client.get(path, headers=headers, allow_redirects=False)
    assert response.status == status, await response.text()
    if status == 200:
        assert response.headers["Content-Type"] == "application/activity+json"
    return await response.json(content_type=None)


async def _post(client, member, text: str, **kwargs):
    app = client.server.app
    return await create_status(
        app[POOL], app[URLS], author_id=member.account_id, text=text, **kwargs
    )


# --- Actors ---------------------------------------------------------------------------------


async def test_member_actor(client, make_member):
    alice = await make_member("alice")
    await client.server.app[POOL].execute(
        """UPDATE accounts SET display_name = 'Alice A.', note = '<p>hello</p>', locked = true,
                  fields = '[{"name": "Site", "value": "<a href=\\"https://a.example\\">a</a>"}]',
                  avatar_url = 'https://cdn.example/a.png'
           WHERE id = $1""",
        alice.account_id,
    )
    response = await client.get("/users/alice", headers=AP)
    assert response.headers["Vary"] == "Accept, Signature"
    actor = await response.json(content_type=None)
    base = "http://kith.test/users/alice"
    assert actor["@context"] == ACTOR_CONTEXT
    assert actor["id"] == base
    assert actor["type"] == "Person"
    assert actor["preferredUsername"] == "alice"
    assert actor["name"] == "Alice A."
    assert actor["summary"] == "<p>hello</p>"
    assert actor["url"] == "http://kith.test/@alice"
    assert actor["inbox"] == f"{base}/inbox"
    assert actor["outbox"] == f"{base}/outbox"
    assert actor["followers"] == f"{base}/followers"
    assert actor["following"] == f"{base}/following"
    assert actor["featured"] == f"{base}/collections/featured"
    assert actor["endpoints"] == {"sharedInbox": "http://kith.test/inbox"}
    assert actor["manuallyApprovesFollowers"] is True
    assert actor["discoverable"] is True
    assert actor["indexable"] is False
    assert actor["published"].endswith("T00:00:00Z")
    assert actor["attachment"] == [
        {"type": "PropertyValue", "name": "Site", "value": '<a href="https://a.example">a</a>'}
    ]
    assert actor["icon"] == {
        "type": "Image",
        "url": "https://cdn.example/a.png",
        "mediaType": "image/png",
    }
    assert "image" not in actor
    key = actor["publicKey"]
    assert key["id"] == f"{base}#main-key"
    assert key["owner"] == base
    assert isinstance(load_pem_public_key(key["publicKeyPem"].encode()), rsa.RSAPublicKey)
    assert "private" not in json.dumps(actor).lower()


async def test_bot_is_a_service(client, make_member):
    bot = await make_member("robot")
    await client.server.app[POOL].execute(
        "UPDATE accounts SET bot = true WHERE id = $1", bot.account_id
    )
    assert (await _ap(client, "/users/robot"))["type"] == "Service"


async def test_instance_actor(client):
    actor = await _ap(client, "/actor")
    assert actor["id"] == "http://kith.test/actor"
    assert actor["type"] == "Application"
    assert actor["preferredUsername"] == "kith.test"
    assert actor["inbox"] == "http://kith.test/actor/inbox"
    assert actor["publicKey"]["id"] == "http://kith.test/actor#main-key"
    load_pem_public_key(actor["publicKey"]["publicKeyPem"].encode())


async def test_unknown_or_suspended_actor_is_404(client, make_member):
    alice = await make_member("alice")
    await _ap(client, "/users/nobody", 404)
    await _ap(client, "/users/kith.test", 404)  # the instance actor lives at /actor
    await client.server.app[POOL].execute(
        "UPDATE accounts SET suspended_at = now() WHERE id = $1", alice.account_id
    )
    await _ap(client, "/users/alice", 404)


# --- Content negotiation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [
        "application/activity+json",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "application/json",
        "text/html;q=0.5, application/activity+json",
    ],
)
async def test_activitypub_clients_get_json(client, make_member, accept):
    await make_member("alice")
    actor = await _ap(client, "/users/alice", headers={"Accept": accept})
    assert actor["id"] == "http://kith.test/users/alice"


@pytest.mark.parametrize("accept", [BROWSER["Accept"], "*/*", None])
async def test_browsers_are_sent_to_the_profile_page(client, make_member, accept):
    await make_member("alice")
    headers = {"Accept": accept} if accept else {}
    response = await client.get("/users/alice", headers=headers, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "http://kith.test/@alice"
    assert response.headers["Vary"] == "Accept"


async def test_profile_page(client, make_member):
    alice = await make_member("alice")
    await client.server.app[POOL].execute(
        "UPDATE accounts SET display_name = 'Alice <Wonder>', note = '<p>Bio here</p>'"
        " WHERE id = $1",
        alice.account_id,
    )
    await _post(client, alice, "visible to all")
    await _post(client, alice, "only followers", visibility="private")
    await _post(client, alice, "only here", local_only=True)
    response = await client.get("/@alice", headers=BROWSER)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = await response.text()
    assert "Alice &lt;Wonder&gt;" in html
    assert "<p>Bio here</p>" in html
    assert "@alice@kith.test" in html
    assert "visible to all" in html
    assert "only followers" not in html
    assert "only here" not in html
    assert (await client.get("/@nobody", headers=BROWSER)).status == 404


async def test_profile_page_sends_servers_to_the_actor(client, make_member):
    await make_member("alice")
    response = await client.get("/@alice", headers=AP, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "http://kith.test/users/alice"


async def test_status_page_and_note_negotiation(client, make_member):
    alice = await make_member("alice")
    status = await _post(client, alice, "a fine day", visibility="unlisted")
    uri = f"/users/alice/statuses/{status['id']}"
    response = await client.get(uri, headers=BROWSER, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == f"http://kith.test/@alice/{status['id']}"
    page = await client.get(f"/@alice/{status['id']}", headers=BROWSER)
    assert page.status == 200
    assert "a fine day" in await page.text()
    note = await _ap(client, uri)
    assert note["id"] == f"http://kith.test{uri}"
    assert note["@context"] == NOTE_CONTEXT


# --- What may be served ---------------------------------------------------------------------


async def test_outbox_serves_public_and_unlisted_only(client, make_member):
    alice = await make_member("alice")
    bob = await make_member("bob")
    public = await _post(client, alice, "public")
    unlisted = await _post(client, alice, "unlisted", visibility="unlisted")
    hidden = [
        await _post(client, alice, "private", visibility="private"),
        await _post(client, alice, "direct @bob", visibility="direct"),
        await _post(client, alice, "local only", local_only=True),
    ]
    deleted = await _post(client, alice, "deleted")
    await delete_status(client.server.app[POOL], Actor.member(alice.account_id), deleted["id"])

    outbox = await _ap(client, "/users/alice/outbox")
    assert outbox["type"] == "OrderedCollection"
    assert outbox["totalItems"] == 2
    assert outbox["first"] == "http://kith.test/users/alice/outbox?page=true"
    page = await _ap(client, "/users/alice/outbox?page=true")
    assert page["type"] == "OrderedCollectionPage"
    assert page["partOf"] == "http://kith.test/users/alice/outbox"
    assert page["@context"] == NOTE_CONTEXT
    assert "next" not in page
    items = page["orderedItems"]
    assert [item["type"] for item in items] == ["Create", "Create"]
    assert [item["object"]["id"] for item in items] == [unlisted["uri"], public["uri"]]
    assert all("@context" not in item for item in items)
    assert items[0]["id"] == f"{unlisted['uri']}/activity"

    for status in [*hidden, deleted]:
        await _ap(client, f"/users/alice/statuses/{status['id']}", 404)
        await _ap(client, f"/users/alice/statuses/{status['id']}/activity", 404)
        await _ap(client, f"/users/alice/statuses/{status['id']}", 404, headers=BROWSER)
        assert (await client.get(f"/@alice/{status['id']}", headers=BROWSER)).status == 404
    # A status is found only under its own author.
    await _ap(client, f"/users/bob/statuses/{public['id']}", 404)
    await _ap(client, "/users/alice/statuses/99999999999999999999", 404)
    await _ap(client, "/users/alice/statuses/abc", 404)
    assert bob  # bob exists so that the direct status has someone to address


async def test_outbox_pages(client, make_member, monkeypatch):
    from federation.endpoints import actors as actor_endpoints

    monkeypatch.setattr(actor_endpoints, "OUTBOX_PAGE_SIZE", 2)
    alice = await make_member("alice")
    statuses = [await _post(client, alice, f"post {n}") for n in range(3)]
    first = await _ap(client, "/users/alice/outbox?page=true")
    assert [i["object"]["content"] for i in first["orderedItems"]] == [
        "<p>post 2</p>",
        "<p>post 1</p>",
    ]
    assert (
        first["next"] == f"http://kith.test/users/alice/outbox?max_id={statuses[1]['id']}&page=true"
    )
    second = await _ap(client, first["next"].removeprefix("http://kith.test"))
    assert second["id"] == first["next"]
    assert [i["object"]["id"] for i in second["orderedItems"]] == [statuses[0]["uri"]]
    assert "next" not in second


async def test_boosts_are_announces(client, make_member):
    app = client.server.app
    alice = await make_member("alice")
    bob = await make_member("bob")
    original = await _post(client, alice, "boost me")
    boost = await reblog(app[POOL], app[URLS], Actor.member(bob.account_id), original["id"])
    local = await _post(client, alice, "stay here", local_only=True)
    await reblog(app[POOL], app[URLS], Actor.member(bob.account_id), local["id"])

    page = await _ap(client, "/users/bob/outbox?page=true")
    [announce] = page["orderedItems"]
    assert announce == {
        "id": boost["uri"],
        "type": "Announce",
        "actor": "http://kith.test/users/bob",
        "published": announce["published"],
        "to": [PUBLIC],
        "cc": ["http://kith.test/users/bob/followers", "http://kith.test/users/alice"],
        "object": original["uri"],
    }
    assert (await _ap(client, "/users/bob/outbox"))["totalItems"] == 1
    served = await _ap(client, f"/users/bob/statuses/{boost['id']}/activity")
    assert served["type"] == "Announce"
    assert served["@context"] == AS
    # A boost is no Note.
    await _ap(client, f"/users/bob/statuses/{boost['id']}", 404)


async def test_followers_and_following(client, make_member):
    pool = client.server.app[POOL]
    alice = await make_member("alice")
    bob = await make_member("bob")
    carol = await make_member("carol")
    for follower in (bob, carol):
        await follow_store.insert_follow(
            pool,
            follower.account_id,
            alice.account_id,
            show_reblogs=True,
            notify=False,
            languages=None,
            uri=None,
        )
    followers = await _ap(client, "/users/alice/followers")
    assert followers["type"] == "OrderedCollection"
    assert followers["totalItems"] == 2
    assert followers["first"] == "http://kith.test/users/alice/followers?page=1"
    page = await _ap(client, "/users/alice/followers?page=1")
    assert page["type"] == "OrderedCollectionPage"
    assert page["orderedItems"] == ["http://kith.test/users/carol", "http://kith.test/users/bob"]
    following = await _ap(client, "/users/bob/following?page=1")
    assert following["orderedItems"] == ["http://kith.test/users/alice"]
    assert (await _ap(client, "/users/alice/following"))["totalItems"] == 0
    await _ap(client, "/users/alice/followers?page=0", 400)

    await pool.execute(
        "UPDATE accounts SET hide_collections = true WHERE id = $1", alice.account_id
    )
    for path in ("/users/alice/followers", "/users/alice/followers?page=1"):
        hidden = await _ap(client, path)
        assert hidden == {
            "@context": AS,
            "id": "http://kith.test/users/alice/followers",
            "type": "OrderedCollection",
            "totalItems": 2,
        }


async def test_featured_is_empty(client, make_member):
    await make_member("alice")
    featured = await _ap(client, "/users/alice/collections/featured")
    assert featured["type"] == "OrderedCollection"
    assert featured["totalItems"] == 0
    assert featured["orderedItems"] == []


# --- Notes ----------------------------------------------------------------------------------

URLS_ = LocalUrls("https://kith.example")
FOLLOWERS = "https://kith.example/users/alice/followers"
AUTHOR = {
    "username": "alice",
    "uri": "https://kith.example/users/alice",
    "followers_url": FOLLOWERS,
}
BOB = "https://remote.example/users/bob"


def _status(**changes):
    status = {
        "id": 1,
        "uri": "https://kith.example/users/alice/statuses/1",
        "url": "https://kith.example/@alice/1",
        "visibility": "public",
        "spoiler_text": "",
        "sensitive": False,
        "content": "<p>hi</p>",
        "language": None,
        "created_at": datetime(2024, 5, 1, 12, 30, 45, 123000, tzinfo=UTC),
        "edited_at": None,
    }
    return {**status, **changes}


@pytest.mark.parametrize(
    ("visibility", "to", "cc"),
    [
        ("public", [PUBLIC], [FOLLOWERS, BOB]),
        ("unlisted", [FOLLOWERS], [PUBLIC, BOB]),
        ("private", [FOLLOWERS], [BOB]),
        ("direct", [BOB], []),
    ],
)
def test_note_addressing(visibility, to, cc):
    parts = NoteParts(mentions=(MentionRef(BOB, "bob", "remote.example"),))
    note = render_note(_status(visibility=visibility), AUTHOR, parts, URLS_)
    assert (note["to"], note["cc"]) == (to, cc)


def test_note_shape():
    parts = NoteParts(
        in_reply_to="https://remote.example/notes/9",
        mentions=(
            MentionRef(BOB, "bob", "remote.example"),
            MentionRef("https://kith.example/users/carol", "carol", None),
        ),
        tags=("Cats",),
    )
    status = _status(
        spoiler_text="cw",
        sensitive=True,
        language="en",
        edited_at=datetime(2024, 5, 2, tzinfo=UTC),
    )
    note = render_note(status, AUTHOR, parts, URLS_)
    assert note == {
        "@context": NOTE_CONTEXT,
        "id": status["uri"],
        "type": "Note",
        "summary": "cw",
        "inReplyTo": "https://remote.example/notes/9",
        "published": "2024-05-01T12:30:45Z",
        "url": status["url"],
        "attributedTo": AUTHOR["uri"],
        "to": [PUBLIC],
        "cc": [FOLLOWERS, BOB, "https://kith.example/users/carol"],
        "sensitive": True,
        "content": "<p>hi</p>",
        "contentMap": {"en": "<p>hi</p>"},
        "updated": "2024-05-02T00:00:00Z",
        "attachment": [],
        "tag": [
            {"type": "Mention", "href": BOB, "name": "@bob@remote.example"},
            {
                "type": "Mention",
                "href": "https://kith.example/users/carol",
                "name": "@carol@kith.example",
            },
            {"type": "Hashtag", "href": "https://kith.example/tags/cats", "name": "#Cats"},
        ],
    }
    plain = render_note(_status(), AUTHOR, NoteParts(), URLS_)
    assert plain["summary"] is None and plain["inReplyTo"] is None
    assert "contentMap" not in plain and "updated" not in plain


async def test_load_note_parts(client, make_member):
    pool = client.server.app[POOL]
    alice = await make_member("alice")
    await make_member("bob")
    parent = await _post(client, alice, "first")
    reply = await _post(client, alice, "@bob look #Cats", in_reply_to_id=parent["id"])
    parts = await load_note_parts(pool, [parent["id"], reply["id"]])
    assert parts[parent["id"]] == NoteParts()
    assert parts[reply["id"]] == NoteParts(
        in_reply_to=parent["uri"],
        mentions=(MentionRef("http://kith.test/users/bob", "bob", None),),
        tags=("Cats",),
    )
    note = await _ap(client, f"/users/alice/statuses/{reply['id']}")
    assert note["inReplyTo"] == parent["uri"]
    assert {"type": "Mention", "href": "http://kith.test/users/bob", "name": "@bob@kith.test"} in (
        note["tag"]
    )
    create = await _ap(client, f"/users/alice/statuses/{reply['id']}/activity")
    assert create["type"] == "Create"
    assert create["object"] == {k: v for k, v in note.items() if k != "@context"}


# --- Activity builders ----------------------------------------------------------------------

ALICE = AUTHOR["uri"]
REMOTE_FOLLOW = {
    "@context": AS,
    "id": "https://remote.example/follows/1",
    "type": "Follow",
    "actor": BOB,
    "object": ALICE,
    "signature": {"type": "RsaSignature2017"},
}


def _valid(activity):
    """Kith's own inbox would take it."""
    Draft202012Validator(ACTIVITY_SCHEMA).validate(activity)
    return activity


def test_create_lifts_the_note_context():
    note = render_note(_status(), AUTHOR, NoteParts(), URLS_)
    create = _valid(activities.create(note, ALICE))
    assert create["@context"] == NOTE_CONTEXT
    assert create["id"] == f"{note['id']}/activity"
    assert create["type"] == "Create"
    assert create["actor"] == ALICE
    assert create["published"] == note["published"]
    assert (create["to"], create["cc"]) == (note["to"], note["cc"])
    assert "@context" not in create["object"]
    assert create["object"]["id"] == note["id"]


def test_update_and_update_actor():
    note = render_note(_status(visibility="unlisted"), AUTHOR, NoteParts(), URLS_)
    update = _valid(activities.update(note, ALICE))
    assert update["type"] == "Update"
    assert update["id"].startswith(f"{note['id']}#updates/")
    assert (update["to"], update["cc"]) == ([FOLLOWERS], [PUBLIC])
    actor = {"@context": ACTOR_CONTEXT, "id": ALICE, "type": "Person"}
    update_actor = _valid(activities.update_actor(actor))
    assert update_actor["@context"] == ACTOR_CONTEXT
    assert update_actor["actor"] == ALICE
    assert update_actor["to"] == [PUBLIC]
    assert update_actor["object"] == {"id": ALICE, "type": "Person"}


def test_delete():
    uri = "https://kith.example/users/alice/statuses/1"
    delete = _valid(activities.delete(uri, ALICE, [PUBLIC], [FOLLOWERS]))
    assert delete == {
        "@context": AS,
        "id": f"{uri}#delete",
        "type": "Delete",
        "actor": ALICE,
        "to": [PUBLIC],
        "cc": [FOLLOWERS],
        "object": {"id": uri, "type": "Tombstone", "formerType": "Note"},
    }
    gone = activities.delete(ALICE, ALICE, [PUBLIC], [], former_type="Person")
    assert gone["object"]["formerType"] == "Person"


def test_announce():
    announce = _valid(
        activities.announce(
            "https://kith.example/users/alice/statuses/2/activity",
            ALICE,
            "https://remote.example/notes/9",
            datetime(2024, 5, 1, tzinfo=UTC),
            [PUBLIC],
            [FOLLOWERS, BOB],
        )
    )
    assert announce["type"] == "Announce"
    assert announce["published"] == "2024-05-01T00:00:00Z"
    assert announce["object"] == "https://remote.example/notes/9"


@pytest.mark.parametrize(
    ("builder", "kind"), [("like", "Like"), ("follow", "Follow"), ("block", "Block")]
)
def test_simple_activities(builder, kind):
    activity_id = URLS_.activity("alice", kind.lower() + "s", 7)
    activity = _valid(getattr(activities, builder)(activity_id, ALICE, BOB))
    assert activity == {
        "@context": AS,
        "id": "https://kith.example/users/alice/" + kind.lower() + "s/7",
        "type": kind,
        "actor": ALICE,
        "object": BOB,
    }


@pytest.mark.parametrize(("builder", "kind"), [("accept", "Accept"), ("reject", "Reject")])
def test_accept_and_reject_embed_the_follow(builder, kind):
    answer = _valid(getattr(activities, builder)(ALICE, REMOTE_FOLLOW))
    assert answer["type"] == kind
    assert answer["actor"] == ALICE
    assert answer["id"].startswith(f"{ALICE}#")
    assert answer["object"] == {
        "id": REMOTE_FOLLOW["id"],
        "type": "Follow",
        "actor": BOB,
        "object": ALICE,
    }
    # The same Follow is always answered with the same id; another Follow with another.
    assert getattr(activities, builder)(ALICE, REMOTE_FOLLOW)["id"] == answer["id"]
    other = {**REMOTE_FOLLOW, "id": "https://remote.example/follows/2"}
    assert getattr(activities, builder)(ALICE, other)["id"] != answer["id"]
    assert (
        activities.accept(ALICE, REMOTE_FOLLOW)["id"]
        != activities.reject(ALICE, REMOTE_FOLLOW)["id"]
    )


def test_undo():
    follow = activities.follow("https://kith.example/users/alice/follows/7", ALICE, BOB)
    undo = _valid(activities.undo(ALICE, follow))
    assert undo["id"] == "https://kith.example/users/alice/follows/7#undo"
    assert undo["object"] == {k: v for k, v in follow.items() if k != "@context"}
    assert "to" not in undo
    announce = activities.announce(
        "https://kith.example/a#boost", ALICE, BOB, datetime(2024, 5, 1, tzinfo=UTC), [PUBLIC], []
    )
    undo_announce = _valid(activities.undo(ALICE, announce))
    assert undo_announce["id"] == "https://kith.example/a#boost/undo"
    assert (undo_announce["to"], undo_announce["cc"]) == ([PUBLIC], [])


def test_flag():
    flag = _valid(
        activities.flag(
            "https://kith.example/flags/1",
            "https://kith.example/actor",
            BOB,
            ["https://remote.example/notes/9"],
            "spam",
        )
    )
    assert flag == {
        "@context": AS,
        "id": "https://kith.example/flags/1",
        "type": "Flag",
        "actor": "https://kith.example/actor",
        "content": "spam",
        "object": [BOB, "https://remote.example/notes/9"],
    }
