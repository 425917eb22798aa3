"""HTTP signatures: both schemes round trip, every refusal has its status, and Kith agrees with
independent implementations (httpsig for draft-cavage, RFC 9421's own test vectors, and the
formats Mastodon and Fedify put on the wire)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from httpsig.sign import HeaderSigner
from httpsig.verify import HeaderVerifier
from multidict import CIMultiDict, CIMultiDictProxy

from federation.keycache import KeyCache
from federation.keys import make_rsa_keypair
from federation.signatures import SignatureError, sign_request, verify_request
from federation.signatures.common import http_date
from federation.signatures.digest import check_body
from federation.signatures.rfc9421 import parse_dictionary, serialize_inner_list, signature_base

KEY_ID = "https://remote.example/users/alice#main-key"
OWNER = "https://remote.example/users/alice"
INBOX = "https://kith.example/users/bob/inbox"
NOW = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
BODY = b'{"type":"Follow","actor":"https://remote.example/users/alice"}'
CASES = [(scheme, method) for scheme in ("cavage", "rfc9421") for method in ("GET", "POST")]


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return make_rsa_keypair()


@pytest.fixture(scope="module")
def other_pair() -> tuple[str, str]:
    return make_rsa_keypair()


class Loader:
    """A KeyLoader that answers from a script and records its calls."""

    def __init__(self, pem: str | None, refreshed_pem: str | None = None) -> None:
        self.pem = pem
        self.refreshed_pem = refreshed_pem if refreshed_pem is not None else pem
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, key_id: str, refresh: bool) -> tuple[str, str] | None:
        self.calls.append((key_id, refresh))
        pem = self.refreshed_pem if refresh else self.pem
        return None if pem is None else (OWNER, pem)


def signed(pair, scheme="cavage", method="POST", url=INBOX, body=BODY, now=NOW):
    keys = KeyCache()
    key = keys.signing_key(KEY_ID, pair[0])
    return sign_request(
        method, url, body=body if method == "POST" else None, key=key, scheme=scheme, now=now
    )


async def verify(headers, pair_or_loader, method="POST", url=INBOX, body=BODY, now=NOW, keys=None):
    loader = pair_or_loader if isinstance(pair_or_loader, Loader) else Loader(pair_or_loader[1])
    return await verify_request(
        method,
        url,
        headers,
        body if method == "POST" else None,
        keys=keys or KeyCache(),
        load_key=loader,
        now=now,
    )


async def refused(status, headers, pair_or_loader, **kwargs) -> str:
    with pytest.raises(SignatureError) as caught:
        await verify(headers, pair_or_loader, **kwargs)
    assert caught.value.status == status, caught.value.reason
    return caught.value.reason


def httpsig_headers(
    pair, names, *, method="POST", body=BODY, url_path="/users/bob/inbox", extra=None
):
    """A draft-cavage signature made by httpsig (pycryptodome), an independent implementation."""
    headers = {"Host": "kith.example", "Date": http_date(NOW)} | (extra or {})
    if method == "POST":
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        headers |= {"Digest": f"SHA-256={digest}", "Content-Type": "application/activity+json"}
    signer = HeaderSigner(KEY_ID, pair[0], "rsa-sha256", names, sign_header="signature")
    return dict(signer.sign(headers, method=method, path=url_path))


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(("scheme", "method"), CASES)
async def test_round_trip(pair, scheme, method):
    keys = KeyCache()
    headers = signed(pair, scheme, method)
    verified = await verify(headers, pair, method=method, keys=keys)
    assert verified.key_id == KEY_ID
    assert verified.owner_uri == OWNER
    assert verified.scheme == scheme
    assert keys.verifications == 1


def test_cavage_header_shape(pair):
    post, get = signed(pair, method="POST"), signed(pair, method="GET")
    assert post["Host"] == "kith.example"
    assert post["Date"] == "Tue, 24 Nov 2026 03:30:00 GMT"
    assert post["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert post["Content-Type"] == "application/activity+json"
    assert post["Signature"].startswith(f'keyId="{KEY_ID}",algorithm="rsa-sha256",')
    assert 'headers="(request-target) host date digest"' in post["Signature"]
    assert 'headers="(request-target) host date"' in get["Signature"]
    assert set(get) == {"Host", "Date", "Signature"}


def test_rfc9421_header_shape(pair):
    post, get = signed(pair, "rfc9421", "POST"), signed(pair, "rfc9421", "GET")
    created = int(NOW.timestamp())
    params = f';created={created};keyid="{KEY_ID}";alg="rsa-v1_5-sha256"'
    assert post["Signature-Input"] == (
        f'sig1=("@method" "@target-uri" "@authority" "content-digest" "date"){params}'
    )
    assert get["Signature-Input"] == f'sig1=("@method" "@target-uri" "@authority" "date"){params}'
    digest = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert post["Content-Digest"] == f"sha-256=:{digest}:"
    assert post["Signature"].startswith("sig1=:") and post["Signature"].endswith(":")
    assert "Digest" not in post
    assert set(get) == {"Host", "Date", "Signature-Input", "Signature"}


def test_host_drops_default_port_and_keeps_others(pair):
    assert signed(pair, url="https://Kith.Example:443/inbox")["Host"] == "kith.example"
    assert signed(pair, url="http://kith.example:8080/inbox")["Host"] == "kith.example:8080"


async def test_headers_may_be_a_case_insensitive_multidict(pair):
    headers = CIMultiDictProxy(CIMultiDict(signed(pair, "rfc9421")))
    assert (await verify(headers, pair)).scheme == "rfc9421"


async def test_rfc9421_target_uri_is_compared_normalised(pair):
    headers = signed(pair, "rfc9421", url="https://kith.example/users/bob/inbox")
    await verify(headers, pair, url="https://KITH.example:443/users/bob/inbox")


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
async def test_request_signed_for_another_host_is_refused(pair, scheme):
    """A genuine signature replayed to Kith from a request meant for another server."""
    headers = signed(pair, scheme, url="https://elsewhere.example/users/bob/inbox")
    assert "not kith.example" in await refused(401, headers, pair)
    headers["Host"] = "kith.example:notaport"
    await refused(400, headers, pair)


async def test_authorization_header_carries_a_cavage_signature(pair):
    headers = signed(pair)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    assert (await verify(headers, pair)).scheme == "cavage"


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
async def test_tampered_body_is_refused_before_any_rsa_work(pair, scheme):
    keys = KeyCache()
    headers = signed(pair, scheme)
    reason = await refused(401, headers, pair, body=BODY + b" ", keys=keys)
    assert "does not match" in reason
    assert keys.loads == 0 and keys.verifications == 0


@pytest.mark.parametrize(("scheme", "method"), CASES)
async def test_wrong_key_is_refused(pair, other_pair, scheme, method):
    keys = KeyCache()
    loader = Loader(other_pair[1])
    await refused(401, signed(pair, scheme, method), loader, method=method, keys=keys)
    # The refresh returned the same key, so it was not tried twice.
    assert loader.calls == [(KEY_ID, False), (KEY_ID, True)]
    assert keys.verifications == 1


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
async def test_rotated_key_is_refetched_once(pair, other_pair, scheme):
    keys = KeyCache()
    loader = Loader(other_pair[1], refreshed_pem=pair[1])  # known: the old key; remote: new
    verified = await verify(signed(pair, scheme), loader, keys=keys)
    assert verified.owner_uri == OWNER
    assert loader.calls == [(KEY_ID, False), (KEY_ID, True)]
    assert keys.verifications == 2
    # The new key is now the cached one: the next request needs no load and one verification.
    await verify(signed(pair, scheme), loader, keys=keys)
    assert len(loader.calls) == 2 and keys.verifications == 3


async def test_unfetchable_key_is_refused(pair):
    reason = await refused(401, signed(pair), Loader(None))
    assert "could not be fetched" in reason


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
@pytest.mark.parametrize(
    ("age", "accepted"),
    [
        (timedelta(hours=13), False),
        (timedelta(hours=11), True),
        (-timedelta(hours=2), False),
        (-timedelta(minutes=50), True),
    ],
)
async def test_time_window(pair, scheme, age, accepted):
    headers = signed(pair, scheme, now=NOW - age)
    if accepted:
        await verify(headers, pair)
    else:
        await refused(401, headers, pair)


@pytest.mark.parametrize(
    ("names", "missing"),
    [
        (["host", "date", "digest"], "(request-target)"),
        (["(request-target)", "date", "digest"], "host"),
        (["(request-target)", "host", "digest"], "date"),
        (["(request-target)", "host", "date"], "digest"),
    ],
)
async def test_cavage_signature_must_cover_the_essentials(pair, names, missing):
    reason = await refused(401, httpsig_headers(pair, names), pair)
    assert missing in reason


async def test_cavage_get_needs_no_digest_but_a_host(pair):
    get = httpsig_headers(pair, ["(request-target)", "host", "date"], method="GET")
    await verify(get, pair, method="GET")
    get = httpsig_headers(pair, ["(request-target)", "date"], method="GET")
    assert "host" in await refused(401, get, pair, method="GET")


@pytest.mark.parametrize(
    ("signature_input", "missing"),
    [
        ('("@target-uri" "content-digest" "date");created={c};keyid="{k}"', "@method"),
        ('("@method" "@authority" "content-digest");created={c};keyid="{k}"', "@target-uri"),
        ('("@method" "@path" "content-digest");created={c};keyid="{k}"', "@authority"),
        ('("@method" "@target-uri" "content-digest");keyid="{k}"', "created or date"),
        ('("@method" "@target-uri" "date");created={c};keyid="{k}"', "content-digest"),
    ],
)
async def test_rfc9421_signature_must_cover_the_essentials(pair, signature_input, missing):
    headers = signed(pair, "rfc9421")
    inner = signature_input.format(c=int(NOW.timestamp()), k=KEY_ID)
    headers["Signature-Input"] = f"sig1={inner}"
    assert missing in await refused(401, headers, pair)


async def test_rfc9421_path_and_authority_replace_target_uri(pair):
    """What a verifier must accept from senders that do not cover @target-uri."""
    headers = rfc9421_by_hand(
        pair,
        ["@method", "@path", "@authority", "content-digest"],
        {"created": NOW, "keyid": KEY_ID},
    )
    await verify(headers, pair)


async def test_rfc9421_expired_signature_is_refused(pair):
    expires = NOW - timedelta(hours=2)
    headers = rfc9421_by_hand(
        pair,
        ["@method", "@target-uri", "content-digest"],
        {"created": NOW - timedelta(hours=3), "expires": expires, "keyid": KEY_ID},
    )
    assert "expired" in await refused(401, headers, pair)


@pytest.mark.parametrize("algorithm", ["hs2019", "HS2019", None])
async def test_hs2019_and_absent_algorithm_mean_rsa_sha256(pair, algorithm):
    headers = httpsig_headers(pair, ["(request-target)", "host", "date", "digest"])
    replacement = f'algorithm="{algorithm}",' if algorithm else ""
    headers["signature"] = headers["signature"].replace('algorithm="rsa-sha256",', replacement)
    assert "rsa-sha256" not in headers["signature"]
    assert (await verify(headers, pair)).scheme == "cavage"


async def test_hs2019_may_sign_created_instead_of_date(pair):
    created = int(NOW.timestamp())
    lines = [
        "(request-target): post /users/bob/inbox",
        "host: kith.example",
        f"(created): {created}",
        f"digest: SHA-256={base64.b64encode(hashlib.sha256(BODY).digest()).decode()}",
    ]
    headers = {
        "Host": "kith.example",
        "Digest": lines[3].removeprefix("digest: "),
        "Signature": (
            f'keyId="{KEY_ID}",algorithm="hs2019",created={created},'
            f'headers="(request-target) host (created) digest",'
            f'signature="{rsa_b64(pair, chr(10).join(lines))}"'
        ),
    }
    await verify(headers, pair)
    stale = NOW + timedelta(hours=13)
    assert "12 hours" in await refused(401, headers, pair, now=stale)


@pytest.mark.parametrize("algorithm", ["rsa-sha512", "hmac-sha256", "ed25519"])
async def test_unknown_cavage_algorithm_is_refused(pair, algorithm):
    headers = signed(pair)
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", algorithm)
    assert "unsupported" in await refused(401, headers, pair)


async def test_unknown_rfc9421_algorithm_is_refused(pair):
    headers = signed(pair, "rfc9421")
    headers["Signature-Input"] = headers["Signature-Input"].replace("rsa-v1_5-sha256", "ed25519")
    await refused(401, headers, pair)


async def test_unsigned_request_is_refused(pair):
    await refused(401, {"Host": "kith.example", "Date": http_date(NOW)}, pair)
    await refused(401, {"Authorization": "Bearer abc"}, pair)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Signature", 'keyId="x",signature=AAAA",,'),
        ("Signature", f'keyId="{KEY_ID}",headers="date"'),
        ("Digest", "SHA-256=not base64!"),
        ("Date", "yesterday-ish"),
    ],
)
async def test_malformed_cavage_headers_are_bad_requests(pair, header, value):
    headers = signed(pair)
    headers[header] = value
    await refused(400, headers, pair)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Signature-Input", 'sig1=("@method" "@target-uri"'),
        ("Signature-Input", "sig1=(@method)"),
        ("Signature", "sig1=not-bytes"),
        ("Content-Digest", "sha-256=:@@@:"),
    ],
)
async def test_malformed_rfc9421_headers_are_bad_requests(pair, header, value):
    headers = signed(pair, "rfc9421")
    headers[header] = value
    await refused(400, headers, pair)


async def test_bad_signature_bytes_are_unauthorized(pair):
    headers = signed(pair)
    headers["Signature"] = headers["Signature"].replace('signature="', 'signature="AAAA')
    await refused(401, headers, pair)


# --- interoperability ------------------------------------------------------------------------


@pytest.mark.parametrize("sign_header", ["signature", "authorization"])
async def test_httpsig_signs_kith_verifies(pair, sign_header):
    headers = {"Host": "kith.example", "Date": http_date(NOW)}
    digest = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    headers["Digest"] = f"SHA-256={digest}"
    names = ["(request-target)", "host", "date", "digest"]
    signer = HeaderSigner(KEY_ID, pair[0], "rsa-sha256", names, sign_header=sign_header)
    signed_headers = dict(signer.sign(headers, method="POST", path="/users/bob/inbox"))
    assert (await verify(signed_headers, pair)).key_id == KEY_ID


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_kith_signs_httpsig_verifies(pair, method):
    headers = signed(pair, method=method)
    names = ["(request-target)", "host", "date"] + (["digest"] if method == "POST" else [])
    verifier = HeaderVerifier(
        headers,
        pair[1],
        required_headers=names,
        method=method,
        path="/users/bob/inbox",
        sign_header="signature",
    )
    assert verifier.verify()


async def test_mastodon_style_cavage_post(pair):
    """Mastodon signs `(request-target) host date digest content-type` with rsa-sha256."""
    names = ["(request-target)", "host", "date", "digest", "content-type"]
    await verify(httpsig_headers(pair, names), pair)


async def test_fedify_style_cavage_post(pair):
    """Fedify's draft-cavage signer covers every header it sends, in Headers' sorted order."""
    names = ["(request-target)", "accept", "content-type", "date", "digest", "host"]
    headers = httpsig_headers(pair, names, extra={"Accept": "application/activity+json"})
    await verify(headers, pair)


async def test_request_target_without_query_is_accepted(pair):
    """Fedify and older Mastodon leave the query out of (request-target)."""
    keys = KeyCache()
    names = ["(request-target)", "host", "date"]
    headers = httpsig_headers(pair, names, method="GET", url_path="/users/bob/outbox")
    url = "https://kith.example/users/bob/outbox?page=true"
    await verify(headers, pair, method="GET", url=url, keys=keys)
    assert keys.verifications == 2


async def test_fedify_style_rfc9421_post(pair):
    """Fedify 2's default: also covers `host`, and orders its parameters alg, keyid, created."""
    headers = rfc9421_by_hand(
        pair,
        ["@method", "@target-uri", "@authority", "host", "date", "content-digest"],
        {"alg": "rsa-v1_5-sha256", "keyid": KEY_ID, "created": NOW},
    )
    assert headers["Signature-Input"].startswith('sig1=("@method" "@target-uri" "@authority"')
    assert (await verify(headers, pair)).scheme == "rfc9421"


