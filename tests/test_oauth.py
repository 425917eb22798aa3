"""Apps and OAuth: registration, the authorization page, every grant, revocation, metadata."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from server.auth import hash_secret
from server.state import POOL
from storage import accounts as account_store
from tests.schemas import assert_matches

OOB = "urn:ietf:wg:oauth:2.0:oob"
CALLBACK = "https://client.example/callback"
PASSWORD = "correct horse battery"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


async def register(client, **fields: Any) -> dict[str, Any]:
    data = {
        "client_name": "Test Client",
        "redirect_uris": f"{CALLBACK}\n{OOB}",
        "scopes": "read write follow push",
        "website": "https://client.example",
        **fields,
    }
    resp = await client.post("/api/v1/apps", data=data)
    assert resp.status == 200, await resp.text()
    return await resp.json()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


async def open_page(client, app: dict[str, Any], path: str = "/oauth/authorize", **params: str):
    query = {
        "client_id": app["client_id"],
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "read write",
        **params,
    }
    return await client.get(path, params=query)


async def submit(client, page: str, *, login: str, password: str = PASSWORD, **extra: str):
    """Post the sign-in form the way a browser would: its hidden fields plus what was typed."""
    form = {**hidden_fields(page), "login": login, "password": password, "decision": "approve"}
    form.update(extra)
    return await client.post("/oauth/authorize", data=form, allow_redirects=False)


async def authorize(client, app: dict[str, Any], login: str, **params: str) -> dict[str, list[str]]:
    """Run the authorization page to its redirect; return the redirect's query."""
    page = await open_page(client, app, **params)
    assert page.status == 200, await page.text()
    resp = await submit(client, await page.text(), login=login)
    assert resp.status == 302, await resp.text()
    location = resp.headers["Location"]
    assert location.startswith(params.get("redirect_uri", CALLBACK))
    return parse_qs(urlsplit(location).query)


async def exchange(client, app: dict[str, Any], **fields: str):
    data = {
        "grant_type": "authorization_code",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "redirect_uri": CALLBACK,
        **fields,
    }
    return await client.post("/oauth/token", data=data)


async def password_token(client, app: dict[str, Any], username: str, **fields: str):
    data = {
        "grant_type": "password",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "username": username,
        "password": PASSWORD,
        "scope": "read write",
        **fields,
    }
    return await client.post("/oauth/token", data=data)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def assert_oauth_error(resp, status: int, error: str) -> None:
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert_matches("error", body)
    assert body["error"] == error


# --- Registration --------------------------------------------------------------------------


async def test_register_app_returns_credential_application(client):
    app = await register(client)
    assert_matches("application", app)
    assert app["name"] == "Test Client"
    assert app["website"] == "https://client.example"
    assert app["scopes"] == ["read", "write", "follow", "push"]
    assert app["redirect_uris"] == [CALLBACK, OOB]
    assert app["redirect_uri"] == f"{CALLBACK}\n{OOB}"
    assert app["client_secret_expires_at"] == 0
    assert app["client_id"] != app["client_secret"]


async def test_register_app_with_json_list_and_defaults(client):
    resp = await client.post(
        "/api/v1/apps",
        json={"client_name": "JSON", "redirect_uris": ["app.example:/cb", OOB]},
    )
    assert resp.status == 200
    app = await resp.json()
    assert_matches("application", app)
    assert app["scopes"] == ["read"]
    assert app["website"] is None
    assert app["redirect_uris"] == ["app.example:/cb", OOB]


@pytest.mark.parametrize(
    "fields",
    [
        {"client_name": ""},
        {"redirect_uris": ""},
        {"redirect_uris": "/relative/path"},
        {"redirect_uris": "javascript:alert(1)"},
        {"redirect_uris": "https://client.example/cb#fragment"},
        {"scopes": "read bogus"},
        {"website": "not a url"},
        {"client_name": "x" * 61},
    ],
)
async def test_register_app_rejects_invalid_fields(client, fields):
    data = {"client_name": "Client", "redirect_uris": CALLBACK, **fields}
    resp = await client.post("/api/v1/apps", data=data)
    assert resp.status == 422, await resp.text()
    body = await resp.json()
    assert_matches("error", body)
    assert body["error"].startswith("Validation failed")


