"""Body digests: RFC 3230's `Digest` (draft-cavage) and RFC 9530's `Content-Digest` (RFC 9421).

A signature covers the digest header, not the body, so a request is only as authentic as the
check that its body matches the digest it carries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from federation.signatures.common import malformed, unauthorized

# Algorithm names as both headers spell them once lower-cased.
_HASHES = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def digest_header(body: bytes) -> str:
    """`Digest: SHA-256=...`, as Mastodon sends and requires."""
    return f"SHA-256={_b64(hashlib.sha256(body).digest())}"


def content_digest_header(body: bytes) -> str:
    """`Content-Digest: sha-256=:...:`, an RFC 8941 dictionary holding a byte sequence."""
    return f"sha-256=:{_b64(hashlib.sha256(body).digest())}:"


def parse_digest_header(value: str) -> dict[str, bytes]:
    """RFC 3230: comma-separated `algorithm=base64` pairs."""
    offered: dict[str, bytes] = {}
    for part in value.split(","):
        algorithm, sep, encoded = part.strip().partition("=")
        if not sep:
            raise malformed(f"unparseable Digest header: {value!r}")
        try:
            offered[algorithm.strip().lower()] = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as exc:
            raise malformed(f"Digest value is not base64: {value!r}") from exc
    return offered


def check_body(offered: Mapping[str, bytes], body: bytes, header: str) -> None:
    """Every offered digest Kith can compute must match; at least one must be computable."""
    usable = [name for name in offered if name in _HASHES]
    if not usable:
        raise unauthorized(f"{header} offers no SHA-256 or SHA-512 digest")
    for name in usable:
        if not hmac.compare_digest(_HASHES[name](body).digest(), offered[name]):
            raise unauthorized(f"body does not match its {header}")