async def test_mastodon_style_rfc9421_post_without_alg(pair):
    """What Mastodon's verifier demands (created, @method, @target-uri, content-digest), with
    the algorithm left to the key."""
    headers = rfc9421_by_hand(
        pair, ["@method", "@target-uri", "content-digest"], {"created": NOW, "keyid": KEY_ID}
    )
    await verify(headers, pair)


async def test_rfc9421_signature_input_is_reserialized_canonically(pair):
    """Extra whitespace in Signature-Input does not change the signed `@signature-params`."""
    headers = signed(pair, "rfc9421")
    loose = headers["Signature-Input"].replace("(", "(  ").replace(")", " )").replace(";", "; ")
    assert loose != headers["Signature-Input"]
    headers["Signature-Input"] = loose
    await verify(headers, pair)


def test_structured_field_round_trip():
    text = 'a=("x" "y\\"z");n=-5;t=tok/en;f;b=:AQID:, c=?0;k="q\\\\"'
    parsed = parse_dictionary(text)
    assert serialize_inner_list(parsed["a"]) == '("x" "y\\"z");n=-5;t=tok/en;f;b=:AQID:'
    assert parsed["c"].value is False and parsed["c"].params == {"k": "q\\"}


async def test_signing_and_verifying_at_the_current_time(pair):
    keys = KeyCache()
    key = keys.signing_key(KEY_ID, pair[0])
    for scheme in ("cavage", "rfc9421"):
        headers = sign_request("POST", INBOX, body=BODY, key=key, scheme=scheme)
        await verify_request("POST", INBOX, headers, BODY, keys=keys, load_key=Loader(pair[1]))