async def test_malformed_json_body_is_a_json_400(client):
    for path in ("/api/v1/apps", "/oauth/token"):
        resp = await client.post(
            path, data=b'{"client_name": ', headers={"Content-Type": "application/json"}
        )
        assert resp.status == 400
        assert_matches("error", await resp.json())


async def test_server_metadata(client):
    resp = await client.get("/.well-known/oauth-authorization-server")
    assert resp.status == 200
    meta = await resp.json()
    assert meta["issuer"] == "http://kith.test/"
    assert meta["token_endpoint"] == "http://kith.test/oauth/token"
    assert meta["authorization_endpoint"] == "http://kith.test/oauth/authorize"
    assert meta["revocation_endpoint"] == "http://kith.test/oauth/revoke"
    assert meta["app_registration_endpoint"] == "http://kith.test/api/v1/apps"
    assert set(meta["grant_types_supported"]) >= {"password", "authorization_code"}
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "write:statuses" in meta["scopes_supported"]
    assert meta["scopes_supported"] == sorted(meta["scopes_supported"])


# --- The authorization code flow -----------------------------------------------------------


async def test_authorization_code_flow_with_pkce(client, make_member):
    member = await make_member("alice")
    app = await register(client)
    verifier, challenge = pkce_pair()

    page = await open_page(
        client,
        app,
        path="/oauth/authorize/",
        state="xyz",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert page.status == 200
    assert page.content_type == "text/html"
    text = await page.text()
    assert "Test Client" in text and "write" in text
    assert page.headers["X-Frame-Options"] == "DENY"

    resp = await submit(client, text, login="alice@example.org")
    assert resp.status == 302
    location = urlsplit(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]

    token_resp = await exchange(client, app, code=query["code"][0], code_verifier=verifier)
    assert token_resp.status == 200, await token_resp.text()
    assert token_resp.headers["Cache-Control"] == "no-store"
    token = await token_resp.json()
    assert_matches("token", token)
    assert token["scope"] == "read write"

    creds = await client.get(
        "/api/v1/apps/verify_credentials", headers=bearer(token["access_token"])
    )
    assert creds.status == 200
    assert (await creds.json())["name"] == "Test Client"
    user = await account_store.get_user(client.server.app[POOL], member.user_id)
    assert user["last_sign_in_at"] is not None


async def test_code_is_single_use(client, make_member):
    await make_member("alice")
    app = await register(client)
    code = (await authorize(client, app, "alice"))["code"][0]
    assert (await exchange(client, app, code=code)).status == 200
    await assert_oauth_error(await exchange(client, app, code=code), 400, "invalid_grant")


async def test_wrong_pkce_verifier_burns_the_code(client, make_member):
    await make_member("alice")
    app = await register(client)
    verifier, challenge = pkce_pair()
    query = await authorize(
        client, app, "alice", code_challenge=challenge, code_challenge_method="S256"
    )
    code = query["code"][0]
    wrong = await exchange(client, app, code=code, code_verifier=pkce_pair()[0])
    await assert_oauth_error(wrong, 400, "invalid_grant")
    # A missing verifier is refused, and the failed attempt spent the code.
    await assert_oauth_error(await exchange(client, app, code=code), 400, "invalid_grant")
    late = await exchange(client, app, code=code, code_verifier=verifier)
    await assert_oauth_error(late, 400, "invalid_grant")


async def test_redirect_uri_must_match_the_code(client, make_member):
    await make_member("alice")
    app = await register(client)
    code = (await authorize(client, app, "alice"))["code"][0]
    resp = await exchange(client, app, code=code, redirect_uri=OOB)
    await assert_oauth_error(resp, 400, "invalid_grant")


async def test_code_from_another_app_or_bad_secret_is_refused(client, make_member):
    await make_member("alice")
    app, other = await register(client), await register(client)
    code = (await authorize(client, app, "alice"))["code"][0]
    wrong_secret = await exchange(client, app, code=code, client_secret="nope")
    await assert_oauth_error(wrong_secret, 401, "invalid_client")
    stolen = await exchange(client, other, code=code)
    await assert_oauth_error(stolen, 400, "invalid_grant")


async def test_out_of_band_flow_shows_the_code(client, make_member):
    await make_member("alice")
    app = await register(client, scopes="read write")
    # toot's browser login URL: trailing slash, `+`-joined scopes in the query.
    page = await client.get(
        f"/oauth/authorize/?response_type=code&redirect_uri={OOB}"
        f"&scope=read+write&client_id={app['client_id']}"
    )
    assert page.status == 200
    resp = await submit(client, await page.text(), login="alice")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    code = re.search(r'class="code" type="text" value="([^"]+)"', await resp.text()).group(1)
    token = await exchange(client, app, code=code, redirect_uri=OOB)
    assert token.status == 200, await token.text()
    assert (await token.json())["scope"] == "read write"


async def test_mastodon_py_junk_parameters_are_tolerated(client, make_member):
    await make_member("alice")
    app = await register(client)
    query = await authorize(client, app, "alice", force_login="False", state="None", lang="None")
    assert "code" in query
    assert query["state"] == ["None"]  # echoed, as Mastodon does


async def test_fragment_and_form_post_response_modes(client, make_member):
    await make_member("alice")
    app = await register(client)
    page = await open_page(client, app, response_mode="fragment")
    resp = await submit(client, await page.text(), login="alice")
    assert resp.status == 302
    assert "code" in parse_qs(urlsplit(resp.headers["Location"]).fragment)

    page = await open_page(client, app, response_mode="form_post", state="s1")
    resp = await submit(client, await page.text(), login="alice")
    assert resp.status == 200
    posted = await resp.text()
    assert f'action="{CALLBACK}"' in posted
    assert hidden_fields(posted)["state"] == "s1"
    assert (await exchange(client, app, code=hidden_fields(posted)["code"])).status == 200


async def test_deny_redirects_with_access_denied(client, make_member):
    await make_member("alice")
    app = await register(client)
    page = await open_page(client, app, state="abc")
    resp = await submit(client, await page.text(), login="", password="", decision="deny")
    assert resp.status == 302
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["abc"]
    assert "code" not in query


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"client_id": "unknown"}, "not known"),
        ({"redirect_uri": "https://evil.example/cb"}, "redirect URI"),
        ({"scope": "read admin:read"}, "scope"),
        ({"scope": "read nonsense"}, "scope"),
        ({"response_type": "token"}, "response type"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "S256"),
    ],
)
async def test_bad_authorization_requests_show_an_error_page(client, params, fragment):
    app = await register(client)
    resp = await open_page(client, app, **params)
    assert resp.status == 400
    assert resp.content_type == "text/html"
    assert "Location" not in resp.headers
    assert fragment in await resp.text()


