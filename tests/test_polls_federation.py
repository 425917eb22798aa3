"""Polls across servers: two Kith instances (a poll on alpha, a vote from beta, the counts on
both sides after the Update, the end-of-poll notifications on both), remote votes delivered by
a scripted peer (counted once, refused when they may not count, never stored as replies), and
the Questions of Mastodon, Pleroma and Misskey (tests/fixtures/polls/) shown as polls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from storage import polls as poll_store
from tests.api import api
from tests.federation_harness import Instance, Network
from tests.inbox_peer import (  # noqa: F401 - fixtures
    PUBLIC,
    Local,
    Peer,
    kith_fixture,
    make_local,
    peer_fixture,
    process,
    remote_followed_by,
)
from tests.test_federation_e2e import User, follow_remote, member, notifications

FIXTURES = Path(__file__).parent / "fixtures" / "polls"
POLL = {"options": ["tea", "coffee"], "expires_in": 3600}


async def run_due(instance: Instance, queue: str) -> None:
    """Make `queue`'s delayed jobs due now (a debounced Update, a poll's end)."""
    await instance.pool.execute("UPDATE jobs SET run_at = now() WHERE queue = $1", queue)


async def end_all_polls(network: Network) -> None:
    for instance in network.instances.values():
        await instance.pool.execute("UPDATE polls SET expires_at = now() - interval '1 second'")
        await run_due(instance, "poll_end")
    await network.drain()


async def copy_of(user: User, uri: str) -> dict[str, Any]:
    """The status `uri` as `user`'s instance shows it (found through search)."""
    found = await user.get("/api/v2/search", q=uri, resolve="true", type="statuses")
    assert len(found["statuses"]) == 1, found
    return found["statuses"][0]


