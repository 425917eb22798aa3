"""The accounts API: own profile, editing it, profiles, their statuses, lookup and sign-up."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from mastodon import Mastodon

from server.state import POOL, URLS
from server.usecases.actors import Actor
from server.usecases.boosts import reblog
from server.usecases.statuses import create_status
from tests.schemas import assert_matches

if TYPE_CHECKING:
    from tests.live_server import LiveServer, Login

pytest_plugins = ["tests.live_server"]

INVALID_TOKEN = {"error": "The access token is invalid"}
NOT_FOUND = {"error": "Record not found"}


async def ok(resp, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


def next_link(resp) -> str:
    """The path and query of the `rel="next"` link."""
    for part in resp.headers["Link"].split(", "):
        url, rel = part.split("; ")
        if rel == 'rel="next"':
            parts = urlsplit(url.strip("<>"))
            return f"{parts.path}?{parts.query}"
    raise AssertionError("no next link")


async def post(client, member, text: str, **options: Any):
    app = client.server.app
    return await create_status(
        app[POOL], app[URLS], author_id=member.account_id, text=text, **options
    )


# -- verify_credentials --------------------------------------------------------------------------


async def test_verify_credentials(client, make_member):
    alice = await make_member("alice")
    data = await ok(await client.get("/api/v1/accounts/verify_credentials", headers=alice.headers))
    assert_matches("credential_account", data)
    assert (data["id"], data["username"], data["acct"]) == (str(alice.account_id), "alice", "alice")
    assert data["source"]["privacy"] == "public"
    assert data["source"]["follow_requests_count"] == 0
    assert data["role"]["name"] == ""


async def test_verify_credentials_needs_a_valid_token_with_profile_scope(client, make_member):
    resp = await client.get("/api/v1/accounts/verify_credentials")
    assert (resp.status, await resp.json()) == (401, INVALID_TOKEN)
    bad = {"Authorization": "Bearer nope"}
    resp = await client.get("/api/v1/accounts/verify_credentials", headers=bad)
    assert (resp.status, await resp.json()) == (401, INVALID_TOKEN)

    profile_only = await make_member(scopes=("profile",))
    await ok(await client.get("/api/v1/accounts/verify_credentials", headers=profile_only.headers))
    write_only = await make_member(scopes=("write",))
    resp = await client.get("/api/v1/accounts/verify_credentials", headers=write_only.headers)
    assert resp.status == 403
    assert await resp.json() == {"error": "This action is outside the authorized scopes"}


# -- update_credentials --------------------------------------------------------------------------


async def test_update_credentials_as_a_form(client, make_member):
    alice = await make_member("alice")
    await make_member("bob")
    form = {
        "display_name": "Alice ✨",
        "note": "Hi <b>there</b> @bob\n\nSee https://example.org/about. #kith\nBye",
        "locked": "true",
        "bot": "1",
        "discoverable": "false",
        "indexable": "true",
        "fields_attributes[0][name]": "Site",
        "fields_attributes[0][value]": "https://alice.example",
        "fields_attributes[1][name]": "Pronouns",
        "fields_attributes[1][value]": "she/her",
        "source[privacy]": "private",
        "source[sensitive]": "true",
        "source[language]": "de",
        "source[local_only]": "true",
    }
    resp = await client.patch(
        "/api/v1/accounts/update_credentials", data=form, headers=alice.headers
    )
    data = await ok(resp)
    assert_matches("credential_account", data)
    assert data["display_name"] == "Alice ✨"
    assert (data["locked"], data["bot"], data["discoverable"], data["indexable"]) == (
        True,
        True,
        False,
        True,
    )
    note = data["note"]
    assert note.startswith("<p>Hi &lt;b&gt;there&lt;/b&gt; ")
    assert 'class="u-url mention">@<span>bob</span></a>' in note
    assert '</p><p>See <a href="https://example.org/about"' in note
    assert 'about</span><span class="invisible"></span></a>. ' in note
    assert 'href="http://kith.test/tags/kith"' in note
    assert note.endswith("<br />Bye</p>")
    assert [f["name"] for f in data["fields"]] == ["Site", "Pronouns"]
    assert data["fields"][0]["value"].startswith('<a href="https://alice.example"')
    assert data["fields"][1]["value"] == "she/her"
    source = data["source"]
    assert source["note"] == form["note"]
    assert source["fields"][0] == {
        "name": "Site",
        "value": "https://alice.example",
        "verified_at": None,
    }
    assert (source["privacy"], source["sensitive"], source["language"], source["local_only"]) == (
        "private",
        True,
        "de",
        True,
    )
    # What was saved is what verify_credentials shows.
    again = await ok(await client.get("/api/v1/accounts/verify_credentials", headers=alice.headers))
    assert again == data


async def test_update_credentials_as_json(client, make_member):
    alice = await make_member("alice")
    url = "/api/v1/accounts/update_credentials"
    body = {
        "fields_attributes": {"1": {"name": "b", "value": "2"}, "0": {"name": "a", "value": "1"}},
        "hide_collections": True,
        "source": {"privacy": "unlisted", "language": ""},
    }
    data = await ok(await client.patch(url, json=body, headers=alice.headers))
    assert [(f["name"], f["value"]) for f in data["fields"]] == [("a", "1"), ("b", "2")]
    assert data["hide_collections"] is True
    assert data["source"]["privacy"] == "unlisted"

    body = {"fields_attributes": [{"name": "only", "value": "one"}, {"name": "", "value": ""}]}
    data = await ok(await client.put(url, json=body, headers=alice.headers))
    assert [(f["name"], f["value"]) for f in data["fields"]] == [("only", "one")]
    assert data["hide_collections"] is True  # untouched

    data = await ok(await client.patch(url, json={"note": ""}, headers=alice.headers))
    assert_matches("credential_account", data)
    assert (data["note"], data["source"]["note"]) == ("", "")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"display_name": "x" * 31}, "Display name is too long"),
        ({"note": "x" * 501}, "Note is too long"),
        ({"locked": "maybe"}, "locked must be a boolean"),
        ({"source": {"privacy": "direct"}}, "Privacy must be one of"),
        ({"source": {"language": "english"}}, "Language is not a valid"),
        ({"fields_attributes": [{"name": f"n{i}", "value": "v"} for i in range(5)]}, "Fields"),
        ({"fields_attributes": [{"name": "n" * 256, "value": "v"}]}, "Field name is too long"),
        ({"fields_attributes": [{"name": "n", "value": "v" * 2048}]}, "Field value is too long"),
        ({"fields_attributes": ["not an object"]}, "fields_attributes must hold objects"),
    ],
)
async def test_update_credentials_validation(client, make_member, body, message):
    alice = await make_member("alice")
    resp = await client.patch(
        "/api/v1/accounts/update_credentials", json=body, headers=alice.headers
    )
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error.startswith("Validation failed: ") and message in error
    data = await ok(await client.get("/api/v1/accounts/verify_credentials", headers=alice.headers))
    assert data["display_name"] == "" and data["fields"] == [] and data["locked"] is False


async def test_update_credentials_needs_write_accounts(client, make_member):
    reader = await make_member(scopes=("read",))
    resp = await client.patch(
        "/api/v1/accounts/update_credentials", json={"bot": True}, headers=reader.headers
    )
    assert resp.status == 403
    resp = await client.patch("/api/v1/accounts/update_credentials", json={"bot": True})
    assert resp.status == 401


# -- profiles and lookup -------------------------------------------------------------------------


async def test_get_account(client, make_member):
    alice = await make_member("alice")
    data = await ok(await client.get(f"/api/v1/accounts/{alice.account_id}"))
    assert_matches("account", data)
    assert data["url"] == "http://kith.test/@alice"
    assert data["uri"] == "http://kith.test/users/alice"
    assert "source" not in data
    resp = await client.get(f"/api/v1/accounts/{alice.account_id}", headers=alice.headers)
    assert_matches("account", await ok(resp))


@pytest.mark.parametrize("account_id", ["1", "abc", "-5", "99999999999999999999"])
async def test_unknown_account_is_not_found(client, account_id):
    for path in ("", "/statuses", "/followers", "/following"):
        resp = await client.get(f"/api/v1/accounts/{account_id}{path}")
        assert (resp.status, await resp.json()) == (404, NOT_FOUND)


async def test_suspended_and_pending_accounts_are_not_found(client, make_member):
    pool = client.server.app[POOL]
    gone = await make_member("gone")
    pending = await make_member("pending")
    await pool.execute("UPDATE accounts SET suspended_at = now() WHERE id = $1", gone.account_id)
    await pool.execute("UPDATE users SET approved = false WHERE id = $1", pending.user_id)
    for member in (gone, pending):
        resp = await client.get(f"/api/v1/accounts/{member.account_id}")
        assert (resp.status, await resp.json()) == (404, NOT_FOUND)
        resp = await client.get("/api/v1/accounts/lookup", params={"acct": member.username})
        assert resp.status == 404


@pytest.mark.parametrize(
    "acct", ["alice", "@alice", "ALICE", "alice@kith.test", "@alice@KITH.test"]
)
async def test_lookup_local(client, make_member, acct):
    alice = await make_member("alice")
    data = await ok(await client.get("/api/v1/accounts/lookup", params={"acct": acct}))
    assert_matches("account", data)
    assert data["id"] == str(alice.account_id)


@pytest.mark.parametrize("query", [{"acct": "nobody"}, {"acct": "alice@remote.example"}, {}])
async def test_lookup_unknown(client, make_member, query):
    await make_member("alice")
    resp = await client.get("/api/v1/accounts/lookup", params=query)
    assert (resp.status, await resp.json()) == (404, NOT_FOUND)


async def test_lookup_known_remote_account(client):
    pool = client.server.app[POOL]
    remote_id = await pool.fetchval(
        "INSERT INTO accounts (username, domain, uri, url) VALUES"
        " ('zoe', 'remote.example', 'https://remote.example/users/zoe',"
        " 'https://remote.example/@zoe') RETURNING id"
    )
    data = await ok(
        await client.get("/api/v1/accounts/lookup", params={"acct": "zoe@remote.example"})
    )
    assert_matches("account", data)
    assert (data["id"], data["acct"]) == (str(remote_id), "zoe@remote.example")


# -- an account's statuses -----------------------------------------------------------------------


async def test_account_statuses_visibility_and_filters(client, make_member):
    alice = await make_member("alice")
    bob = await make_member("bob")
    public = await post(client, alice, "hello #Kith")
    private = await post(client, alice, "friends only", visibility="private")
    self_reply = await post(client, alice, "thread", in_reply_to_id=public["id"])
    bobs = await post(client, bob, "from bob")
    reply_to_bob = await post(client, alice, "@bob hi", in_reply_to_id=bobs["id"])
    sensitive = await post(client, alice, "spoiler", spoiler_text="cw")
    app = client.server.app
    boost = await reblog(app[POOL], app[URLS], Actor.member(alice.account_id), bobs["id"])
    url = f"/api/v1/accounts/{alice.account_id}/statuses"

    async def ids(headers=None, **params: str) -> list[str]:
        data = await ok(await client.get(url, params=params, headers=headers))
        for status in data:
            assert_matches("account", status["account"])
        return [status["id"] for status in data]

    def expect(*statuses) -> list[str]:
        return [str(status["id"]) for status in statuses]

    assert await ids() == expect(boost, sensitive, reply_to_bob, self_reply, public)
    # A follower, and the author, also see followers-only statuses.
    await ok(await client.post(f"/api/v1/accounts/{alice.account_id}/follow", headers=bob.headers))
    with_private = expect(boost, sensitive, reply_to_bob, self_reply, private, public)
    assert await ids(bob.headers) == with_private
    assert await ids(alice.headers) == with_private

    assert await ids(exclude_replies="true") == expect(boost, sensitive, self_reply, public)
    assert await ids(exclude_reblogs="1") == expect(sensitive, reply_to_bob, self_reply, public)
    assert await ids(exclude_sensitive="1") == expect(boost, reply_to_bob, self_reply, public)
    assert await ids(tagged="kith") == expect(public)
    assert await ids(pinned="true") == []
    assert await ids(only_media="true") == []
    resp = await client.get(url, params={"exclude_replies": "perhaps"})
    assert resp.status == 422


async def test_account_statuses_pagination_and_scope(client, make_member):
    alice = await make_member("alice")
    posted = [await post(client, alice, f"status {n}") for n in range(3)]
    url = f"/api/v1/accounts/{alice.account_id}/statuses"
    resp = await client.get(url, params={"limit": "2"})
    first = await ok(resp)
    assert [s["id"] for s in first] == [str(posted[2]["id"]), str(posted[1]["id"])]
    second = await ok(await client.get(next_link(resp)))
    assert [s["id"] for s in second] == [str(posted[0]["id"])]

    no_statuses_scope = await make_member(scopes=("read:accounts",))
    resp = await client.get(url, headers=no_statuses_scope.headers)
    assert resp.status == 403
    resp = await client.get(url, headers={"Authorization": "Bearer wrong"})
    assert (resp.status, await resp.json()) == (401, INVALID_TOKEN)


# -- sign-up -------------------------------------------------------------------------------------


async def app_token(client, scope: str = "read write follow") -> dict[str, str]:
    """A client-credentials token of a freshly registered app."""
    app = await ok(
        await client.post(
            "/api/v1/apps",
            data={
                "client_name": "Signup",
                "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                "scopes": scope,
            },
        )
    )
    token = await ok(
        await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "scope": scope,
            },
        )
    )
    return {"Authorization": f"Bearer {token['access_token']}"}


SIGN_UP = {
    "username": "newbie",
    "email": "newbie@example.org",
    "password": "a long enough password",
    "agreement": "true",
    "locale": "en",
    "reason": "I know alice",
}


async def set_registrations(client, mode: str) -> None:
    """Store the mode as an admin would (the pool encodes jsonb itself)."""
    await client.server.app[POOL].execute(
        "INSERT INTO instance_settings (key, value) VALUES ('registrations_mode', $1)", mode
    )


async def test_sign_up_open(client):
    headers = await app_token(client)
    token = await ok(await client.post("/api/v1/accounts", data=SIGN_UP, headers=headers))
    assert_matches("token", token)
    assert token["scope"] == "read write follow"
    member = {"Authorization": f"Bearer {token['access_token']}"}
    data = await ok(await client.get("/api/v1/accounts/verify_credentials", headers=member))
    assert_matches("credential_account", data)
    assert data["username"] == "newbie"


async def test_sign_up_with_approval_waits_and_tells_staff(client, make_member):
    admin = await make_member("boss", role="admin")
    await set_registrations(client, "approval")
    headers = await app_token(client)
    token = await ok(await client.post("/api/v1/accounts", json=SIGN_UP, headers=headers))
    member = {"Authorization": f"Bearer {token['access_token']}"}
    resp = await client.get("/api/v1/accounts/verify_credentials", headers=member)
    assert resp.status == 403
    assert await resp.json() == {"error": "Your login is currently pending approval"}
    resp = await client.get("/api/v1/accounts/lookup", params={"acct": "newbie"})
    assert resp.status == 404

    pool = client.server.app[POOL]
    user = await pool.fetchrow(
        "SELECT u.approved, u.sign_up_reason FROM users u JOIN accounts a ON a.id = u.account_id"
        " WHERE a.username = 'newbie'"
    )
    assert (user["approved"], user["sign_up_reason"]) == (False, "I know alice")
    kinds = await pool.fetch(
        "SELECT type FROM notifications WHERE account_id = $1", admin.account_id
    )
    assert [row["type"] for row in kinds] == ["admin.sign_up"]


async def test_sign_up_closed(client):
    await set_registrations(client, "closed")
    headers = await app_token(client)
    resp = await client.post("/api/v1/accounts", data=SIGN_UP, headers=headers)
    assert (resp.status, await resp.json()) == (403, {"error": "This action is not allowed"})


async def test_sign_up_needs_an_app_token_with_write(client):
    resp = await client.post("/api/v1/accounts", data=SIGN_UP)
    assert (resp.status, await resp.json()) == (401, INVALID_TOKEN)
    headers = await app_token(client, scope="read")
    resp = await client.post("/api/v1/accounts", data=SIGN_UP, headers=headers)
    assert resp.status == 403


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"agreement": "false"}, "agreement", "ERR_ACCEPTED"),
        ({"username": "taken"}, "username", "ERR_TAKEN"),
        ({"username": "bad name"}, "username", "ERR_INVALID"),
        ({"username": "x" * 31}, "username", "ERR_TOO_LONG"),
        ({"username": "admin"}, "username", "ERR_RESERVED"),
        ({"email": "taken@example.org"}, "email", "ERR_TAKEN"),
        ({"email": "nope"}, "email", "ERR_INVALID"),
        ({"password": "short"}, "password", "ERR_TOO_SHORT"),
        ({"password": ""}, "password", "ERR_BLANK"),
        ({"locale": "not a locale"}, "locale", "ERR_INCLUSION"),
        ({"reason": "x" * 421}, "reason", "ERR_TOO_LONG"),
    ],
)
async def test_sign_up_validation(client, make_member, changes, field, code):
    await make_member("taken")
    headers = await app_token(client)
    resp = await client.post("/api/v1/accounts", data={**SIGN_UP, **changes}, headers=headers)
    assert resp.status == 422
    body = await resp.json()
    assert list(body["details"]) == [field]
    assert body["details"][field][0]["error"] == code
    assert body["error"].startswith(f"Validation failed: {field.capitalize()} ")
    assert (
        await client.server.app[POOL].fetchval(
            "SELECT count(*) FROM accounts WHERE username = 'newbie'"
        )
        == 0
    )


async def test_sign_up_reports_every_problem(client, make_member):
    await make_member("taken")
    headers = await app_token(client)
    resp = await client.post(
        "/api/v1/accounts", data={"username": "taken", "agreement": "0"}, headers=headers
    )
    body = await resp.json()
    assert resp.status == 422
    assert body["error"] == (
        "Validation failed: Username has already been taken, Email can't be blank,"
        " Password can't be blank, Agreement must be accepted"
    )
    assert list(body["details"]) == ["username", "email", "password", "agreement"]


# -- Mastodon.py ---------------------------------------------------------------------------------

SCOPES = ["read", "write", "follow"]


def _mastodon_py_scenario(url: str, alice_login: Login) -> None:
    """Sign up, edit the profile, and go through a follow request, all with Mastodon.py (which
    refuses wrongly typed entities)."""
    client_id, client_secret = Mastodon.create_app("Kith accounts", scopes=SCOPES, api_base_url=url)
    signup = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=url)
    token = signup.create_account(
        "carol", "a long enough password", "carol@example.org", agreement=True, scopes=SCOPES
    )
    carol = Mastodon(access_token=token, api_base_url=url)
    me = carol.account_update_credentials(
        display_name="Carol",
        note="Hello\nthere https://carol.example",
        locked=True,
        fields=[("Site", "https://carol.example"), ("Pronouns", "she/her")],
        default_privacy="private",
        default_language="fr",
    )
    assert (me.display_name, me.locked, me.source.privacy, me.source.language) == (
        "Carol",
        True,
        "private",
        "fr",
    )
    assert [field.name for field in me.fields] == ["Site", "Pronouns"]
    assert carol.account_verify_credentials().source.note == "Hello\nthere https://carol.example"

    alice = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=url)
    alice.log_in(alice_login.email, alice_login.password, scopes=SCOPES, allow_http=True)
    assert alice.account_follow(me.id).requested is True
    requests = carol.follow_requests()
    assert [account.username for account in requests] == ["alice"]
    assert carol.follow_request_authorize(requests[0]).followed_by is True
    (relationship,) = alice.account_relationships([me.id])
    assert (relationship.following, relationship.requested) == (True, False)
    assert [a.username for a in carol.account_followers(me.id)] == ["alice"]
    assert alice.account_lookup("carol").id == me.id
    assert alice.account_statuses(me.id) == []
    assert alice.account_unfollow(me.id).following is False


async def test_mastodon_py_sign_up_profile_and_follow_request(live_server: LiveServer):
    alice = await live_server.create_login("alice")
    await asyncio.to_thread(_mastodon_py_scenario, live_server.url, alice)
