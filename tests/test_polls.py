"""Polls through the client API: making one with a status (JSON and form bodies, Mastodon.py),
reading and voting, every refusal of issue 11 (422, nothing written), hidden totals, who may
read a poll, the instance's limit, and the end-of-poll job's notifications."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from mastodon import Mastodon

from server.jobs.runner import Worker
from server.jobs.worker import build_registry
from server.state import FEDERATION, POOL
from tests.api import api

if TYPE_CHECKING:
    from tests.live_server import LiveServer, Login

pytest_plugins = ["tests.live_server"]

POLL = {"options": ["tea", "coffee"], "expires_in": 3600}


@pytest.fixture
def pool(client):
    return client.server.app[POOL]


async def make_poll(client, who, **poll: Any) -> dict[str, Any]:
    status = await api(
        client, who, "POST", "/api/v1/statuses", json={"status": "which?", "poll": {**POLL, **poll}}
    )
    assert status["poll"] is not None
    return status


async def vote(client, who, poll_id: str, choices: list[int], expect: int = 200) -> Any:
    return await api(
        client,
        who,
        "POST",
        f"/api/v1/polls/{poll_id}/votes",
        json={"choices": choices},
        expect=expect,
    )


async def end_polls(client, pool) -> None:
    """Move every poll's end into the past and run the due jobs (the end-of-poll job)."""
    await pool.execute("UPDATE polls SET expires_at = now() - interval '1 second'")
    await pool.execute("UPDATE jobs SET run_at = now() WHERE queue = 'poll_end'")
    app = client.server.app
    await Worker(pool, build_registry(), app[FEDERATION]).drain()


async def test_a_poll_made_with_json_reads_and_counts_votes(client, make_member):
    alice, bob, carol = await make_member("alice"), await make_member("bob"), await make_member()
    status = await make_poll(client, alice)
    poll = status["poll"]
    assert [o["title"] for o in poll["options"]] == ["tea", "coffee"]
    assert (poll["multiple"], poll["expired"], poll["votes_count"]) == (False, False, 0)
    assert (poll["voted"], poll["own_votes"]) == (True, [])  # the author's own poll

    voted = await vote(client, bob, poll["id"], [1])
    assert (voted["voted"], voted["own_votes"]) == (True, [1])
    assert [o["votes_count"] for o in voted["options"]] == [0, 1]
    assert (voted["votes_count"], voted["voters_count"]) == (1, 1)

    seen = await api(client, carol, "GET", f"/api/v1/polls/{poll['id']}")
    assert (seen["voted"], seen["own_votes"], seen["votes_count"]) == (False, [], 1)
    anonymous = await api(client, None, "GET", f"/api/v1/polls/{poll['id']}")
    assert "voted" not in anonymous and anonymous["votes_count"] == 1
    again = await api(client, bob, "GET", f"/api/v1/statuses/{status['id']}")
    assert again["poll"]["own_votes"] == [1]


async def test_a_poll_made_with_a_form_body(client, make_member):
    alice = await make_member("alice")
    form = [
        ("status", "form poll"),
        ("poll[options][]", "a"),
        ("poll[options][]", "b"),
        ("poll[options][]", "c"),
        ("poll[expires_in]", "300"),
        ("poll[multiple]", "true"),
    ]
    status = await api(client, alice, "POST", "/api/v1/statuses", data=form)
    assert [o["title"] for o in status["poll"]["options"]] == ["a", "b", "c"]
    assert status["poll"]["multiple"] is True