async def test_a_poll_voted_on_from_another_instance(network: Network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    alice, carol = await member(alpha, "alice"), await member(alpha, "carol")
    bob = await member(beta, "bob")
    await follow_remote(network, bob, alice)

    status = await alice.post("/api/v1/statuses", status="Tea or coffee?", poll=POLL)
    await network.drain()
    copy = await copy_of(bob, status["uri"])
    assert [o["title"] for o in copy["poll"]["options"]] == ["tea", "coffee"]
    assert copy["poll"]["expires_at"] == status["poll"]["expires_at"]

    voted = await bob.post(f"/api/v1/polls/{copy['poll']['id']}/votes", choices=[1])
    assert voted["own_votes"] == [1]
    await carol.post(f"/api/v1/polls/{status['poll']['id']}/votes", choices=[0])
    await network.drain()
    on_alpha = await alice.get(f"/api/v1/polls/{status['poll']['id']}")
    assert [o["votes_count"] for o in on_alpha["options"]] == [1, 1]
    assert on_alpha["voters_count"] == 2
    # beta counted bob's own vote at once; carol's arrives with alpha's debounced Update.
    on_beta = await bob.get(f"/api/v1/polls/{copy['poll']['id']}")
    assert [o["votes_count"] for o in on_beta["options"]] == [0, 1]
    await run_due(alpha, "poll_update")
    await network.drain()
    on_beta = await bob.get(f"/api/v1/polls/{copy['poll']['id']}")
    assert [o["votes_count"] for o in on_beta["options"]] == [1, 1]
    assert on_beta["own_votes"] == [1]
    assert (await bob.get(f"/api/v1/statuses/{copy['id']}"))["edited_at"] is None

    await end_all_polls(network)
    for who in (alice, carol, bob):
        polls = [n for n in await notifications(who) if n["type"] == "poll"]
        assert len(polls) == 1, who.acct
        assert polls[0]["status"]["uri"] == status["uri"]
        assert polls[0]["status"]["poll"]["expired"] is True
    ended = await bob.get(f"/api/v1/polls/{copy['poll']['id']}")
    assert (ended["expired"], [o["votes_count"] for o in ended["options"]]) == (True, [1, 1])


# -- votes from a scripted peer ---------------------------------------------------------------


def vote_of(
    peer: Peer, question: dict[str, Any], name: str, *, n: int = 1, voter: str = "/users/ana"
):
    """A Create of a vote as Mastodon sends it; `n` tells one vote from another, and a
    redelivery of the same vote keeps it with a new activity id."""
    actor = peer.actor(voter)
    author = question["account"]["url"]
    vote = {
        "id": f"{actor}#votes/{n}",
        "type": "Note",
        "name": name,
        "attributedTo": actor,
        "inReplyTo": question["uri"],
        "to": [author],
    }
    return peer.activity("Create", vote, actor=actor, to=[author])


async def local_poll(kith: Instance, alice: Local, **options: Any) -> dict[str, Any]:
    body = {"status": "Which?", "poll": {**POLL, **options.pop("poll", {})}, **options}
    return await api(kith.client, alice, "POST", "/api/v1/statuses", json=body)


async def counts(kith: Instance, alice: Local, status: dict[str, Any]) -> list[int]:
    poll = await api(kith.client, alice, "GET", f"/api/v1/polls/{status['poll']['id']}")
    return [option["votes_count"] for option in poll["options"]]


async def test_a_remote_vote_counts_once_and_is_not_a_reply(kith: Instance, peer: Peer):
    alice = await make_local(kith, "alice")
    status = await local_poll(kith, alice)
    assert await process(kith, peer, vote_of(peer, status, "coffee")) == "ok"
    assert await counts(kith, alice, status) == [0, 1]
    # The same vote again, in a new activity: counted once.
    outcome = await process(kith, peer, vote_of(peer, status, "coffee"))
    assert outcome.startswith("ignored")
    # Another option of a single-choice poll: refused.
    outcome = await process(kith, peer, vote_of(peer, status, "tea", n=2))
    assert outcome.startswith("refused") and "already voted" in outcome
    assert await counts(kith, alice, status) == [0, 1]
    assert await kith.pool.fetchval("SELECT count(*) FROM statuses") == 1
    assert (await api(kith.client, alice, "GET", f"/api/v1/statuses/{status['id']}"))[
        "replies_count"
    ] == 0
    # A second voter counts.
    assert await process(kith, peer, vote_of(peer, status, "tea", voter="/users/bea")) == "ok"
    poll = await api(kith.client, alice, "GET", f"/api/v1/polls/{status['poll']['id']}")
    assert ([o["votes_count"] for o in poll["options"]], poll["voters_count"]) == ([1, 1], 2)


async def test_remote_votes_in_a_multiple_choice_poll_count_per_choice(kith, peer):
    alice = await make_local(kith, "alice")
    status = await local_poll(kith, alice, poll={"options": ["a", "b", "c"], "multiple": True})
    assert await process(kith, peer, vote_of(peer, status, "a", n=1)) == "ok"
    assert await process(kith, peer, vote_of(peer, status, "c", n=2)) == "ok"
    poll = await api(kith.client, alice, "GET", f"/api/v1/polls/{status['poll']['id']}")
    assert ([o["votes_count"] for o in poll["options"]], poll["voters_count"]) == ([1, 0, 1], 1)


async def test_remote_votes_that_may_not_count_are_refused(kith, peer):
    alice = await make_local(kith, "alice")
    ended = await local_poll(kith, alice)
    await kith.pool.execute("UPDATE polls SET expires_at = now() - interval '1 second'")
    outcome = await process(kith, peer, vote_of(peer, ended, "tea"))
    assert outcome.startswith("refused") and "already ended" in outcome

    hidden = await local_poll(kith, alice, visibility="private")
    outcome = await process(kith, peer, vote_of(peer, hidden, "tea", n=2))
    assert outcome.startswith("refused") and "not readable" in outcome
    assert await kith.pool.fetchval("SELECT count(*) FROM poll_votes") == 0


async def test_a_reply_naming_no_option_is_a_reply(kith, peer):
    """A Create with a name that is no option (or with content) is not a vote."""
    alice = await make_local(kith, "alice")
    status = await local_poll(kith, alice)
    reply = vote_of(peer, status, "milk")
    reply["object"]["content"] = "<p>milk, obviously</p>"
    reply["object"]["to"] = [PUBLIC]
    reply["to"] = [PUBLIC]
    assert await process(kith, peer, reply) == "ok"
    assert await kith.pool.fetchval("SELECT count(*) FROM poll_votes") == 0
    assert await kith.pool.fetchval("SELECT count(*) FROM statuses") == 2


# -- remote Questions -------------------------------------------------------------------------


def fixture(peer: Peer, name: str) -> dict[str, Any]:
    text = (FIXTURES / f"{name}.json").read_text().replace("https://origin.example", peer.base_url)
    return json.loads(text)


async def remote_status(kith: Instance, alice: Local, uri: str) -> dict[str, Any]:
    status_id = await kith.pool.fetchval("SELECT id FROM statuses WHERE uri = $1", uri)
    assert status_id is not None, uri
    return await api(kith.client, alice, "GET", f"/api/v1/statuses/{status_id}")


@pytest.mark.parametrize(
    ("name", "titles", "votes", "multiple", "voters"),
    [
        ("mastodon", ["tabs", "spaces"], [2, 1], False, 3),
        ("pleroma", ["apple", "pear", "plum"], [3, 0, 2], True, 4),
        ("misskey", ["cats", "dogs"], [5, 4], False, 9),
    ],
)
async def test_remote_questions_are_polls(kith, peer, name, titles, votes, multiple, voters):
    alice = await make_local(kith, "alice")
    await remote_followed_by(kith, peer, alice)
    create = fixture(peer, name)
    assert await process(kith, peer, create) == "ok"
    status = await remote_status(kith, alice, create["object"]["id"])
    poll = status["poll"]
    assert [o["title"] for o in poll["options"]] == titles
    assert [o["votes_count"] for o in poll["options"]] == votes
    assert (poll["multiple"], poll["voters_count"], poll["expired"]) == (multiple, voters, False)
    assert poll["expires_at"].startswith("2099-12-01")
    assert (poll["voted"], poll["own_votes"]) == (False, [])


async def test_a_remote_update_refreshes_the_counts_without_an_edit(kith, peer):
    alice = await make_local(kith, "alice")
    await remote_followed_by(kith, peer, alice)
    create = fixture(peer, "mastodon")
    assert await process(kith, peer, create) == "ok"
    question = create["object"]
    question["oneOf"][1]["replies"]["totalItems"] = 7
    question["votersCount"] = 9
    assert await process(kith, peer, peer.activity("Update", question)) == "ok"
    status = await remote_status(kith, alice, question["id"])
    assert [o["votes_count"] for o in status["poll"]["options"]] == [2, 7]
    assert (status["poll"]["voters_count"], status["edited_at"]) == (9, None)


async def test_another_actor_of_the_same_server_cannot_rewrite_a_poll(kith, peer):
    alice = await make_local(kith, "alice")
    await remote_followed_by(kith, peer, alice)
    create = fixture(peer, "mastodon")
    assert await process(kith, peer, create) == "ok"
    mallory = peer.actor("/users/mallory")
    forged = {**create["object"], "attributedTo": mallory}
    forged["oneOf"] = [{"type": "Note", "name": "evil", "replies": {"totalItems": 999}}]
    outcome = await process(kith, peer, peer.activity("Update", forged, actor=mallory))
    assert outcome.startswith("refused")
    status = await remote_status(kith, alice, create["object"]["id"])
    assert [o["votes_count"] for o in status["poll"]["options"]] == [2, 1]
    assert "evil" not in [o["title"] for o in status["poll"]["options"]]


async def test_a_members_vote_on_a_remote_poll_goes_to_its_author(kith, peer):
    alice = await make_local(kith, "alice")
    await remote_followed_by(kith, peer, alice)
    create = fixture(peer, "pleroma")
    assert await process(kith, peer, create) == "ok"
    status = await remote_status(kith, alice, create["object"]["id"])
    poll_id = status["poll"]["id"]
    voted = await api(
        kith.client, alice, "POST", f"/api/v1/polls/{poll_id}/votes", json={"choices": [1, 2]}
    )
    assert ([o["votes_count"] for o in voted["options"]], voted["voters_count"]) == ([3, 1, 3], 5)
    sent = await kith.pool.fetch("SELECT body FROM outgoing_activities ORDER BY id")
    creates = [json.loads(row["body"]) for row in sent]
    notes = sorted((c["object"]["name"], c["object"]["inReplyTo"], c["to"]) for c in creates)
    author = peer.actor()
    assert notes == [
        ("pear", create["object"]["id"], [author]),
        ("plum", create["object"]["id"], [author]),
    ]
    inboxes = await kith.pool.fetch("SELECT DISTINCT inbox_url FROM deliveries")
    assert [row["inbox_url"] for row in inboxes] == [f"{peer.base_url}/inbox"]


async def test_a_remote_poll_a_member_looks_at_is_fetched_again(kith, peer):
    alice = await make_local(kith, "alice")
    await remote_followed_by(kith, peer, alice)
    create = fixture(peer, "mastodon")
    assert await process(kith, peer, create) == "ok"
    question = create["object"]
    question["oneOf"][0]["replies"]["totalItems"] = 40
    peer.serve({"@context": create["@context"], **question})
    status = await remote_status(kith, alice, question["id"])
    path = f"/api/v1/polls/{status['poll']['id']}"
    seen = await api(kith.client, alice, "GET", path)
    assert [o["votes_count"] for o in seen["options"]] == [2, 1]  # what is known now
    await api(kith.client, alice, "GET", path)
    await api(kith.client, None, "GET", path)
    queued = "SELECT count(*) FROM jobs WHERE queue = 'poll_refresh'"
    assert await kith.pool.fetchval(queued) == 1  # once a minute, however often it is seen
    await kith.drain()
    seen = await api(kith.client, alice, "GET", path)
    assert [o["votes_count"] for o in seen["options"]] == [40, 1]
    assert await kith.pool.fetchval(queued) == 0


async def test_a_voter_who_blocked_the_authors_domain_is_not_told_it_ended(kith, peer):
    alice, carol = await make_local(kith, "alice"), await make_local(kith, "carol")
    await remote_followed_by(kith, peer, alice)
    create = fixture(peer, "mastodon")
    assert await process(kith, peer, create) == "ok"
    peer.serve({"@context": create["@context"], **create["object"]})
    peer.server.serve("/inbox", {}, status=202)
    status = await remote_status(kith, alice, create["object"]["id"])
    path = f"/api/v1/polls/{status['poll']['id']}/votes"
    for voter in (alice, carol):
        await api(kith.client, voter, "POST", path, json={"choices": [0]})
    await api(kith.client, alice, "POST", "/api/v1/domain_blocks", json={"domain": "peer.test"})
    await kith.pool.execute("UPDATE polls SET expires_at = now() - interval '1 second'")
    await run_due(kith, "poll_end")
    await kith.drain()
    told = await kith.pool.fetch(
        "SELECT account_id FROM notifications WHERE type = 'poll' AND status_id = $1",
        int(status["id"]),
    )
    assert [row["account_id"] for row in told] == [carol.account_id]


async def test_results_go_only_to_remote_voters_who_may_still_see_the_poll(kith, peer):
    alice = await make_local(kith, "alice")
    status = await local_poll(kith, alice)
    for voter, choice in (("/users/ana", "coffee"), ("/users/bea", "tea")):
        assert await process(kith, peer, vote_of(peer, status, choice, voter=voter)) == "ok"
    poll_id, status_id = int(status["poll"]["id"]), int(status["id"])
    voters = await poll_store.remote_voters_who_may_see(kith.pool, poll_id, status_id)
    ana = await kith.pool.fetchval("SELECT id FROM accounts WHERE uri = $1", peer.actor())
    assert ana in voters and len(voters) == 2
    await api(kith.client, alice, "POST", f"/api/v1/accounts/{ana}/block")
    voters = await poll_store.remote_voters_who_may_see(kith.pool, poll_id, status_id)
    assert ana not in voters and len(voters) == 1
