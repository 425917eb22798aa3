"""Federation end to end: Kith instances on loopback (`alpha.test`, `beta.test`, `gamma.test`),
each driven through its Mastodon API, with every effect checked through the other instance's API.

Queues run inline: `await network.drain()` runs every instance's jobs until none are left, and
handler errors propagate, so a failing delivery or inbox handler fails the test with its traceback.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from federation.delivery.send import DeliveryFailed
from server.app import create_app
from server.state import CONFIG, URLS
from storage import jobs as job_store
from tests.federation_harness import Instance, Network
from tests.members import create_member
from tests.schemas import assert_matches

SCOPES = ["read", "write", "follow", "push"]


# -- members and their API ------------------------------------------------------------------------


class UnexpectedStatus(AssertionError):
    """An API call answered with another status than the one the test expected."""


@dataclass
class User:
    """A local member of one instance, calling that instance's Mastodon API with a token.

    `http` is anything with aiohttp's `request(method, path, ...)`: an instance's `TestClient`,
    or a `ClientSession` with a `base_url`.
    """

    http: Any
    host: str
    username: str
    account_id: int
    token: str

    @property
    def acct(self) -> str:
        """How other instances name this member: `user@host`."""
        return f"{self.username}@{self.host}"

    async def call(self, method: str, path: str, *, expect: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, path, headers=headers, **kwargs) as response:
            text = await response.text()
            if response.status != expect:
                raise UnexpectedStatus(
                    f"{self.acct}: {method} {path} answered {response.status}, not {expect}: "
                    f"{text[:500]}"
                )
            return await response.json() if text else None

    async def get(self, path: str, *, expect: int = 200, **params: Any) -> Any:
        return await self.call("GET", path, expect=expect, params=params)

    async def post(self, path: str, *, expect: int = 200, **body: Any) -> Any:
        return await self.call("POST", path, expect=expect, json=body)

    async def delete(self, path: str, *, expect: int = 200) -> Any:
        return await self.call("DELETE", path, expect=expect)


async def create_user(app: Any, http: Any, username: str) -> User:
    """A member of the instance served by `app`, with a full-scope token (like conftest's
    `make_member`)."""
    user, token = await create_member(app, username, scopes=SCOPES)
    return User(http, app[URLS].domain, username, user["account_id"], token)


async def member(instance: Instance, username: str) -> User:
    return await create_user(instance.app, instance.client, username)


# -- what a member sees ---------------------------------------------------------------------------


async def lookup(user: User, acct: str) -> dict[str, Any]:
    """The account `acct` as `user`'s instance knows it (resolving it if needed)."""
    account = await user.get("/api/v1/accounts/lookup", acct=acct)
    assert_matches("account", account)
    return account


async def account(user: User, account_id: int | str) -> dict[str, Any]:
    data = await user.get(f"/api/v1/accounts/{account_id}")
    assert_matches("account", data)
    return data


async def relationship(user: User, account_id: int | str) -> dict[str, Any]:
    data = await user.get("/api/v1/accounts/relationships", **{"id[]": str(account_id)})
    assert len(data) == 1, data
    assert_matches("relationship", data[0])
    return data[0]


async def post(user: User, text: str, **options: Any) -> dict[str, Any]:
    status = await user.post("/api/v1/statuses", status=text, **options)
    assert_matches("status", status)
    return status


async def home(user: User) -> list[dict[str, Any]]:
    statuses = await user.get("/api/v1/timelines/home", limit=40)
    for status in statuses:
        assert_matches("status", status)
    return statuses


async def notifications(user: User) -> list[dict[str, Any]]:
    items = await user.get("/api/v1/notifications")
    for item in items:
        assert_matches("notification", item)
    return items


async def followers(user: User, account_id: int | str) -> list[str]:
    """The accts of an account's followers, as `user`'s instance lists them."""
    accounts = await user.get(f"/api/v1/accounts/{account_id}/followers")
    for item in accounts:
        assert_matches("account", item)
    return [item["acct"] for item in accounts]


async def find_in_home(user: User, uri: str) -> dict[str, Any]:
    """The status with ActivityPub id `uri` in `user`'s home timeline; fails when absent."""
    statuses = await home(user)
    matches = [status for status in statuses if status["uri"] == uri]
    assert matches, f"{uri} is not in {user.acct}'s home timeline: {[s['uri'] for s in statuses]}"
    assert len(matches) == 1, f"{uri} is {len(matches)} times in {user.acct}'s home timeline"
    return matches[0]


