"""HTTP signatures for server-to-server requests: draft-cavage (what most of the fediverse
sends) and RFC 9421 (what Fedify tries first and Mastodon now accepts).

`sign_request` gives the headers to send; `verify_request` checks an incoming request and says
who signed it. The schemes differ only in how they name what is signed (`cavage.py`,
`rfc9421.py`); fetching the key, the RSA verification and the retry after a key rotation are
shared and live here. Keys are parsed once and kept by `KeyCache`, so a request costs one RSA
operation and no PEM parsing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from federation.signatures import cavage, rfc9421
from federation.signatures.common import (
    Claim,
    KeyLoader,
    SignatureError,
    SigningKey,
    Verified,
    authority,
    collect_headers,
    now_utc,
    rsa_verify,
    unauthorized,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from federation.keycache import KeyCache

# keyId="..." (draft-cavage `Signature`) or keyid="..." (RFC 9421 `Signature-Input`).
_KEY_ID = re.compile(r'keyid="([^"]*)"', re.IGNORECASE)

__all__ = [
    "KeyLoader",
    "SignatureError",
    "SigningKey",
    "Verified",
    "claimed_key_ids",
    "sign_request",
    "verify_request",
]

_SCHEMES = {cavage.SCHEME: cavage, rfc9421.SCHEME: rfc9421}


def claimed_key_ids(headers: Mapping[str, str]) -> list[str]:
    """The key ids a request's signature headers name, unverified: enough to refuse a blocked
    domain before fetching its key, never to trust anyone."""
    return [
        key_id
        for header in ("Signature", "Signature-Input")
        for key_id in _KEY_ID.findall(headers.get(header, ""))
    ]


def sign_request(
    method: str,
    url: str,
    *,
    body: bytes | None,
    key: SigningKey,
    scheme: str = "cavage",
    content_type: str = "application/activity+json",
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers to send with a request: Host, Date, for a body its digest and Content-Type,
    and the signature (`Signature`, plus `Signature-Input` for RFC 9421)."""
    if scheme not in _SCHEMES:
        raise ValueError(f"unknown signature scheme {scheme!r}")
    return _SCHEMES[scheme].sign(
        method, url, body=body, key=key, content_type=content_type, now=now_utc(now)
    )


async def verify_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    keys: KeyCache,
    load_key: KeyLoader,
    now: datetime | None = None,
) -> Verified:
    """Checks the signature of an incoming request or raises `SignatureError`.

    `url` is the full URL this server was asked for: its own origin (the request's Host header
    is checked against it, so a request signed for another server is refused) followed by the
    path and query exactly as received. RFC 9421 is used when `Signature-Input` is present,
    draft-cavage otherwise. All cheap checks (coverage, time window, digest) run before the key
    is fetched. A signature that fails with the key as known is retried once with the key
    fetched afresh, which is how a key rotation is noticed.
    """
    fields = collect_headers(headers)
    reader = rfc9421 if "signature-input" in fields else cavage
    claim = reader.read(method, url, fields, body, now_utc(now))

    found = await keys.public_key(claim.key_id, load_key)
    if found is None:
        raise unauthorized(f"key {claim.key_id} could not be fetched")
    _check_key_host(claim.key_id, found[0])
    if _verifies(keys, found[1], claim):
        return Verified(claim.key_id, found[0], claim.scheme)

    refreshed = await keys.public_key(claim.key_id, load_key, refresh=True)
    if refreshed is None or refreshed[1] is found[1]:
        raise unauthorized("signature does not verify")
    _check_key_host(claim.key_id, refreshed[0])
    if _verifies(keys, refreshed[1], claim):
        return Verified(claim.key_id, refreshed[0], claim.scheme)
    raise unauthorized("signature does not verify")


def _check_key_host(key_id: str, owner_uri: str) -> None:
    """A key speaks only for an actor of its own host. Actor documents naming a key elsewhere
    are refused when parsed; this also refuses such keys stored before that check existed, and
    any loader that would vouch for one."""
    if authority(key_id) != authority(owner_uri):
        raise unauthorized(f"key {key_id} is not on the host of its owner {owner_uri}")


def _verifies(keys: KeyCache, public_key: RSAPublicKey, claim: Claim) -> bool:
    for message in claim.messages:
        keys.verifications += 1
        if rsa_verify(public_key, claim.signature, message):
            return True
    return False