async def test_rfc9421_first_usable_label_is_verified(pair):
    headers = signed(pair, "rfc9421")
    other_input = 'sig0=("@method");created=1;keyid="x";alg="ed25519"'
    headers["Signature-Input"] = f"{other_input}, {headers['Signature-Input']}"
    headers["Signature"] = f"sig0=:AAAA:, {headers['Signature']}"
    await verify(headers, pair)


# RFC 9421 Appendix B.1 test keys and the B.2 test request.
RFC_ED25519_PUBLIC = "JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="
RFC_RSA_PSS_PUBLIC = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
"""
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_BODY = b'{"hello": "world"}'
RFC_FIELDS = {
    "host": "example.com",
    "date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "content-type": "application/json",
    "content-digest": (
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXv"
        "Jwew==:"
    ),
    "content-length": "18",
}


def rfc_base(signature_input: str) -> bytes:
    ((_label, member),) = parse_dictionary(signature_input).items()
    components = [item.value for item in member.items]
    return signature_base("POST", RFC_URL, RFC_FIELDS, components, serialize_inner_list(member))


def test_rfc9421_b26_signature_base_and_ed25519_signature():
    signature_input = (
        'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
        ';created=1618884473;keyid="test-key-ed25519"'
    )
    base = rfc_base(signature_input)
    assert base.decode() == "\n".join(
        [
            '"date": Tue, 20 Apr 2021 02:07:55 GMT',
            '"@method": POST',
            '"@path": /foo',
            '"@authority": example.com',
            '"content-type": application/json',
            '"content-length": 18',
            '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
            '"content-length");created=1618884473;keyid="test-key-ed25519"',
        ]
    )
    signature = base64.b64decode(
        "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
    )
    Ed25519PublicKey.from_public_bytes(base64.b64decode(RFC_ED25519_PUBLIC)).verify(signature, base)


def test_rfc9421_b23_full_coverage_verifies_with_the_rfc_key():
    signature_input = (
        'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" '
        '"content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"'
    )
    signature = base64.b64decode(
        "bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRR"
        "U5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pF"
        "kh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8"
        "LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA=="
    )
    base = rfc_base(signature_input)
    assert b'"@query": ?param=Value&Pet=dog' in base
    key = serialization.load_pem_public_key(RFC_RSA_PSS_PUBLIC.encode())
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
    key.verify(signature, base, pss, hashes.SHA512())


def test_rfc9421_test_request_content_digest_is_checked():
    """The B.2 request's `sha-512` Content-Digest matches its body under Kith's check."""
    offered = {k: v.value for k, v in parse_dictionary(RFC_FIELDS["content-digest"]).items()}
    check_body(offered, RFC_BODY, "Content-Digest")
    with pytest.raises(SignatureError):
        check_body(offered, RFC_BODY + b"x", "Content-Digest")


# --- helpers that sign by hand, as other implementations do ----------------------------------


def rsa_b64(pair, message: str) -> str:
    keys = KeyCache()
    private_key = keys.signing_key(KEY_ID, pair[0]).private_key
    raw = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def rfc9421_by_hand(pair, components, params, *, url=INBOX, body=BODY):
    """An RFC 9421 POST signed with the given components and parameters (in the given order);
    datetimes among the parameters become integers."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    headers = {
        "Host": "kith.example",
        "Date": http_date(NOW),
        "Content-Digest": f"sha-256=:{digest}:",
    }
    rendered = []
    for name, value in params.items():
        if isinstance(value, datetime):
            value = int(value.timestamp())
        rendered.append(f";{name}={value}" if isinstance(value, int) else f';{name}="{value}"')
    quoted = " ".join(f'"{c}"' for c in components)
    signature_params = f"({quoted}){''.join(rendered)}"
    fields = {k.lower(): v for k, v in headers.items()}
    base = signature_base("POST", url, fields, components, signature_params)
    headers["Signature-Input"] = f"sig1={signature_params}"
    headers["Signature"] = f"sig1=:{rsa_b64(pair, base.decode())}:"
    return headers