def text_of(status: dict[str, Any]) -> str:
    return status["content"]


# -- scenario steps -------------------------------------------------------------------------------


async def follow_remote(network: Network, follower: User, target: User) -> dict[str, Any]:
    """`follower` looks `target` up on its own instance and follows it; the queues drain.

    Returns the target's account on the follower's instance.
    """
    remote = await lookup(follower, target.acct)
    assert remote["acct"] == target.acct
    await follower.post(f"/api/v1/accounts/{remote['id']}/follow")
    await network.drain()
    return remote


async def two_instances(network: Network) -> tuple[Instance, Instance, User, User]:
    """alpha.test with alice and beta.test with bob."""
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    return alpha, beta, await member(alpha, "alice"), await member(beta, "bob")


async def alice_follows_bob(network: Network) -> tuple[Instance, Instance, User, User, str]:
    """Two instances where alice@alpha follows bob@beta; also returns bob's id on alpha."""
    alpha, beta, alice, bob = await two_instances(network)
    remote_bob = await follow_remote(network, alice, bob)
    assert (await relationship(alice, remote_bob["id"]))["following"] is True
    return alpha, beta, alice, bob, remote_bob["id"]


async def bob_posts_to_alice(network: Network, alice: User, bob: User, text: str):
    """bob posts publicly; returns bob's status (on beta) and alice's copy (on alpha)."""
    original = await post(bob, text)
    await network.drain()
    copy = await find_in_home(alice, original["uri"])
    return original, copy


# -- discovery and following ----------------------------------------------------------------------


async def test_remote_account_lookup(network):
    _, _, alice, bob = await two_instances(network)
    await bob.call(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        json={"display_name": "Bob of Beta", "note": "I live on beta"},
    )
    remote = await lookup(alice, bob.acct)
    assert remote["acct"] == "bob@beta.test"
    assert remote["username"] == "bob"
    assert remote["display_name"] == "Bob of Beta"
    assert "I live on beta" in remote["note"]
    assert remote["url"] == "http://beta.test/@bob"
    assert remote["locked"] is False
    # The same account on a second look, not a copy.
    assert (await lookup(alice, "@bob@beta.test"))["id"] == remote["id"]
    assert (await account(alice, remote["id"]))["acct"] == "bob@beta.test"


async def test_follow_a_remote_account(network):
    _, _, alice, bob, remote_bob = await alice_follows_bob(network)
    rel = await relationship(alice, remote_bob)
    assert (rel["following"], rel["requested"]) == (True, False)
    # beta knows alice as bob's follower, and told bob.
    assert await followers(bob, bob.account_id) == ["alice@alpha.test"]
    assert (await account(bob, bob.account_id))["followers_count"] == 1
    follows = [n for n in await notifications(bob) if n["type"] == "follow"]
    assert [n["account"]["acct"] for n in follows] == ["alice@alpha.test"]


async def test_follow_a_locked_remote_account(network):
    _, _, alice, bob = await two_instances(network)
    await bob.call("PATCH", "/api/v1/accounts/update_credentials", json={"locked": True})
    remote_bob = await lookup(alice, bob.acct)
    assert remote_bob["locked"] is True
    await alice.post(f"/api/v1/accounts/{remote_bob['id']}/follow")
    await network.drain()
    rel = await relationship(alice, remote_bob["id"])
    assert (rel["following"], rel["requested"]) == (False, True)

    # bob sees the request on beta and authorizes it there.
    requests = await bob.get("/api/v1/follow_requests")
    assert [r["acct"] for r in requests] == ["alice@alpha.test"]
    await bob.post(f"/api/v1/follow_requests/{requests[0]['id']}/authorize")
    await network.drain()

    rel = await relationship(alice, remote_bob["id"])
    assert (rel["following"], rel["requested"]) == (True, False)
    assert await followers(bob, bob.account_id) == ["alice@alpha.test"]


async def test_unfollow_drops_the_remote_follower(network):
    _, _, alice, bob, remote_bob = await alice_follows_bob(network)
    assert (await account(bob, bob.account_id))["followers_count"] == 1
    await alice.post(f"/api/v1/accounts/{remote_bob}/unfollow")
    await network.drain()
    assert (await account(bob, bob.account_id))["followers_count"] == 0
    assert await followers(bob, bob.account_id) == []
    assert (await relationship(alice, remote_bob))["following"] is False


# -- statuses -------------------------------------------------------------------------------------


