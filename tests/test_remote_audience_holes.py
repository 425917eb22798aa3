"""A remote actor cannot interact with a post it cannot read.

alice (on kith.test) posts to a restricted audience; ana (a signing actor on peer.test, who
knows the post's id) boosts, likes, reacts to, replies to, quotes or reports it. carl, a member
of kith.test who follows ana, would see anything ana's interaction put in his home timeline.

Every interaction with a post ana may not read (local-only; followers-only while she does not
follow alice; direct and not addressed to her) is refused and leaves nothing behind: no boost,
favourite or reply row, no notification, and nothing of the post readable through the API by
anonymous readers or other members. The same interactions with a post she may read succeed, so
each check can fail. Kith keeps no emoji reactions and attaches no quotes yet: those are shown
to store and reveal nothing whatever the audience.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from federation import remote_accounts
from tests.api import api
from tests.federation_harness import Instance
from tests.inbox_peer import (  # noqa: F401 - fixtures
    PUBLIC,
    Local,
    Peer,
    follow_row,
    kith_fixture,
    make_local,
    peer_fixture,
)
from tests.test_authorized_fetch import fetch

SECRET = "the secret harbour plan"
QUOTE_KEYS = ("quoteUrl", "_misskey_quote", "quoteUri")


@dataclass
class Scene:
    kith: Instance
    peer: Peer
    alice: Local
    carl: Local
    ana_id: int
    status: dict[str, Any]


async def post(kith: Instance, member: Local, **fields: Any) -> dict[str, Any]:
    async with kith.client.post("/api/v1/statuses", json=fields, headers=member.headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


# What alice posts, and what ana is to it: (API fields, ana follows alice, ana is addressed).
AUDIENCES: dict[str, tuple[dict[str, str], bool, bool]] = {
    "local-only": ({"visibility": "local"}, True, False),
    "followers-only, not following": ({"visibility": "private"}, False, False),
    "direct, not addressed": ({"visibility": "direct"}, False, False),
}
READABLE: dict[str, tuple[dict[str, str], bool, bool]] = {
    "public": ({"visibility": "public"}, False, False),
    "followers-only, following": ({"visibility": "private"}, True, False),
    "direct, addressed": ({"visibility": "direct"}, False, True),
}


async def scene(kith: Instance, peer: Peer, audience: tuple[dict[str, str], bool, bool]) -> Scene:
    """alice's post to `audience`; ana (followed by carl) is known to kith.test. A direct post
    always mentions bob, and ana only when she is addressed."""
    fields, ana_follows, addressed = audience
    peer.server.serve("/inbox", {}, status=202)  # what alice's server delivers to ana's
    alice, _, carl = [await make_local(kith, name) for name in ("alice", "bob", "carl")]
    ana = await remote_accounts.resolve_actor(kith.federation, peer.actor())
    await follow_row(kith, carl.account_id, ana["id"])
    if ana_follows:
        await follow_row(kith, ana["id"], alice.account_id)
    text = f"{'@ana@peer.test ' if addressed else ''}@bob {SECRET}"
    status = await post(kith, alice, status=text, **fields)
    await kith.drain()
    return Scene(kith, peer, alice, carl, ana["id"], status)


# -- The interactions ------------------------------------------------------------------------------


async def process(s: Scene, activity: dict[str, Any]) -> str:
    """Deliver as ana, run the queue, and return the outcome recorded for the activity."""
    code, body = await s.peer.deliver(s.kith, activity)
    assert code == 202, body
    await s.kith.drain()
    outcome = await s.kith.pool.fetchval(
        "SELECT outcome FROM inbox_activities WHERE activity_uri = $1", activity["id"]
    )
    assert outcome is not None
    return outcome


def ana_note(s: Scene, n: int, **fields: Any) -> dict[str, Any]:
    actor = s.peer.actor()
    return {
        "id": f"{actor}/statuses/{n}",
        "type": "Note",
        "attributedTo": actor,
        "content": f"<p>ana's post {n}</p>",
        "published": "2024-01-02T03:04:05Z",
        "to": [PUBLIC],
        "cc": [f"{actor}/followers"],
        **fields,
    }


def announce(s: Scene) -> dict[str, Any]:
    return s.peer.activity("Announce", s.status["uri"], to=[PUBLIC], cc=[s.alice.uri])


def like(s: Scene) -> dict[str, Any]:
    return s.peer.activity("Like", s.status["uri"])


def misskey_reaction(s: Scene) -> dict[str, Any]:
    return s.peer.activity("Like", s.status["uri"], content="🍮", _misskey_reaction="🍮")


def emoji_react(s: Scene) -> dict[str, Any]:
    return s.peer.activity("EmojiReact", s.status["uri"], content="🔥")


def reply(s: Scene) -> dict[str, Any]:
    mention = {"type": "Mention", "href": s.alice.uri, "name": "@alice@kith.test"}
    note = ana_note(s, 1, inReplyTo=s.status["uri"], tag=[mention], cc=[s.alice.uri])
    return s.peer.activity("Create", note, to=note["to"], cc=note["cc"])


def quote(key: str) -> Callable[[Scene], dict[str, Any]]:
    def make(s: Scene) -> dict[str, Any]:
        note = ana_note(
            s, 2, content=f"<p>look RE: {s.status['uri']}</p>", **{key: s.status["uri"]}
        )
        return s.peer.activity("Create", note, to=note["to"], cc=note["cc"])

    return make


def flag(s: Scene) -> dict[str, Any]:
    return s.peer.activity("Flag", [s.alice.uri, s.status["uri"]], content="spam")


# -- What each left behind -------------------------------------------------------------------------


async def count(s: Scene, sql: str) -> int:
    return await s.kith.pool.fetchval(sql, s.ana_id)


async def boosts(s: Scene) -> int:
    return await count(
        s, "SELECT count(*) FROM statuses WHERE account_id = $1 AND reblog_of_id IS NOT NULL"
    )


async def favourites(s: Scene) -> int:
    return await count(s, "SELECT count(*) FROM favourites WHERE account_id = $1")


async def replies(s: Scene) -> int:
    return await count(
        s, "SELECT count(*) FROM statuses WHERE account_id = $1 AND in_reply_to_id IS NOT NULL"
    )


async def notifications(s: Scene) -> int:
    return await count(s, "SELECT count(*) FROM notifications WHERE from_account_id = $1")


async def reported(s: Scene) -> list[int]:
    """The statuses attached to ana's reports (the report itself stands against alice)."""
    rows = await s.kith.pool.fetch("SELECT status_ids FROM reports WHERE account_id = $1", s.ana_id)
    return [status_id for row in rows for status_id in row["status_ids"]]


