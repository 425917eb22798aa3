"""An edit that stops mentioning a member tells her open streams to drop the status, since she
may no longer read it; a member who still may (a follower of a followers-only post) is not told."""

from __future__ import annotations

from tests.api import api
from tests.test_streaming import follow, open_sse, say

QUIET = 0.5


async def next_about_statuses(stream, timeout: float = 5.0):
    """The next event that is not a notification (the user stream carries those too)."""
    while True:
        name, payload = await stream.next(timeout)
        if name != "notification":
            return name, payload


async def edit(client, who, status_id: str, text: str) -> None:
    await api(client, who, "PUT", f"/api/v1/statuses/{status_id}", json={"status": text})


async def test_a_member_edited_out_of_a_direct_post_is_told_to_drop_it(client, make_member):
    alice, bob, dave = [await make_member(n) for n in ("alice", "bob", "dave")]
    home = await open_sse(client, "/api/v1/streaming/user", dave.token)
    direct = await open_sse(client, "/api/v1/streaming/direct", dave.token)
    kept = await open_sse(client, "/api/v1/streaming/user", bob.token)
    try:
        dm = await say(client, alice, "@bob @dave plans for friday", visibility="direct")
        assert (await next_about_statuses(home))[1]["id"] == dm["id"]
        assert (await direct.next())[0] == "conversation"
        assert (await next_about_statuses(kept))[1]["id"] == dm["id"]

        await edit(client, alice, dm["id"], "@bob plans for friday, just us")
        assert await next_about_statuses(home) == ("delete", dm["id"])
        assert await direct.next() == ("delete", dm["id"])
        # bob is still mentioned: he hears of the edit, not of a deletion.
        name, payload = await next_about_statuses(kept)
        assert (name, payload["id"]) == ("status.update", dm["id"])
        await api(client, dave, "GET", f"/api/v1/statuses/{dm['id']}", expect=404)
    finally:
        home.close()
        direct.close()
        kept.close()


async def test_a_follower_edited_out_of_a_followers_only_post_keeps_it(client, make_member):
    alice, dave = await make_member("alice"), await make_member("dave")
    await follow(client, dave, alice)
    home = await open_sse(client, "/api/v1/streaming/user", dave.token)
    try:
        post = await say(client, alice, "@dave for followers", visibility="private")
        assert (await next_about_statuses(home))[1]["id"] == post["id"]
        await edit(client, alice, post["id"], "for followers")
        name, payload = await next_about_statuses(home)
        assert (name, payload["id"]) == ("status.update", post["id"])
        try:
            extra = await next_about_statuses(home, timeout=QUIET)
        except TimeoutError:
            extra = None
        assert extra is None, extra
    finally:
        home.close()