async def test_sign_in_form_refuses_wrong_password_and_unapproved_users(client, make_member):
    member = await make_member("alice")
    app = await register(client)
    page = await (await open_page(client, app)).text()

    resp = await submit(client, page, login="alice", password="wrong password")
    assert resp.status == 401
    assert "Invalid e-mail address" in await resp.text()
    assert "Location" not in resp.headers

    await account_store.update_user(client.server.app[POOL], member.user_id, {"approved": False})
    resp = await submit(client, page, login="alice")
    assert resp.status == 403
    assert "pending approval" in await resp.text()


async def test_sign_in_form_requires_the_csrf_token(client, make_member):
    await make_member("alice")
    app = await register(client)
    page = await (await open_page(client, app)).text()
    resp = await submit(client, page, login="alice", csrf_token="forged")
    assert resp.status == 403
    assert "Location" not in resp.headers
    # The re-rendered form carries a working token.
    resp = await submit(client, await resp.text(), login="alice")
    assert resp.status == 302


# --- Password and client credentials grants ------------------------------------------------


async def test_password_grant_by_email_or_username(client, make_member):
    member = await make_member("alice")
    app = await register(client)
    for login in ("alice@example.org", "ALICE"):
        resp = await password_token(client, app, login)
        assert resp.status == 200, await resp.text()
        token = await resp.json()
        assert_matches("token", token)
        assert token["scope"] == "read write"
    user = await account_store.get_user(client.server.app[POOL], member.user_id)
    assert user["last_sign_in_at"] is not None


