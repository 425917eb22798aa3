"""The multi-instance harness itself: host names reach the right instance over loopback."""

from __future__ import annotations


async def test_instances_reach_each_other_by_host_name(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    async with alpha.federation.http.get("http://beta.test/api/v1/instance") as response:
        assert response.status == 200
        assert (await response.json())["uri"] == "beta.test"
    async with beta.federation.http.get("http://alpha.test/api/v1/instance") as response:
        assert (await response.json())["uri"] == "alpha.test"
    assert await network.drain() == 0


async def test_each_instance_has_its_own_instance_actor(network):
    alpha = await network.start("alpha.test")
    row = await alpha.pool.fetchrow("SELECT * FROM accounts WHERE actor_type = 'Application'")
    assert row["uri"] == "http://alpha.test/actor"
    assert row["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
