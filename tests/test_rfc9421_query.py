"""Signatures cover the query string: a signed GET of one page of a collection cannot be
replayed for another page.

Kith's RFC 9421 signatures cover `@target-uri`, which holds the query; a verifier must refuse a
signature that covers `@path` but neither `@query` nor a component holding the query, on a
request that has one. draft-cavage's `(request-target)` holds the query too.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from federation.keycache import KeyCache
from federation.keys import make_rsa_keypair
from federation.signatures import SignatureError, sign_request, verify_request
from federation.signatures.common import http_date, rsa_sign
from federation.signatures.rfc9421 import parse_dictionary, signature_base

KEY_ID = "https://remote.example/users/alice#main-key"
OWNER = "https://remote.example/users/alice"
OUTBOX = "https://kith.example/users/alice/outbox"
NOW = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return make_rsa_keypair()


async def _verify(pair, url: str, headers: dict[str, str]):
    async def load_key(key_id: str, refresh: bool) -> tuple[str, str]:
        return OWNER, pair[1]

    return await verify_request(
        "GET", url, headers, None, keys=KeyCache(), load_key=load_key, now=NOW
    )


async def _refused(pair, url: str, headers: dict[str, str]) -> str:
    with pytest.raises(SignatureError) as caught:
        await _verify(pair, url, headers)
    assert caught.value.status == 401
    return caught.value.reason


def _signed(pair, scheme: str, url: str) -> dict[str, str]:
    key = KeyCache().signing_key(KEY_ID, pair[0])
    return sign_request("GET", url, body=None, key=key, scheme=scheme, now=NOW)


def _by_hand(pair, url: str, components: list[str]) -> dict[str, str]:
    """An RFC 9421 GET of `url` signed over exactly `components`, as another server might."""
    headers = {"Host": "kith.example", "Date": http_date(NOW)}
    quoted = " ".join(f'"{name}"' for name in components)
    params = f'({quoted});created={int(NOW.timestamp())};keyid="{KEY_ID}"'
    base = signature_base("GET", url, {"host": "kith.example"}, components, params)
    signature = base64.b64encode(
        rsa_sign(KeyCache().signing_key(KEY_ID, pair[0]).private_key, base)
    )
    return headers | {
        "Signature-Input": f"sig1={params}",
        "Signature": f"sig1=:{signature.decode()}:",
    }


async def test_kith_signs_the_query_as_part_of_the_target_uri(pair):
    url = f"{OUTBOX}?page=true"
    headers = _signed(pair, "rfc9421", url)

    covered = [item.value for item in parse_dictionary(headers["Signature-Input"])["sig1"].items]
    assert "@target-uri" in covered
    base = signature_base("GET", url, {"host": "kith.example"}, ["@target-uri"], "()")
    assert base.startswith(f'"@target-uri": {url}\n'.encode())
    assert (await _verify(pair, url, headers)).owner_uri == OWNER


@pytest.mark.parametrize("scheme", ["rfc9421", "cavage"])
@pytest.mark.parametrize(
    "replayed", [f"{OUTBOX}?page=false", f"{OUTBOX}?page=true&min_id=1", f"{OUTBOX}"]
)
async def test_a_changed_query_does_not_verify(pair, scheme, replayed):
    headers = _signed(pair, scheme, f"{OUTBOX}?page=true")
    assert "does not verify" in await _refused(pair, replayed, headers)


async def test_a_path_only_signature_on_a_request_with_a_query_is_refused(pair):
    url = f"{OUTBOX}?page=true"
    headers = _by_hand(pair, url, ["@method", "@path", "@authority"])

    assert "@query" in await _refused(pair, url, headers)
    # The same signature on another query: still refused, before any key is fetched.
    assert "@query" in await _refused(pair, f"{OUTBOX}?page=2", headers)


@pytest.mark.parametrize(
    "components",
    [
        ["@method", "@path", "@query", "@authority"],
        ["@method", "@request-target", "@authority"],
        ["@method", "@target-uri"],
    ],
)
async def test_a_signature_covering_the_query_is_accepted(pair, components):
    url = f"{OUTBOX}?page=true"
    headers = _by_hand(pair, url, components)

    assert (await _verify(pair, url, headers)).owner_uri == OWNER
    assert "does not verify" in await _refused(pair, f"{OUTBOX}?page=false", headers)


async def test_a_path_only_signature_without_a_query_is_accepted(pair):
    headers = _by_hand(pair, OUTBOX, ["@method", "@path", "@authority"])
    assert (await _verify(pair, OUTBOX, headers)).owner_uri == OWNER