async def test_password_grant_ignores_unknown_fields(client, make_member):
    await make_member("alice")
    app = await register(client)
    resp = await password_token(client, app, "alice", oauth_info="issuer", redirect_uri=OOB)
    assert resp.status == 200


async def test_password_grant_errors(client, make_member):
    member = await make_member("alice")
    app = await register(client, scopes="read")
    wrong = await password_token(client, app, "alice", password="wrong", scope="read")
    await assert_oauth_error(wrong, 400, "invalid_grant")
    assert (await wrong.json())["error_description"]
    nobody = await password_token(client, app, "nobody", scope="read")
    await assert_oauth_error(nobody, 400, "invalid_grant")
    await assert_oauth_error(await password_token(client, app, "alice"), 400, "invalid_scope")

    await account_store.update_user(client.server.app[POOL], member.user_id, {"approved": False})
    unapproved = await password_token(client, app, "alice", scope="read")
    assert unapproved.status == 403
    assert_matches("error", await unapproved.json())


async def test_token_endpoint_rejects_unknown_grant_and_client(client):
    app = await register(client)
    resp = await client.post(
        "/oauth/token",
        data={
            "grant_type": "implicit",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )
    await assert_oauth_error(resp, 400, "unsupported_grant_type")
    resp = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": "nope"}
    )
    await assert_oauth_error(resp, 401, "invalid_client")


async def test_client_credentials_and_verify_credentials(client):
    app = await register(client)
    # toot sends JSON; HTTP Basic carries the client credentials here.
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    resp = await client.post(
        "/oauth/token",
        json={"grant_type": "client_credentials", "scope": "read write"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert resp.status == 200, await resp.text()
    token = await resp.json()
    assert_matches("token", token)

    row = await client.server.app[POOL].fetchrow(
        "SELECT user_id FROM oauth_access_tokens WHERE token_hash = $1",
        hash_secret(token["access_token"]),
    )
    assert row["user_id"] is None

    resp = await client.get(
        "/api/v1/apps/verify_credentials", headers=bearer(token["access_token"])
    )
    assert resp.status == 200
    entity = await resp.json()
    assert_matches("application", entity)
    assert entity["id"] == app["id"]
    assert "client_secret" not in entity and "client_id" not in entity


async def test_verify_credentials_needs_a_token_but_no_scope(client, make_member):
    await make_member("alice")
    app = await register(client)
    assert (await client.get("/api/v1/apps/verify_credentials")).status == 401
    bad = await client.get("/api/v1/apps/verify_credentials", headers=bearer("not-a-token"))
    assert bad.status == 401
    push_only = await (await password_token(client, app, "alice", scope="push")).json()
    assert push_only["scope"] == "push"
    resp = await client.get(
        "/api/v1/apps/verify_credentials", headers=bearer(push_only["access_token"])
    )
    assert resp.status == 200


# --- Revocation ----------------------------------------------------------------------------


async def test_revoke_token(client, make_member):
    await make_member("alice")
    app, other = await register(client), await register(client)
    token = (await (await password_token(client, app, "alice")).json())["access_token"]

    refused = await client.post(
        "/oauth/revoke",
        data={
            "token": token,
            "client_id": other["client_id"],
            "client_secret": other["client_secret"],
        },
    )
    await assert_oauth_error(refused, 403, "unauthorized_client")
    still = await client.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert still.status == 200

    for value in (token, token, "never-issued"):
        resp = await client.post(
            "/oauth/revoke",
            data={
                "token": value,
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
            },
        )
        assert resp.status == 200
        assert await resp.json() == {}
    gone = await client.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert gone.status == 401


async def test_revoke_requires_client_credentials(client, make_member):
    await make_member("alice")
    app = await register(client)
    token = (await (await password_token(client, app, "alice")).json())["access_token"]
    resp = await client.post(
        "/oauth/revoke",
        data={"token": token, "client_id": app["client_id"], "client_secret": "wrong"},
    )
    await assert_oauth_error(resp, 403, "unauthorized_client")