async def test_a_post_reaches_a_remote_followers_home(network):
    _, _, alice, bob, _ = await alice_follows_bob(network)
    original, copy = await bob_posts_to_alice(network, alice, bob, "Hello from #beta!")
    assert copy["account"]["acct"] == "bob@beta.test"
    assert "Hello from" in text_of(copy)
    assert copy["url"] == original["url"]
    assert copy["visibility"] == "public"
    assert [tag["name"] for tag in copy["tags"]] == ["beta"]


async def test_a_remote_reply_is_threaded_on_the_origin(network):
    _, _, alice, bob, _ = await alice_follows_bob(network)
    original, copy = await bob_posts_to_alice(network, alice, bob, "What do you think?")
    reply = await post(alice, "@bob@beta.test I like it", in_reply_to_id=copy["id"])
    assert reply["in_reply_to_id"] == copy["id"]
    await network.drain()

    context = await bob.get(f"/api/v1/statuses/{original['id']}/context")
    assert_matches("context", context)
    descendants = context["descendants"]
    assert [s["uri"] for s in descendants] == [reply["uri"]]
    assert descendants[0]["account"]["acct"] == "alice@alpha.test"
    assert descendants[0]["in_reply_to_id"] == original["id"]
    assert "I like it" in text_of(descendants[0])
    # bob was mentioned, so beta told him.
    mentions = [n for n in await notifications(bob) if n["type"] == "mention"]
    assert [n["status"]["uri"] for n in mentions] == [reply["uri"]]


async def test_boost_and_favourite_notify_the_remote_author(network):
    _, _, alice, bob, _ = await alice_follows_bob(network)
    original, copy = await bob_posts_to_alice(network, alice, bob, "Boost me")
    await alice.post(f"/api/v1/statuses/{copy['id']}/favourite")
    await alice.post(f"/api/v1/statuses/{copy['id']}/reblog")
    await network.drain()

    received = {
        n["type"]: n for n in await notifications(bob) if n["type"] in ("favourite", "reblog")
    }
    assert set(received) == {"favourite", "reblog"}
    for item in received.values():
        assert item["account"]["acct"] == "alice@alpha.test"
        assert item["status"]["id"] == original["id"]
    status = await bob.get(f"/api/v1/statuses/{original['id']}")
    assert (status["favourites_count"], status["reblogs_count"]) == (1, 1)


async def test_a_deleted_post_is_gone_on_the_remote(network):
    _, _, alice, bob, _ = await alice_follows_bob(network)
    original, copy = await bob_posts_to_alice(network, alice, bob, "Soon gone")
    await bob.delete(f"/api/v1/statuses/{original['id']}")
    await network.drain()
    await alice.get(f"/api/v1/statuses/{copy['id']}", expect=404)
    assert original["uri"] not in [s["uri"] for s in await home(alice)]


# -- blocks ---------------------------------------------------------------------------------------


def has_route(instance: Instance, method: str, path: str) -> bool:
    return any(
        route.method == method and route.resource.canonical == path
        for route in instance.app.router.routes()
        if route.resource is not None
    )


async def test_a_block_removes_the_remote_follow(network):
    alpha, _, alice, bob = await two_instances(network)
    if not has_route(alpha, "POST", "/api/v1/accounts/{id}/block"):
        pytest.skip("the client API has no POST /api/v1/accounts/:id/block yet")
    remote_alice = await follow_remote(network, bob, alice)
    assert await followers(alice, alice.account_id) == ["bob@beta.test"]
    remote_bob = await lookup(alice, bob.acct)
    await alice.post(f"/api/v1/accounts/{remote_bob['id']}/block")
    await network.drain()
    # beta dropped bob's follow of alice, and alpha no longer counts bob as a follower.
    assert (await relationship(bob, remote_alice["id"]))["following"] is False
    assert (await account(bob, bob.account_id))["following_count"] == 0
    assert await followers(alice, alice.account_id) == []


# -- failures: a peer that is down, a worker that dies --------------------------------------------


async def stop_instance(network: Network, host: str) -> Instance:
    """Take `host` off the network: its server closes, its port refuses connections."""
    instance = network.instances.pop(host)
    await instance.client.close()
    return instance


async def restart_instance(network: Network, stopped: Instance) -> Instance:
    """Serve a stopped instance again, same configuration, database and port."""
    port = network.resolver.ports[stopped.host]
    app = create_app(stopped.app[CONFIG], stopped.dsn, resolver=network.resolver)
    client = TestClient(TestServer(app, port=port))
    await client.start_server()
    instance = Instance(stopped.host, client, stopped.dsn)
    network.instances[stopped.host] = instance
    return instance


