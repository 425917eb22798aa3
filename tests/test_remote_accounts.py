"""Remote actors: parsing every server's actor documents, storing them, and resolving accounts
and keys (from a scripted server and from a peer Kith instance)."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest

from federation.fetch import FetchError
from federation.parse.actors import parse_actor
from federation.parse.html import sanitize_html, text_or_html_to_safe_html
from federation.remote_accounts import load_key, resolve_acct, resolve_actor
from server.usecases.accounts import create_local_account
from tests.remote_server import FIXTURES, RemoteServer, load_fixture

ACTOR_FIXTURES = sorted(
    str(path.relative_to(FIXTURES))
    for pattern in ("*/objects/person*.json", "*/objects/group.json", "*/objects/instance.json")
    for path in FIXTURES.glob(pattern)
)
NON_ACTOR_FIXTURES = sorted(
    str(path.relative_to(FIXTURES))
    for path in FIXTURES.glob("*/objects/*.json")
    if str(path.relative_to(FIXTURES)) not in ACTOR_FIXTURES
)


# -- parsing ---------------------------------------------------------------------------------


def test_every_server_is_represented():
    servers = {Path(name).parts[0] for name in ACTOR_FIXTURES}
    assert servers == {"friendica", "lemmy", "mastodon", "mobilizon", "peertube", "pleroma"}


@pytest.mark.parametrize("name", ACTOR_FIXTURES)
def test_fixture_actors_parse_with_their_meaning(name):
    doc = load_fixture(name)
    actor = parse_actor(doc)
    assert actor.uri == doc["id"]
    assert actor.username == doc["preferredUsername"]
    assert actor.inbox == doc["inbox"]
    assert actor.shared_inbox == doc.get("endpoints", {}).get("sharedInbox")
    assert actor.public_key_id == doc["publicKey"]["id"]
    assert actor.public_key_pem == doc["publicKey"]["publicKeyPem"]
    assert actor.display_name == doc["name"].strip()
    assert actor.actor_type == doc["type"]
    assert actor.locked is (doc.get("manuallyApprovesFollowers") is True)
    assert "<script" not in actor.note


@pytest.mark.parametrize("name", NON_ACTOR_FIXTURES)
def test_fixture_objects_that_are_not_actors_are_refused(name):
    with pytest.raises(ValueError, match="not an actor type"):
        parse_actor(load_fixture(name))


def test_mastodon_actor():
    actor = parse_actor(load_fixture("mastodon/objects/person.json"))
    assert actor.domain == "masto.qa.urbanwildlife.biz"
    assert actor.url == "https://masto.qa.urbanwildlife.biz/@mastodon"
    assert actor.featured.endswith("/collections/featured")
    assert actor.avatar.endswith("2cf61ff96e94cb1d.png")
    assert (actor.header, actor.bot, actor.discoverable) == (None, False, False)
    assert actor.published.isoformat() == "2022-10-03T00:00:00+00:00"


def test_peertube_actor_takes_the_widest_icon_and_keeps_plain_text_lines():
    actor = parse_actor(load_fixture("peertube/objects/person.json"))
    assert actor.avatar.endswith("bdaa7218-ba3c-43ba-abd3-cfd081394c18.jpg")
    assert actor.note.startswith("<p>I'm Nick")
    assert "</p><p>You might see" in actor.note


def test_peertube_channel_is_a_group_with_a_banner():
    actor = parse_actor(load_fixture("peertube/objects/group.json"))
    assert actor.actor_type == "Group"
    assert actor.header.endswith("1a8d6881-30c8-47cb-8576-7af62d869c45.jpg")


def test_lemmy_person_without_following_and_with_markdown_rendered_summary():
    actor = parse_actor(load_fixture("lemmy/objects/person.json"))
    assert (actor.following, actor.followers) == (None, None)
    assert actor.note == "<p>Captain of the starship <strong>Enterprise</strong>.</p>\n"
    assert actor.header.endswith("XenaYI5hTn.png")


def test_lemmy_instance_actor_is_a_bot():
    actor = parse_actor(load_fixture("lemmy/objects/instance.json"))
    assert (actor.username, actor.actor_type, actor.bot) == (
        "enterprise.lemmy.ml",
        "Application",
        True,
    )


def test_mobilizon_pkcs1_key_and_null_collections():
    actor = parse_actor(load_fixture("mobilizon/objects/person.json"))
    assert actor.public_key_pem.startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert (actor.avatar, actor.featured) == (None, None)


def test_friendica_fields_are_sanitised():
    actor = parse_actor(load_fixture("friendica/objects/person_1.json"))
    assert actor.locked is True
    assert len(actor.fields) == 6
    lemmy = actor.fields[1]
    assert lemmy["name"] == "Lemmy"
    assert lemmy["value"] == (
        '<a href="https://lemmy.schuerz.at/u/jakob" rel="nofollow noopener noreferrer">'
        "https://lemmy.schuerz.at/u/jakob</a>"
    )


def test_friendica_organization_is_an_actor():
    assert parse_actor(load_fixture("friendica/objects/person_2.json")).actor_type == (
        "Organization"
    )


def test_pleroma_note_keeps_its_hashtag_link():
    actor = parse_actor(load_fixture("pleroma/objects/person.json"))
    assert 'class="hashtag"' in actor.note
    assert "data-tag" not in actor.note
    assert actor.header.endswith(".jpg")


BASE = {
    "id": "https://remote.example/users/zoe",
    "type": "Person",
    "preferredUsername": "zoe",
    "inbox": "https://remote.example/users/zoe/inbox",
}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": None}, "id"),
        ({"id": "/users/zoe"}, "id"),
        ({"id": "ftp://remote.example/zoe"}, "id"),
        ({"id": "https://remote.example:99999/zoe"}, "id"),
        ({"type": "Note"}, "actor type"),
        ({"type": None}, "actor type"),
        ({"inbox": None}, "inbox"),
        ({"inbox": "mailto:zoe@remote.example"}, "inbox"),
        ({"preferredUsername": None}, "preferredUsername"),
        ({"preferredUsername": ""}, "preferredUsername"),
        ({"preferredUsername": "zoe@evil.example"}, "preferredUsername"),
        ({"preferredUsername": "zo e"}, "preferredUsername"),
        ({"preferredUsername": ["zoe"]}, "preferredUsername"),
    ],
)
def test_unusable_actors_are_refused_with_a_reason(changes, reason):
    with pytest.raises(ValueError, match=reason):
        parse_actor({**BASE, **changes})


def test_a_minimal_actor_parses():
    actor = parse_actor(BASE)
    assert (actor.username, actor.domain, actor.public_key_id, actor.fields) == (
        "zoe",
        "remote.example",
        None,
        [],
    )


def test_the_port_is_part_of_the_domain_unless_it_is_the_default():
    actor = parse_actor({**BASE, "id": "https://Remote.Example:8443/users/zoe"})
    assert actor.domain == "remote.example:8443"
    actor = parse_actor({**BASE, "id": "https://Remote.Example:443/users/zoe"})
    assert actor.domain == "remote.example"


def test_a_key_owned_by_another_actor_is_ignored():
    key = {
        "id": "https://remote.example/users/mallory#main-key",
        "owner": "https://remote.example/users/mallory",
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n...",
    }
    assert parse_actor({**BASE, "publicKey": key}).public_key_id is None


def test_a_key_list_yields_the_actors_own_key():
    own = {
        "id": "https://remote.example/users/zoe#main-key",
        "owner": BASE["id"],
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nown",
    }
    other = {**own, "id": "https://x.example/k", "owner": "https://x.example/actor"}
    actor = parse_actor({**BASE, "publicKey": [other, "junk", own]})
    assert (actor.public_key_id, actor.public_key_pem) == (own["id"], own["publicKeyPem"])


def test_malformed_optional_fields_are_dropped_not_fatal():
    actor = parse_actor(
        {
            **BASE,
            "name": {"en": "Zoe"},
            "summary": 42,
            "url": [
                {"type": "Link", "mediaType": "text/html", "href": "https://remote.example/@zoe"}
            ],
            "icon": "javascript:alert(1)",
            "endpoints": "nope",
            "attachment": {"type": "PropertyValue", "name": "Site", "value": "<b>x</b>"},
            "movedTo": "https://elsewhere.example/users/zoe",
            "published": "yesterday",
            "manuallyApprovesFollowers": "yes",
        }
    )
    assert (actor.display_name, actor.note, actor.avatar, actor.shared_inbox) == (
        "",
        "",
        None,
        None,
    )
    assert actor.url == "https://remote.example/@zoe"
    assert actor.fields == [{"name": "Site", "value": "<b>x</b>"}]
    assert actor.moved_to == "https://elsewhere.example/users/zoe"
    assert (actor.published, actor.locked) == (None, False)


def test_sanitize_html_keeps_the_allowlist_only():
    dirty = (
        '<p onclick="x()">Hi <a href="javascript:alert(1)" class="mention evil">@a</a>'
        '<span class="invisible big">https://</span><script>alert(1)</script>'
        '<img src="https://x/y.png"><iframe src="https://x"></iframe>'
        '<a href="/oauth/authorize">here</a></p>'
    )
    assert sanitize_html(dirty) == (
        '<p>Hi <a class="mention" rel="nofollow noopener noreferrer">@a</a>'
        '<span class="invisible">https://</span>'
        '<a rel="nofollow noopener noreferrer">here</a></p>'
    )


def test_plain_text_becomes_escaped_paragraphs():
    assert text_or_html_to_safe_html("a < b\nc\n\nd") == "<p>a &lt; b<br>c</p><p>d</p>"
    assert text_or_html_to_safe_html("") == ""


# -- resolving from a scripted server -------------------------------------------------------


@pytest.fixture
async def alpha(network):
    return await network.start("alpha.test")


@pytest.fixture
async def remote(network):
    server = await RemoteServer("remote.test").start(network.resolver)
    yield server
    await server.close()


@pytest.fixture
def actor(remote) -> dict:
    doc = remote.fixture_actor("mastodon/objects/person.json")
    remote.serve_webfinger("mastodon", doc["id"])
    return doc


ACTOR_URI = "http://remote.test/users/mastodon"
KEY_ID = ACTOR_URI + "#main-key"


async def test_resolve_actor_stores_the_remote_account(alpha, remote, actor):
    row = await resolve_actor(alpha.federation, ACTOR_URI)
    assert (row["username"], row["domain"], row["uri"]) == ("mastodon", "remote.test", ACTOR_URI)
    assert row["inbox_url"] == ACTOR_URI + "/inbox"
    assert row["shared_inbox_url"] == "http://remote.test/inbox"
    assert (row["public_key_id"], row["public_key_pem"]) == (
        KEY_ID,
        actor["publicKey"]["publicKeyPem"],
    )
    assert row["private_key_pem"] is None
    assert row["fetched_at"] is not None and row["key_fetched_at"] is not None
    assert row["created_at"].isoformat() == "2022-10-03T00:00:00+00:00"


async def test_a_fresh_account_is_not_fetched_again(alpha, remote, actor):
    first = await resolve_actor(alpha.federation, ACTOR_URI)
    again = await resolve_actor(alpha.federation, ACTOR_URI)
    assert first["id"] == again["id"]
    assert len(remote.requests_to("/users/mastodon")) == 1


async def test_a_stale_account_is_refreshed(alpha, remote, actor):
    row = await resolve_actor(alpha.federation, ACTOR_URI)
    await alpha.pool.execute(
        "UPDATE accounts SET fetched_at = now() - interval '2 days' WHERE id = $1", row["id"]
    )
    remote.fixture_actor("mastodon/objects/person.json", name="Renamed")
    refreshed = await resolve_actor(alpha.federation, ACTOR_URI)
    assert (refreshed["id"], refreshed["display_name"]) == (row["id"], "Renamed")


async def test_a_stale_account_survives_its_server_being_down(alpha, remote, actor):
    row = await resolve_actor(alpha.federation, ACTOR_URI)
    await alpha.pool.execute(
        "UPDATE accounts SET fetched_at = now() - interval '2 days' WHERE id = $1", row["id"]
    )
    remote.serve("/users/mastodon", {"error": "down"}, status=503)
    assert (await resolve_actor(alpha.federation, ACTOR_URI))["id"] == row["id"]
    with pytest.raises(FetchError):
        await resolve_actor(alpha.federation, ACTOR_URI, refresh=True)


async def test_a_gone_actor_raises_410_even_when_known(alpha, remote, actor):
    row = await resolve_actor(alpha.federation, ACTOR_URI)
    await alpha.pool.execute(
        "UPDATE accounts SET fetched_at = now() - interval '2 days' WHERE id = $1", row["id"]
    )
    remote.serve("/users/mastodon", {"type": "Tombstone"}, status=410)
    with pytest.raises(FetchError) as caught:
        await resolve_actor(alpha.federation, ACTOR_URI)
    assert caught.value.status == 410


async def test_an_unusable_actor_is_refused_with_its_reason(alpha, remote, actor):
    remote.serve("/users/mastodon", {**actor, "inbox": None})
    with pytest.raises(FetchError, match="unusable actor: actor has no inbox"):
        await resolve_actor(alpha.federation, ACTOR_URI)


async def test_a_local_uri_is_looked_up_never_fetched(alpha, remote, actor):
    with pytest.raises(FetchError):
        await resolve_actor(alpha.federation, "http://alpha.test/users/nobody")
    assert remote.seen == []


async def test_a_username_taken_by_another_actor_is_refused(alpha, remote, actor):
    await resolve_actor(alpha.federation, ACTOR_URI)
    remote.serve("/users/impostor", {**actor, "id": "http://remote.test/users/impostor"})
    with pytest.raises(FetchError, match="already belongs"):
        await resolve_actor(alpha.federation, "http://remote.test/users/impostor")


async def test_resolve_acct_uses_webfinger_once(alpha, remote, actor):
    row = await resolve_acct(alpha.federation, "mastodon", "remote.test")
    assert row["uri"] == ACTOR_URI
    again = await resolve_acct(alpha.federation, "MASTODON", "Remote.Test")
    assert again["id"] == row["id"]
    assert len(remote.requests_to("/.well-known/webfinger")) == 1


async def test_resolve_acct_of_a_local_member_never_fetches(alpha, remote):
    await create_local_account(
        alpha.pool, alpha.federation.urls, username="ann", email="a@x.org", password="x" * 12
    )
    row = await resolve_acct(alpha.federation, "ann", "alpha.test")
    assert (row["username"], row["domain"]) == ("ann", None)
    with pytest.raises(FetchError):
        await resolve_acct(alpha.federation, "nobody", "alpha.test")


async def test_resolve_acct_of_an_unknown_user_fails(alpha, remote, actor):
    with pytest.raises(FetchError):
        await resolve_acct(alpha.federation, "nobody", "remote.test")


async def test_concurrent_resolutions_store_one_account(alpha, remote, actor):
    rows = await asyncio.gather(*(resolve_actor(alpha.federation, ACTOR_URI) for _ in range(5)))
    assert len({row["id"] for row in rows}) == 1
    count = await alpha.pool.fetchval("SELECT count(*) FROM accounts WHERE uri = $1", ACTOR_URI)
    assert count == 1


# -- keys ------------------------------------------------------------------------------------


async def test_load_key_fetches_an_unknown_key_from_its_actor(alpha, remote, actor):
    found = await load_key(alpha.federation, KEY_ID, False)
    assert found == (ACTOR_URI, actor["publicKey"]["publicKeyPem"])
    # Known now: no second fetch.
    assert await load_key(alpha.federation, KEY_ID, False) == found
    assert len(remote.requests_to("/users/mastodon")) == 1


async def test_load_key_refresh_notices_a_rotated_key(alpha, remote, actor):
    await load_key(alpha.federation, KEY_ID, False)
    rotated = copy.deepcopy(actor)
    rotated["publicKey"]["publicKeyPem"] = "-----BEGIN PUBLIC KEY-----\nrotated"
    remote.serve("/users/mastodon", rotated)
    assert await load_key(alpha.federation, KEY_ID, True) == (
        ACTOR_URI,
        "-----BEGIN PUBLIC KEY-----\nrotated",
    )
    row = await alpha.pool.fetchrow("SELECT * FROM accounts WHERE uri = $1", ACTOR_URI)
    assert row["public_key_pem"].endswith("rotated")


async def test_load_key_follows_a_standalone_key_document_to_its_owner(alpha, remote, actor):
    key_id = "http://remote.test/keys/1"
    owned = {**actor, "publicKey": {**actor["publicKey"], "id": key_id}}
    remote.serve("/users/mastodon", owned)
    remote.serve(
        "/keys/1",
        {"id": key_id, "owner": ACTOR_URI, "publicKeyPem": actor["publicKey"]["publicKeyPem"]},
    )
    assert await load_key(alpha.federation, key_id, False) == (
        ACTOR_URI,
        actor["publicKey"]["publicKeyPem"],
    )


async def test_load_key_refuses_a_key_its_owner_does_not_list(alpha, remote, actor):
    remote.serve(
        "/keys/forged",
        {"id": "http://remote.test/keys/forged", "owner": ACTOR_URI, "publicKeyPem": "x"},
    )
    assert await load_key(alpha.federation, "http://remote.test/keys/forged", False) is None


@pytest.mark.parametrize(
    "key_id",
    ["http://remote.test/users/nobody#main-key", "not a url", "http://unknown.test/actor#k"],
)
async def test_load_key_returns_none_when_unavailable(alpha, remote, actor, key_id):
    assert await load_key(alpha.federation, key_id, False) is None


async def test_load_key_is_partial_friendly(alpha, remote, actor):
    fed = alpha.federation

    async def loader(key_id: str, refresh: bool) -> tuple[str, str] | None:
        return await load_key(fed, key_id, refresh)

    assert (await loader(KEY_ID, False))[0] == ACTOR_URI


# -- between two Kith instances ---------------------------------------------------------------


async def test_resolve_acct_between_two_kith_instances(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    await create_local_account(
        beta.pool, beta.federation.urls, username="bob", email="bob@x.org", password="x" * 12
    )
    row = await resolve_acct(alpha.federation, "bob", "beta.test")
    assert (row["username"], row["domain"], row["uri"]) == (
        "bob",
        "beta.test",
        "http://beta.test/users/bob",
    )
    assert row["inbox_url"] == "http://beta.test/users/bob/inbox"
    assert row["shared_inbox_url"] == "http://beta.test/inbox"
    bob_key = await beta.pool.fetchrow(
        "SELECT public_key_id, public_key_pem FROM accounts WHERE username = 'bob'"
    )
    assert (row["public_key_id"], row["public_key_pem"]) == tuple(bob_key)
    # Beta's key for its instance actor, as its inbox would need it to verify alpha's fetches.
    found = await load_key(alpha.federation, "http://beta.test/actor#main-key", False)
    assert found is not None and found[0] == "http://beta.test/actor"