async def nothing_leaks(s: Scene) -> None:
    """Nothing of ana's interaction, or of the post, reaches anonymous readers or carl (who may
    read a local-only post himself, but never through ana)."""
    status_id = s.status["id"]
    ana_rows = await s.kith.pool.fetch("SELECT id FROM statuses WHERE account_id = $1", s.ana_id)
    for reader in (None, s.carl):
        assert (
            await api(s.kith.client, reader, "GET", f"/api/v1/accounts/{s.ana_id}/statuses") == []
        )
        for row in ana_rows:
            await api(s.kith.client, reader, "GET", f"/api/v1/statuses/{row['id']}", expect=404)
    assert await api(s.kith.client, s.carl, "GET", "/api/v1/timelines/home") == []
    assert SECRET not in str(await api(s.kith.client, None, "GET", "/api/v1/timelines/public"))
    await api(s.kith.client, None, "GET", f"/api/v1/statuses/{status_id}", expect=404)
    await api(s.kith.client, None, "GET", f"/api/v1/statuses/{status_id}/context", expect=404)
    own = await api(s.kith.client, s.alice, "GET", f"/api/v1/statuses/{status_id}")
    assert (own["reblogs_count"], own["favourites_count"], own["replies_count"]) == (0, 0, 0)
    context = await api(s.kith.client, s.alice, "GET", f"/api/v1/statuses/{status_id}/context")
    assert context["descendants"] == []
    assert await api(s.kith.client, s.alice, "GET", "/api/v1/notifications") == []
    await nothing_on_the_pages(s)


async def nothing_on_the_pages(s: Scene) -> None:
    """The public web pages (alice's profile, the post's own page) show nothing of it either."""
    html = {"Accept": "text/html"}
    async with s.kith.client.get("/@alice", headers=html) as response:
        assert response.status == 200
        assert SECRET not in await response.text()
    async with s.kith.client.get(f"/@alice/{s.status['id']}", headers=html) as response:
        assert response.status == 404
        assert SECRET not in await response.text()


Interaction = Callable[[Scene], dict[str, Any]]
Check = Callable[[Scene], Awaitable[None]]


async def boosted(s: Scene) -> None:
    assert await boosts(s) == 1
    [notification] = await api(s.kith.client, s.alice, "GET", "/api/v1/notifications")
    assert notification["type"] == "reblog"
    [entry] = await api(s.kith.client, s.alice, "GET", f"/api/v1/accounts/{s.ana_id}/statuses")
    assert entry["reblog"]["id"] == s.status["id"]


async def favourited(s: Scene) -> None:
    assert await favourites(s) == 1
    [notification] = await api(s.kith.client, s.alice, "GET", "/api/v1/notifications")
    assert notification["type"] == "favourite"