@pytest.mark.parametrize(
    ("poll", "message"),
    [
        ({"options": ["only"]}, "more than one item"),
        ({"options": ["a", "b", "c", "d", "e"]}, "more than 4 items"),
        ({"options": ["a", "x" * 51]}, "longer than 50 characters"),
        ({"options": ["a", ""]}, "can't be blank"),
        ({"options": ["a", "a"]}, "duplicate"),
        ({"expires_in": 299}, "at least 300 seconds"),
        ({"expires_in": 2629747}, "at most 2629746 seconds"),
        ({"expires_in": None}, "expires_in can't be blank"),
        ({"options": ["a", 3]}, "must be strings"),
    ],
)
async def test_a_bad_poll_is_refused_and_nothing_is_stored(
    client, make_member, pool, poll, message
):
    alice = await make_member("alice")
    body = {
        "status": "which?",
        "poll": {k: v for k, v in {**POLL, **poll}.items() if v is not None},
    }
    error = await api(client, alice, "POST", "/api/v1/statuses", json=body, expect=422)
    assert message in error["error"]
    assert await pool.fetchval("SELECT count(*) FROM statuses") == 0
    assert await pool.fetchval("SELECT count(*) FROM polls") == 0


async def test_a_poll_with_media_is_refused(client, make_member, pool):
    alice = await make_member("alice")
    body = {"status": "which?", "poll": POLL, "media_ids": ["1"]}
    error = await api(client, alice, "POST", "/api/v1/statuses", json=body, expect=422)
    assert "cannot have media" in error["error"]
    assert await pool.fetchval("SELECT count(*) FROM statuses") == 0


async def test_bad_votes_are_refused_and_nothing_is_counted(client, make_member, pool):
    alice, bob = await make_member("alice"), await make_member("bob")
    poll_id = (await make_poll(client, alice))["poll"]["id"]

    async def refused(who, choices: list[int], message: str) -> None:
        error = await vote(client, who, poll_id, choices, expect=422)
        assert message in error["error"]

    await refused(bob, [2], "option does not exist")
    await refused(bob, [0, 1], "only one choice")
    await refused(bob, [], "can't be blank")
    await refused(alice, [0], "your own polls")
    assert await pool.fetchval("SELECT count(*) FROM poll_votes") == 0
    await vote(client, bob, poll_id, [0])
    await refused(bob, [1], "already voted")
    await refused(bob, [0], "already voted")
    assert await pool.fetchval("SELECT votes_count FROM polls") == 1

    await pool.execute("UPDATE polls SET expires_at = now() - interval '1 second'")
    carol = await make_member("carol")
    await refused(carol, [1], "already ended")
    assert await pool.fetchval("SELECT count(*) FROM poll_votes") == 1


