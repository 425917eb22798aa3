"""Input beyond what a parameter can hold is a 422, and errors quote only an excerpt of it.

Regressions: `expires_in: 10**30` overflowed a timedelta and `website=http://[` made urlsplit
raise, both answering 500; the inbox echoed a 900-level-deep value whole in its 400.
"""

from __future__ import annotations

import pytest

from federation.excerpt import MAX_EXCERPT, excerpt
from federation.parse.schema import first_error
from tests.inbox_peer import kith_fixture, peer_fixture  # noqa: F401 - fixtures

CALLBACK = "https://client.example/callback"
# Bodies of errors that quote a value: the message plus a short excerpt of it.
SHORT_BODY = 300


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


async def short_error(response, status: int) -> str:
    body = await response.read()
    assert response.status == status, body
    assert len(body) < SHORT_BODY, body[:SHORT_BODY]
    return (await response.json())["error"]


@pytest.mark.parametrize("expires_in", [10**30, 10**15, -5, 1e300, "9" * 30])
async def test_filter_expiring_beyond_a_datetime_is_422(client, make_member, expires_in):
    member = await make_member("alice")
    response = await client.post(
        "/api/v2/filters",
        json={"title": "t", "context": ["home"], "expires_in": expires_in},
        headers=member.headers,
    )
    assert "expires_in" in await short_error(response, 422)


async def test_filter_expiring_in_a_long_but_valid_time_is_created(client, make_member):
    member = await make_member("alice")
    response = await client.post(
        "/api/v2/filters",
        json={"title": "t", "context": ["home"], "expires_in": 50 * 365 * 86400},
        headers=member.headers,
    )
    assert response.status == 200
    assert (await response.json())["expires_at"].startswith("20")


@pytest.mark.parametrize("website", ["http://[", "https://[::1", "ftp://example.org", "http://"])
async def test_app_website_that_is_not_a_url_is_422(client, website):
    response = await client.post(
        "/api/v1/apps",
        data={"client_name": "Client", "redirect_uris": CALLBACK, "website": website},
    )
    assert "website" in await short_error(response, 422)


async def test_integers_beyond_bigint_are_out_of_range(client, make_member):
    member = await make_member("alice")
    response = await client.post(
        "/api/v1/accounts/1/mute", json={"duration": 10**20}, headers=member.headers
    )
    assert "out of range" in await short_error(response, 422)


async def test_unknown_filter_context_is_quoted_briefly(client, make_member):
    member = await make_member("alice")
    response = await client.post(
        "/api/v2/filters",
        json={"title": "t", "context": ["y" * 100_000]},
        headers=member.headers,
    )
    assert "yyy..." in await short_error(response, 422)


async def test_long_parameter_names_and_content_types_are_quoted_briefly(client):
    response = await client.post(
        "/api/v1/apps",
        data=b"a" * 50_000 + b"[]x=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status < 500
    response = await client.post(
        "/api/v1/apps", data=b"{}", headers={"Content-Type": "text/" + "z" * 5000}
    )
    assert "zzz..." in await short_error(response, 415)


async def test_inbox_body_900_levels_deep_is_a_short_400(kith, peer):
    activity = peer.activity("Like", nested(900))
    status, body = await peer.deliver(kith, activity)
    assert status == 400
    assert len(str(body)) < SHORT_BODY and "nested" in body["error"]


async def test_inbox_schema_error_quotes_an_excerpt(kith, peer):
    activity = peer.activity("Like", nested(40))
    activity["type"] = ["x" * 200_000]
    status, body = await peer.deliver(kith, activity)
    assert status == 400
    assert body["error"].startswith("invalid activity: type: ['xxx")
    assert len(str(body)) < SHORT_BODY


def test_schema_errors_quote_at_most_an_excerpt():
    document = {"id": "https://peer.test/1", "type": "Like", "actor": "x" * 10_000}
    error = first_error("activity", document)
    assert error is not None and error.startswith("actor: 'xxx") and len(error) < SHORT_BODY
    assert first_error("activity", {"object": nested(1000)}) == "nested more than 64 levels deep"


def test_excerpt_is_short_whatever_the_value():
    for value in ("é" * 10_000, nested(5000), {str(n): n for n in range(1000)}, 10**4000 - 1):
        assert len(excerpt(value)) <= MAX_EXCERPT