async def replied(s: Scene) -> None:
    assert await replies(s) == 1
    [notification] = await api(s.kith.client, s.alice, "GET", "/api/v1/notifications")
    assert notification["type"] == "mention"
    context = await api(s.kith.client, s.alice, "GET", f"/api/v1/statuses/{s.status['id']}/context")
    assert [d["account"]["acct"] for d in context["descendants"]] == ["ana@peer.test"]


async def report_attaches_it(s: Scene) -> None:
    assert await reported(s) == [int(s.status["id"])]


# interaction -> (activity, outcome when ana may not read the post, check when she may)
INTERACTIONS: dict[str, tuple[Interaction, str, Check]] = {
    "Announce": (announce, "refused: status not readable by the actor", boosted),
    "Like": (like, "refused: status not readable by the actor", favourited),
    "Misskey reaction (Like)": (
        misskey_reaction,
        "refused: status not readable by the actor",
        favourited,
    ),
    "reply": (reply, "refused: replies to a status its author may not read", replied),
    "Flag": (flag, "ok", report_attaches_it),
}


@pytest.mark.parametrize("audience", list(AUDIENCES))
@pytest.mark.parametrize("interaction", list(INTERACTIONS))
async def test_interaction_with_a_post_the_actor_cannot_read_is_refused(
    kith, peer, interaction, audience
):
    s = await scene(kith, peer, AUDIENCES[audience])
    make, outcome, _ = INTERACTIONS[interaction]
    assert await process(s, make(s)) == outcome
    assert (await boosts(s), await favourites(s), await replies(s)) == (0, 0, 0)
    assert await notifications(s) == 0
    assert await reported(s) == []
    await nothing_leaks(s)


@pytest.mark.parametrize("audience", list(READABLE))
@pytest.mark.parametrize("interaction", list(INTERACTIONS))
async def test_interaction_with_a_post_the_actor_may_read_succeeds(
    kith, peer, interaction, audience
):
    s = await scene(kith, peer, READABLE[audience])
    make, _, check = INTERACTIONS[interaction]
    outcome = await process(s, make(s))
    if interaction == "Announce" and audience != "public":
        # Readable, but only public and unlisted posts can be boosted (as in Mastodon).
        assert outcome == "refused: only public and unlisted statuses can be boosted"
        assert await boosts(s) == 0
        return
    assert outcome == "ok"
    await check(s)


async def test_a_flag_naming_only_a_post_the_reporter_cannot_read_is_refused(kith, peer):
    s = await scene(kith, peer, AUDIENCES["local-only"])
    outcome = await process(s, s.peer.activity("Flag", [s.status["uri"]], content="spam"))
    assert outcome == "refused: reports only statuses the reporter may not read"
    assert await kith.pool.fetchval("SELECT count(*) FROM reports") == 0


@pytest.mark.parametrize("audience", [*AUDIENCES, *READABLE])
async def test_emoji_reactions_are_not_kept(kith, peer, audience):
    s = await scene(kith, peer, {**AUDIENCES, **READABLE}[audience])
    assert await process(s, emoji_react(s)) == "ignored: unsupported type EmojiReact"
    assert (await favourites(s), await notifications(s)) == (0, 0)
    assert await api(s.kith.client, s.alice, "GET", "/api/v1/notifications") == []


@pytest.mark.parametrize("key", QUOTE_KEYS)
@pytest.mark.parametrize("audience", [*AUDIENCES, *READABLE])
async def test_a_quote_is_stored_as_a_plain_post_that_attaches_nothing(kith, peer, key, audience):
    """Kith does not support quotes: ana's post is hers to publish, and is kept as it is (carl
    follows her), but nothing of the quoted post comes with it, whoever quotes what."""
    s = await scene(kith, peer, {**AUDIENCES, **READABLE}[audience])
    assert await process(s, quote(key)(s)) == "ok"
    [mine] = await api(s.kith.client, s.carl, "GET", "/api/v1/timelines/home")
    assert mine["account"]["acct"] == "ana@peer.test"
    assert mine["reblog"] is None and mine["in_reply_to_id"] is None
    assert "quote" not in mine and SECRET not in str(mine)
    assert await notifications(s) == 0
    own = await api(s.kith.client, s.alice, "GET", f"/api/v1/statuses/{s.status['id']}")
    assert (own["reblogs_count"], own["favourites_count"], own["replies_count"]) == (0, 0, 0)


# -- Defence in depth: a boost row that should never exist is never shown -------------------------


async def insert_status(
    s: Scene, account_id: int, uri: str, *, reblog_of: int | None = None, local: bool = False
) -> int:
    """A public status written straight to the table (no service would write these boosts),
    in carl's home feed."""
    status_id = await s.kith.pool.fetchval(
        """
        INSERT INTO statuses (uri, url, account_id, local, visibility, content, reblog_of_id)
        VALUES ($1, $1, $2, $3, 'public', '<p>plain</p>', $4) RETURNING id
        """,
        uri,
        account_id,
        local,
        reblog_of,
    )
    await s.kith.pool.execute(
        "INSERT INTO home_feed (account_id, status_id, author_account_id) VALUES ($1, $2, $3)",
        s.carl.account_id,
        status_id,
        account_id,
    )
    return status_id


