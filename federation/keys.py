"""RSA key pairs for actors, made and parsed with `cryptography`."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KeyPair = tuple[str, str]

_reused: Iterator[KeyPair] | None = None


def reuse_keypairs(pairs: Sequence[KeyPair] | None) -> None:
    """Hand out `pairs` in turn instead of making new key pairs (None: make new ones again).

    Only the test suite calls this: its hundreds of actors need working keys, not secret ones,
    and RSA key generation costs 50-500 ms each. Pairs are handed out round-robin, so actors made
    one after the other hold different keys.
    """
    global _reused
    _reused = itertools.cycle(pairs) if pairs else None


def generate_rsa_keypair() -> KeyPair:
    """A new RSA-2048 key pair as (private PEM in PKCS#8, public PEM in SubjectPublicKeyInfo)."""
    if _reused is not None:
        return next(_reused)
    return make_rsa_keypair()


def make_rsa_keypair() -> KeyPair:
    """Always a freshly generated key pair (`generate_rsa_keypair` may reuse one under test)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem
