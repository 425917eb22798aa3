"""The test suite hashes passwords cheaply and reuses RSA keys; production must not."""

from __future__ import annotations

import subprocess
import sys

from argon2 import extract_parameters

from federation import keys
from server.usecases import passwords

# OWASP's floor for argon2id: 19 MiB of memory with 2 passes (or more memory with fewer).
MIN_MEMORY_KIB = 19 * 1024
MIN_TIME_COST = 2


def test_production_hashes_with_strong_parameters():
    params = extract_parameters(passwords.PRODUCTION_HASHER.hash("correct horse battery"))
    assert params.type.name == "ID"
    assert params.memory_cost >= MIN_MEMORY_KIB
    assert params.time_cost >= MIN_TIME_COST


def test_a_fresh_process_uses_the_production_hasher_and_new_keys():
    """Nothing outside the test suite switches to the cheap settings: a new interpreter hashes
    with production's parameters and makes a new key pair each time."""
    script = (
        "from argon2 import extract_parameters\n"
        "from federation.keys import generate_rsa_keypair\n"
        "from server.usecases.passwords import hash_password\n"
        "p = extract_parameters(hash_password('correct horse battery'))\n"
        "print(p.memory_cost, p.time_cost, generate_rsa_keypair() != generate_rsa_keypair())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout.split()
    assert int(out[0]) >= MIN_MEMORY_KIB
    assert int(out[1]) >= MIN_TIME_COST
    assert out[2] == "True"


def test_hashes_made_with_other_parameters_still_verify():
    strong = passwords.PRODUCTION_HASHER.hash("correct horse battery")
    assert passwords.verify_password(strong, "correct horse battery")
    assert not passwords.verify_password(strong, "wrong horse battery")


def test_reused_keys_are_handed_out_in_turn():
    first, second = keys.generate_rsa_keypair(), keys.generate_rsa_keypair()
    assert first != second
    assert first[0].startswith("-----BEGIN PRIVATE KEY-----")
