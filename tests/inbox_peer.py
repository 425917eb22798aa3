"""A remote actor for inbox tests: served by a scripted peer, signing what it delivers.

The `kith` and `peer` fixtures (import `kith_fixture` and `peer_fixture`) give an instance
(`kith.test`) and a peer (`peer.test`) on one loopback network. `peer` serves
`http://peer.test/users/<name>` actor documents with test keys; `await peer.deliver(instance,
activity)` signs the activity as its actor and POSTs it to the instance's shared inbox,
returning the status and JSON body.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from federation import remote_accounts
from federation.keycache import KeyCache
from federation.keys import make_rsa_keypair
from federation.signatures import SigningKey, sign_request
from server.auth import hash_secret
from server.state import URLS
from server.usecases.accounts import create_local_account
from storage import follows as follow_store
from storage import oauth as oauth_store
from tests.federation_harness import Instance, Network
from tests.remote_server import RemoteServer

AS_CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@functools.cache
def fixture_keypair(n: int = 0) -> tuple[str, str]:
    """(private PEM, public PEM); generated once per test session for each `n`."""
    return make_rsa_keypair()


@dataclass
class Local:
    """A member of the instance under test, with a full-scope token for its API."""

    username: str
    account_id: int
    uri: str
    headers: dict[str, str]


async def make_local(instance: Instance, username: str) -> Local:
    user = await create_local_account(
        instance.pool,
        instance.app[URLS],
        username=username,
        email=f"{username}@example.org",
        password="correct horse battery",
    )
    token = uuid.uuid4().hex
    await oauth_store.create_token(
        instance.pool,
        token_hash=hash_secret(token),
        application_id=None,
        user_id=user["id"],
        scopes=["read", "write", "follow", "push"],
    )
    uri = instance.app[URLS].actor(username)
    return Local(username, user["account_id"], uri, {"Authorization": f"Bearer {token}"})


@dataclass
class Peer:
    server: RemoteServer
    keys: KeyCache = field(default_factory=KeyCache)
    actors: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    async def start(cls, network: Network, host: str = "peer.test") -> Peer:
        return cls(await RemoteServer(host).start(network.resolver))

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def actor(self, path: str = "/users/ana", *, key: int = 0, **changes: Any) -> str:
        """Serve an actor at `path` (idempotent); return its id."""
        uri = f"{self.base_url}{path}"
        if uri not in self.actors:
            doc = {
                "@context": AS_CONTEXT,
                "id": uri,
                "type": "Person",
                "preferredUsername": path.rstrip("/").rsplit("/", 1)[-1],
                "name": "Test actor",
                "inbox": f"{uri}/inbox",
                "outbox": f"{uri}/outbox",
                "followers": f"{uri}/followers",
                "following": f"{uri}/following",
                "endpoints": {"sharedInbox": f"{self.base_url}/inbox"},
                "publicKey": {
                    "id": f"{uri}#main-key",
                    "owner": uri,
                    "publicKeyPem": fixture_keypair(key)[1],
                },
            }
            doc.update(changes)
            self.actors[uri] = doc
            self.server.serve(urlsplit(uri).path, doc)
        return uri

    def actor_from(self, doc: dict[str, Any], *, key: int = 0) -> str:
        """Serve a given actor document (a fixture's) with test key `key` as its key."""
        uri = doc["id"]
        served = {
            "inbox": f"{uri}/inbox",
            "preferredUsername": re.sub(r"\W", "_", urlsplit(uri).path.rstrip("/").rsplit("/")[-1]),
            **doc,
            "publicKey": {
                "id": f"{uri}#main-key",
                "owner": uri,
                "publicKeyPem": fixture_keypair(key)[1],
            },
        }
        self.actors[uri] = served
        self.serve(served)
        return uri

    def serve(self, doc: dict[str, Any]) -> None:
        """Serve `doc` at the path of its id."""
        self.server.serve(urlsplit(doc["id"]).path, doc)

    def signing_key(self, actor_uri: str, key: int = 0) -> SigningKey:
        return self.keys.signing_key(f"{actor_uri}#main-key", fixture_keypair(key)[0])

    def activity(self, type_: str, object_: Any, *, actor: str | None = None, **extra: Any):
        actor = actor or self.actor()
        return {
            "@context": AS_CONTEXT,
            "id": f"{self.base_url}/activities/{uuid.uuid4()}",
            "type": type_,
            "actor": actor,
            "object": object_,
            **extra,
        }

    async def deliver(
        self,
        instance: Instance,
        activity: dict[str, Any] | bytes,
        *,
        path: str = "/inbox",
        signer: str | None = None,
        key: int = 0,
        headers: dict[str, str] | None = None,
        sign_body: bytes | None = None,
    ) -> tuple[int, Any]:
        """POST `activity`, signed by `signer` (default: its actor) with test key `key`.

        `sign_body` signs other bytes than those sent (a wrong digest); `headers` override
        the signed ones (a stale date, a forged signature).
        """
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        if signer is None:
            signer = json.loads(body)["actor"] if not isinstance(activity, bytes) else None
        url = f"{instance.base_url}{path}"
        sent = {"Content-Type": "application/activity+json"}
        if signer is not None:
            sent |= sign_request(
                "POST",
                url,
                body=sign_body if sign_body is not None else body,
                key=self.signing_key(signer, key),
            )
        sent |= headers or {}
        async with instance.federation.http.post(url, data=body, headers=sent) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None


async def process(kith: Instance, peer: Peer, activity: dict[str, Any], **kwargs: Any) -> str:
    """Deliver `activity` signed by the peer (`kwargs`: `Peer.deliver`'s options), run Kith's
    queue (errors propagate) and return the outcome the inbox recorded for it."""
    status, body = await peer.deliver(kith, activity, **kwargs)
    assert status == 202, body
    await kith.drain()
    outcome = await kith.pool.fetchval(
        "SELECT outcome FROM inbox_activities WHERE activity_uri = $1", activity["id"]
    )
    assert outcome is not None
    return outcome


async def follow_row(
    kith: Instance, follower_id: int, followed_id: int, *, uri: str | None = None
) -> None:
    """A follow written straight into Kith's database (no Follow activity, no notification)."""
    await follow_store.insert_follow(
        kith.pool,
        follower_id,
        followed_id,
        show_reblogs=True,
        notify=False,
        languages=None,
        uri=uri,
    )


async def remote_followed_by(kith: Instance, peer: Peer, member: Local) -> int:
    """The peer's actor, known to Kith and followed by `member`; returns its account id."""
    account = await remote_accounts.resolve_actor(kith.federation, peer.actor())
    await follow_row(kith, member.account_id, account["id"])
    return account["id"]


@pytest.fixture(name="kith")
async def kith_fixture(network: Network) -> Instance:
    return await network.start("kith.test")


@pytest.fixture(name="peer")
async def peer_fixture(network: Network, kith: Instance):
    started = await Peer.start(network)
    yield started
    await started.server.close()
