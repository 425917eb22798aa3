"""The key cache: keys parsed once, loads shared, failures remembered, refreshes rationed."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from federation.keycache import KeyCache
from federation.keys import make_rsa_keypair

KEY_ID = "https://remote.example/users/alice#main-key"
OWNER = "https://remote.example/users/alice"


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return make_rsa_keypair()


@pytest.fixture(scope="module")
def other_pair() -> tuple[str, str]:
    return make_rsa_keypair()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Answers with `pems[refresh]` (a PEM, None, or an exception) and records its calls."""

    def __init__(self, pem, refreshed=None) -> None:
        self.answers = {False: pem, True: pem if refreshed is None else refreshed}
        self.calls: list[tuple[str, bool]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, key_id: str, refresh: bool) -> tuple[str, str] | None:
        self.calls.append((key_id, refresh))
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers[refresh]
        if isinstance(answer, Exception):
            raise answer
        return None if answer is None else (OWNER, answer)


def test_signing_key_is_parsed_once_per_pem(pair, other_pair):
    keys = KeyCache()
    first = keys.signing_key(KEY_ID, pair[0])
    assert keys.signing_key(KEY_ID, pair[0]) is first
    assert keys.signing_key(KEY_ID, pair[0]) is first
    assert keys.parses == 1
    assert first.key_id == KEY_ID
    rotated = keys.signing_key(KEY_ID, other_pair[0])
    assert rotated is not first and keys.parses == 2


def test_signing_key_must_be_rsa():
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError):
        KeyCache().signing_key(KEY_ID, pem)


async def test_public_key_is_loaded_and_parsed_once(pair):
    keys, loader = KeyCache(), Loader(pair[1])
    owner, first = await keys.public_key(KEY_ID, loader)
    for _ in range(5):
        assert await keys.public_key(KEY_ID, loader) == (owner, first)
    assert owner == OWNER
    assert loader.calls == [(KEY_ID, False)]
    assert keys.loads == 1 and keys.parses == 1


async def test_pkcs1_public_keys_are_accepted(pair):
    public = serialization.load_pem_public_key(pair[1].encode())
    pkcs1 = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    assert await KeyCache().public_key(KEY_ID, Loader(pkcs1.decode())) is not None


async def test_missing_key_is_remembered_for_ten_minutes(pair):
    clock = Clock()
    keys, loader = KeyCache(clock=clock), Loader(None)
    assert await keys.public_key(KEY_ID, loader) is None
    clock.now += 599
    assert await keys.public_key(KEY_ID, loader) is None
    assert await keys.public_key(KEY_ID, loader, refresh=True) is None
    assert loader.calls == [(KEY_ID, False)]
    clock.now += 2
    loader.answers[False] = pair[1]
    assert await keys.public_key(KEY_ID, loader) is not None
    assert loader.calls == [(KEY_ID, False), (KEY_ID, False)]


@pytest.mark.parametrize("pem", ["not a key", "ed25519"])
async def test_unusable_key_counts_as_missing(pem):
    if pem == "ed25519":
        pem = (
            ed25519.Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
    keys, loader = KeyCache(), Loader(pem)
    assert await keys.public_key(KEY_ID, loader) is None
    assert await keys.public_key(KEY_ID, loader) is None
    assert len(loader.calls) == 1


async def test_concurrent_misses_share_one_load(pair):
    keys, loader = KeyCache(), Loader(pair[1])
    loader.gate = asyncio.Event()
    waiting = [asyncio.create_task(keys.public_key(KEY_ID, loader)) for _ in range(50)]
    await asyncio.sleep(0)
    loader.gate.set()
    results = await asyncio.gather(*waiting)
    assert len({id(result[1]) for result in results}) == 1
    assert loader.calls == [(KEY_ID, False)]
    assert keys.parses == 1


async def test_a_cancelled_waiter_does_not_cancel_the_shared_load(pair):
    keys, loader = KeyCache(), Loader(pair[1])
    loader.gate = asyncio.Event()
    impatient = asyncio.create_task(keys.public_key(KEY_ID, loader))
    patient = asyncio.create_task(keys.public_key(KEY_ID, loader))
    await asyncio.sleep(0)
    impatient.cancel()
    loader.gate.set()
    assert (await patient)[0] == OWNER
    assert impatient.cancelled()
    assert len(loader.calls) == 1


async def test_failed_load_is_not_cached(pair):
    keys, loader = KeyCache(), Loader(OSError("database down"))
    with pytest.raises(OSError):
        await keys.public_key(KEY_ID, loader)
    loader.answers[False] = pair[1]
    assert await keys.public_key(KEY_ID, loader) is not None
    assert len(loader.calls) == 2


async def test_refresh_replaces_a_rotated_key(pair, other_pair):
    keys, loader = KeyCache(), Loader(pair[1], refreshed=other_pair[1])
    _, old = await keys.public_key(KEY_ID, loader)
    _, new = await keys.public_key(KEY_ID, loader, refresh=True)
    assert new is not old
    assert await keys.public_key(KEY_ID, loader) == (OWNER, new)
    assert loader.calls == [(KEY_ID, False), (KEY_ID, True)]


async def test_refresh_to_the_same_key_keeps_the_parsed_one(pair):
    keys, loader = KeyCache(), Loader(pair[1])
    _, old = await keys.public_key(KEY_ID, loader)
    _, again = await keys.public_key(KEY_ID, loader, refresh=True)
    assert again is old and keys.parses == 1


async def test_refreshes_are_rationed_per_key(pair, other_pair):
    clock = Clock()
    keys, loader = KeyCache(clock=clock), Loader(pair[1])
    await keys.public_key(KEY_ID, loader)
    await keys.public_key(KEY_ID, loader, refresh=True)
    clock.now += 59
    await keys.public_key(KEY_ID, loader, refresh=True)
    assert loader.calls == [(KEY_ID, False), (KEY_ID, True)]
    clock.now += 2
    loader.answers[True] = other_pair[1]
    await keys.public_key(KEY_ID, loader, refresh=True)
    assert loader.calls[-1] == (KEY_ID, True) and len(loader.calls) == 3


async def test_failed_refresh_keeps_the_known_key(pair):
    keys, loader = KeyCache(), Loader(pair[1], refreshed=None)
    loader.answers[True] = None
    known = await keys.public_key(KEY_ID, loader)
    assert await keys.public_key(KEY_ID, loader, refresh=True) is None
    assert await keys.public_key(KEY_ID, loader) == known
    assert len(loader.calls) == 2


async def test_least_recently_used_keys_are_evicted(pair):
    keys, loader = KeyCache(max_entries=2), Loader(pair[1])
    for key_id in ("a", "b", "a", "c"):
        await keys.public_key(key_id, loader)
    assert [call[0] for call in loader.calls] == ["a", "b", "c"]
    await keys.public_key("a", loader)
    await keys.public_key("b", loader)
    assert [call[0] for call in loader.calls] == ["a", "b", "c", "b"]


async def test_forget_drops_both_keys(pair):
    keys, loader = KeyCache(), Loader(pair[1])
    keys.signing_key(KEY_ID, pair[0])
    await keys.public_key(KEY_ID, loader)
    keys.forget(KEY_ID)
    await keys.public_key(KEY_ID, loader)
    keys.signing_key(KEY_ID, pair[0])
    assert len(loader.calls) == 2 and keys.parses == 4