def ids(entities: list[dict[str, Any]]) -> list[str]:
    return [entity["id"] for entity in entities]


@pytest.mark.parametrize("audience", list(AUDIENCES))
async def test_a_boost_of_an_original_the_viewer_may_not_read_is_left_out(kith, peer, audience):
    s = await scene(kith, peer, AUDIENCES[audience])
    plain = str(await insert_status(s, s.ana_id, f"{s.peer.base_url}/plain"))
    boost = str(
        await insert_status(s, s.ana_id, f"{s.peer.base_url}/boost", reblog_of=int(s.status["id"]))
    )
    listing = f"/api/v1/accounts/{s.ana_id}/statuses"
    readers: list[Local | None] = [None]
    if audience != "local-only":  # carl, a member, may read a local-only post himself
        readers.append(s.carl)
        assert ids(await api(s.kith.client, s.carl, "GET", "/api/v1/timelines/home")) == [plain]
    for reader in readers:
        assert ids(await api(s.kith.client, reader, "GET", listing)) == [plain]
        await api(s.kith.client, reader, "GET", f"/api/v1/statuses/{boost}", expect=404)
    # Whoever may read the original sees the boost (so the checks above can fail).
    assert ids(await api(s.kith.client, s.alice, "GET", listing)) == [boost, plain]
    shown = await api(s.kith.client, s.alice, "GET", f"/api/v1/statuses/{boost}")
    assert shown["reblog"]["id"] == s.status["id"]


async def test_a_members_boost_of_a_local_only_post_is_never_served_over_activitypub(kith, peer):
    """Even a boost row wrongly marked as federating (services mark it local-only)."""
    s = await scene(kith, peer, AUDIENCES["local-only"])
    dave = await make_local(kith, "dave")
    uri = f"{dave.uri}/statuses/1/activity"
    boost = await insert_status(s, dave.account_id, uri, reblog_of=int(s.status["id"]), local=True)
    for path in (f"/users/dave/statuses/{boost}/activity", "/users/dave/outbox?page=true"):
        for signed_by in (None, s.peer):
            code, _, body = await fetch(kith, f"{kith.base_url}{path}", peer=signed_by)
            assert code == 404 or body["orderedItems"] == [], (path, signed_by)
            assert SECRET not in str(body)
    await api(s.kith.client, None, "GET", f"/api/v1/statuses/{boost}", expect=404)


async def test_a_member_may_boost_a_local_only_post_and_the_boost_stays_local(kith, peer):
    s = await scene(kith, peer, AUDIENCES["local-only"])
    dave = await make_local(kith, "dave")
    await follow_row(kith, s.ana_id, dave.account_id)  # a remote follower the boost must not reach
    await kith.pool.execute("DELETE FROM deliveries; DELETE FROM outgoing_activities")
    async with kith.client.post(
        f"/api/v1/statuses/{s.status['id']}/reblog", headers=dave.headers
    ) as response:
        assert response.status == 200, await response.text()
        boost = await response.json()
    assert boost["local_only"] is True and boost["reblog"]["id"] == s.status["id"]
    assert await kith.pool.fetchval("SELECT count(*) FROM outgoing_activities") == 0
    [notification] = await api(s.kith.client, s.alice, "GET", "/api/v1/notifications")
    assert notification["type"] == "reblog"
    assert ids(
        await api(s.kith.client, s.carl, "GET", f"/api/v1/accounts/{dave.account_id}/statuses")
    ) == [boost["id"]]
    assert (
        await api(s.kith.client, None, "GET", f"/api/v1/accounts/{dave.account_id}/statuses") == []
    )
    await api(s.kith.client, None, "GET", f"/api/v1/statuses/{boost['id']}", expect=404)
    for signed_by in (None, s.peer):
        activity = f"{kith.base_url}/users/dave/statuses/{boost['id']}/activity"
        assert (await fetch(kith, activity, peer=signed_by))[0] == 404


@pytest.mark.parametrize("kind", ["Like", "Announce"])
async def test_undoing_an_act_never_recorded_is_ignored_not_refused(kith, peer, kind):
    """Peers retry Undos and send them for acts that never reached us: harmless, so ignored."""
    s = await scene(kith, peer, READABLE["public"])
    never_sent = s.peer.activity(kind, f"http://kith.test/statuses/{10**15}")
    outcome = await process(s, s.peer.activity("Undo", never_sent))
    assert outcome.startswith("ignored"), outcome
    undo_of_public = s.peer.activity("Undo", s.peer.activity(kind, s.status["uri"]))
    assert await process(s, undo_of_public) == "ok"