async def pending_jobs(instance: Instance) -> list[dict[str, Any]]:
    rows = await instance.pool.fetch(
        "SELECT id, queue, attempts, run_at > now() AS later, last_error FROM jobs"
        " WHERE failed_at IS NULL ORDER BY id"
    )
    return [dict(row) for row in rows]


async def deliveries_of(instance: Instance, object_uri: str, host: str) -> list[dict[str, Any]]:
    """`instance`'s deliveries to `host` of the activities that carry `object_uri`."""
    rows = await instance.pool.fetch(
        """
        SELECT d.state, d.tries, d.last_error FROM deliveries d
        JOIN outgoing_activities o ON o.id = d.activity_id
        WHERE d.host = $2 AND position($1 IN convert_from(o.body, 'UTF8')) > 0
        ORDER BY d.id
        """,
        object_uri,
        host,
    )
    return [dict(row) for row in rows]


async def test_delivery_to_a_peer_that_is_down_is_retried(network):
    alpha = await network.start("alpha.test")
    gamma = await network.start("gamma.test")
    alice, carol = await member(alpha, "alice"), await member(gamma, "carol")
    await follow_remote(network, carol, alice)
    assert await followers(alice, alice.account_id) == ["carol@gamma.test"]

    stopped = await stop_instance(network, "gamma.test")
    status = await post(alice, "Are you there, gamma?")
    # The delivery fails; the handler says so by raising (drain re-raises after booking the
    # retry) or by asking to be run again later.
    with contextlib.suppress(DeliveryFailed):
        await alpha.drain()
    pending = await pending_jobs(alpha)
    assert pending, "alpha dropped the delivery to gamma instead of retrying it"
    assert all(job["attempts"] >= 1 and job["later"] for job in pending), pending
    deliveries = await deliveries_of(alpha, status["uri"], "gamma.test")
    assert [row["state"] for row in deliveries] == ["pending"], deliveries
    assert deliveries[0]["tries"] == 1 and deliveries[0]["last_error"], deliveries

    gamma = await restart_instance(network, stopped)
    carol.http = gamma.client
    await alpha.pool.execute("UPDATE jobs SET run_at = now() WHERE failed_at IS NULL")
    await network.drain()
    copy = await find_in_home(carol, status["uri"])
    assert "Are you there" in text_of(copy)
    assert await pending_jobs(alpha) == []
    deliveries = await deliveries_of(alpha, status["uri"], "gamma.test")
    assert [(row["state"], row["tries"]) for row in deliveries] == [("delivered", 2)]


async def received_creates(instance: Instance, actor_uri: str) -> list[str]:
    """The ids of the Create activities from `actor_uri` that `instance`'s inbox accepted."""
    rows = await instance.pool.fetch(
        "SELECT activity_uri FROM inbox_activities WHERE type = 'Create' AND actor_uri = $1",
        actor_uri,
    )
    return [row["activity_uri"] for row in rows]


async def test_a_worker_killed_mid_job_loses_nothing(network):
    alpha, beta, alice, bob = await two_instances(network)
    await follow_remote(network, bob, alice)
    status = await post(alice, "Delivered exactly once")

    # A worker claims alpha's jobs with a short lease and dies without finishing any.
    claimed = await job_store.claim(alpha.pool, "crashed-worker", limit=100, lease_seconds=30)
    assert claimed, "posting queued no job on alpha"
    assert await alpha.drain() == 0  # leased: no other worker may run them yet
    assert await received_creates(beta, "http://alpha.test/users/alice") == []
    await alpha.pool.execute(
        "UPDATE jobs SET locked_until = now() - interval '1 second' WHERE locked_by = $1",
        "crashed-worker",
    )
    await network.drain()

    creates = await received_creates(beta, "http://alpha.test/users/alice")
    assert len(creates) == 1, creates
    # One delivery to beta, tried once: the crashed claim sent nothing.
    deliveries = await deliveries_of(alpha, status["uri"], "beta.test")
    assert [(row["state"], row["tries"]) for row in deliveries] == [("delivered", 1)]
    copy = await find_in_home(bob, status["uri"])  # fails when it is there twice
    assert "exactly once" in text_of(copy)
    assert await pending_jobs(alpha) == []
