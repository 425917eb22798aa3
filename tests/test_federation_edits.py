"""An edit made on one instance reaches the followers' copies on another, with its history."""

from __future__ import annotations

from tests.federation_harness import Network
from tests.schemas import assert_matches
from tests.test_federation_e2e import alice_follows_bob, bob_posts_to_alice, find_in_home


async def test_an_edit_updates_the_remote_copy(network: Network):
    _, _, alice, bob, _ = await alice_follows_bob(network)
    original, copy = await bob_posts_to_alice(network, alice, bob, "first words #draft")
    assert "first words" in copy["content"]
    assert copy["edited_at"] is None

    edited = await bob.call(
        "PUT", f"/api/v1/statuses/{original['id']}", json={"status": "better words #final"}
    )
    assert_matches("status", edited)
    await network.drain()

    updated = await find_in_home(alice, original["uri"])
    assert updated["id"] == copy["id"]
    assert "better words" in updated["content"]
    assert "first words" not in updated["content"]
    assert updated["edited_at"] is not None
    assert [tag["name"] for tag in updated["tags"]] == ["final"]

    history = await alice.get(f"/api/v1/statuses/{copy['id']}/history")
    for version in history:
        assert_matches("status_edit", version)
    assert ["first words" in v["content"] for v in history] == [True, False]