async def test_several_choices_in_a_multiple_choice_poll(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    poll_id = (await make_poll(client, alice, options=["a", "b", "c"], multiple=True))["poll"]["id"]
    voted = await vote(client, bob, poll_id, [0, 2])
    assert [o["votes_count"] for o in voted["options"]] == [1, 0, 1]
    assert (voted["votes_count"], voted["voters_count"], voted["own_votes"]) == (2, 1, [0, 2])


async def test_hidden_totals_show_only_after_the_end(client, make_member, pool):
    alice, bob = await make_member("alice"), await make_member("bob")
    poll_id = (await make_poll(client, alice, hide_totals=True))["poll"]["id"]
    voted = await vote(client, bob, poll_id, [0])
    assert [o["votes_count"] for o in voted["options"]] == [None, None]
    await pool.execute("UPDATE polls SET expires_at = now() - interval '1 second'")
    ended = await api(client, bob, "GET", f"/api/v1/polls/{poll_id}")
    assert ended["expired"] is True
    assert [o["votes_count"] for o in ended["options"]] == [1, 0]


async def test_a_poll_is_read_and_voted_on_only_where_its_status_is(client, make_member):
    alice, stranger = await make_member("alice"), await make_member("stranger")
    status = await api(
        client,
        alice,
        "POST",
        "/api/v1/statuses",
        json={"status": "friends only", "visibility": "private", "poll": POLL},
    )
    poll_id = status["poll"]["id"]
    await api(client, stranger, "GET", f"/api/v1/polls/{poll_id}", expect=404)
    await api(client, None, "GET", f"/api/v1/polls/{poll_id}", expect=404)
    await vote(client, stranger, poll_id, [0], expect=404)
    await api(client, stranger, "GET", "/api/v1/polls/123456", expect=404)
    await api(client, stranger, "GET", "/api/v1/polls/nonsense", expect=404)


async def test_the_instance_reports_and_enforces_its_option_limit(client, make_member, pool):
    staff_scopes = ("read", "write", "admin:read", "admin:write")
    admin = await make_member("admin", role="admin", scopes=staff_scopes)
    moderator = await make_member("mod", role="moderator", scopes=staff_scopes)
    alice = await make_member("alice")
    v2 = await api(client, None, "GET", "/api/v2/instance")
    assert v2["configuration"]["polls"]["max_options"] == 4
    assert (await api(client, admin, "GET", "/api/v1/admin/polls"))["max_options"] == 4

    await api(client, moderator, "PUT", "/api/v1/admin/polls", json={"max_options": 6}, expect=403)
    await api(client, alice, "PUT", "/api/v1/admin/polls", json={"max_options": 6}, expect=403)
    for bad in (1, 51, "many"):
        body = {"max_options": bad}
        await api(client, admin, "PUT", "/api/v1/admin/polls", json=body, expect=422)
    await api(client, admin, "PUT", "/api/v1/admin/polls", json={}, expect=422)
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 0

    changed = await api(client, admin, "PUT", "/api/v1/admin/polls", json={"max_options": 6})
    assert changed == {"max_options": 6, "default_max_options": 4}
    assert await pool.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'instance_setting.poll_max_options'"
    ) == {"from": 4, "to": 6}
    v2 = await api(client, None, "GET", "/api/v2/instance")
    assert v2["configuration"]["polls"]["max_options"] == 6
    v1 = await api(client, None, "GET", "/api/v1/instance")
    assert v1["configuration"]["polls"]["max_options"] == 6
    await make_poll(client, alice, options=list("abcdef"))
    body = {"status": "seven", "poll": {**POLL, "options": list("abcdefg")}}
    error = await api(client, alice, "POST", "/api/v1/statuses", json=body, expect=422)
    assert "more than 6 items" in error["error"]


async def test_the_end_of_a_poll_notifies_its_author_and_voters(client, make_member, pool):
    alice, bob, carol = await make_member("alice"), await make_member("bob"), await make_member()
    status = await make_poll(client, alice)
    await vote(client, bob, status["poll"]["id"], [0])
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE queue = 'poll_end'") == 1
    await end_polls(client, pool)
    for who in (alice, bob):
        notes = await api(client, who, "GET", "/api/v1/notifications")
        polls = [n for n in notes if n["type"] == "poll"]
        assert [n["status"]["id"] for n in polls] == [status["id"]], who.username
        assert polls[0]["status"]["poll"]["expired"] is True
    assert await api(client, carol, "GET", "/api/v1/notifications") == []
    # The job ran once: running it again notifies nobody twice.
    await pool.execute(
        "INSERT INTO jobs (queue, payload) VALUES ('poll_end', $1)",
        {"poll_id": int(status["poll"]["id"])},
    )
    await end_polls(client, pool)
    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE type = 'poll'") == 2


def _mastodon_py_scenario(url: str, alice_login: Login, bob_login: Login) -> None:
    app = Mastodon.create_app("Kith polls", scopes=["read", "write"], api_base_url=url)

    def sign_in(login: Login) -> Mastodon:
        client = Mastodon(client_id=app[0], client_secret=app[1], api_base_url=url)
        client.log_in(login.email, login.password, scopes=["read", "write"], allow_http=True)
        return client

    alice, bob = sign_in(alice_login), sign_in(bob_login)
    poll = alice.make_poll(["red", "green", "blue"], expires_in=300, multiple=True)
    status = alice.status_post("Favourite colours?", poll=poll)
    assert [o.title for o in status.poll.options] == ["red", "green", "blue"]
    voted = bob.poll_vote(status.poll.id, [0, 2])
    assert voted.own_votes == [0, 2]
    assert [o.votes_count for o in alice.poll(status.poll.id).options] == [1, 0, 1]


