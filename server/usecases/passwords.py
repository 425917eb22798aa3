"""Password hashing with argon2id."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults: RFC 9106's low-memory profile (3 passes over 64 MiB, 4 lanes).
PRODUCTION_HASHER = PasswordHasher()

MIN_LENGTH = 8
MAX_LENGTH = 1024

_hasher = PRODUCTION_HASHER


def use_hasher(hasher: PasswordHasher) -> None:
    """Hash new passwords with `hasher` from now on.

    Only the test suite calls this, with cheap parameters: it makes thousands of accounts, and at
    ~70 ms a hash the strong parameters alone cost minutes. Verifying reads the parameters from
    the stored hash, so hashes made either way keep verifying.
    """
    global _hasher
    _hasher = hasher


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