async def test_a_poll_through_mastodon_py(live_server: LiveServer):
    alice = await live_server.create_login("alice")
    bob = await live_server.create_login("bob")
    await asyncio.to_thread(_mastodon_py_scenario, live_server.url, alice, bob)


async def test_editing_a_poll(client, make_member, pool):
    """The same options keep the votes (clients send the poll again with every edit); other
    options replace the poll and forget its votes; an edit without a poll keeps it."""
    alice, bob = await make_member("alice"), await make_member("bob")
    status = await make_poll(client, alice)
    poll_id = status["poll"]["id"]
    await vote(client, bob, poll_id, [0])
    path = f"/api/v1/statuses/{status['id']}"

    kept = await api(client, alice, "PUT", path, json={"status": "which one?", "poll": POLL})
    assert kept["poll"]["votes_count"] == 1
    assert kept["poll"]["expires_at"] == status["poll"]["expires_at"]
    kept = await api(client, alice, "PUT", path, json={"status": "which one, then?"})
    assert kept["poll"]["votes_count"] == 1

    bad = {"status": "x", "poll": {**POLL, "options": ["only"]}}
    await api(client, alice, "PUT", path, json=bad, expect=422)
    assert (await api(client, bob, "GET", path))["content"] == "<p>which one, then?</p>"

    new = {"options": ["tea", "coffee", "water"], "expires_in": 600}
    changed = await api(client, alice, "PUT", path, json={"status": "again", "poll": new})
    poll = changed["poll"]
    assert [o["title"] for o in poll["options"]] == ["tea", "coffee", "water"]
    assert (poll["votes_count"], poll["voters_count"]) == (0, 0)
    assert (await api(client, bob, "GET", f"/api/v1/polls/{poll['id']}"))["own_votes"] == []
    await vote(client, bob, poll["id"], [2])


async def question_of(client, status: dict[str, Any]) -> dict[str, Any]:
    path = status["uri"].removeprefix("http://kith.test")
    response = await client.get(path, headers={"Accept": "application/activity+json"})
    assert response.status == 200, await response.text()
    return await response.json(content_type=None)


async def test_a_local_poll_is_served_as_a_question(client, make_member, pool):
    alice, bob = await make_member("alice"), await make_member("bob")
    status = await make_poll(client, alice)
    await vote(client, bob, status["poll"]["id"], [1])
    question = await question_of(client, status)
    assert question["type"] == "Question"
    assert "anyOf" not in question and "closed" not in question
    assert question["oneOf"] == [
        {"type": "Note", "name": "tea", "replies": {"type": "Collection", "totalItems": 0}},
        {"type": "Note", "name": "coffee", "replies": {"type": "Collection", "totalItems": 1}},
    ]
    assert question["votersCount"] == 1
    assert question["endTime"] == status["poll"]["expires_at"].replace(".000Z", "Z")

    several = await make_poll(client, alice, multiple=True, hide_totals=True)
    await vote(client, bob, several["poll"]["id"], [0, 1])
    hidden = await question_of(client, several)
    assert hidden["anyOf"] == [
        {"type": "Note", "name": "tea"},
        {"type": "Note", "name": "coffee"},
    ]
    assert "votersCount" not in hidden and "oneOf" not in hidden
    await pool.execute("UPDATE polls SET expires_at = now() - interval '1 second'")
    closed = await question_of(client, several)
    assert closed["closed"] == closed["endTime"]
    assert [c["replies"]["totalItems"] for c in closed["anyOf"]] == [1, 1]
    assert closed["votersCount"] == 1
