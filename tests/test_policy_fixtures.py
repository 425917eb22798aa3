"""Each policy on real-world payloads (`../shared/fixtures/activitypub`), delivered through the
real signed inbox and processed by the worker, as `test_inbox_fixtures.py` does: accepted,
rejected (nothing stored, the decision recorded, an audit entry), rewritten (stored rewritten),
held and released or discarded; dry runs record and change nothing; order matters."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from federation import remote_accounts
from federation.parse.notes import reference
from server.usecases import policies as admin
from storage import follows as follow_store
from tests.federation_harness import Instance
from tests.inbox_peer import kith_fixture, peer_fixture, process  # noqa: F401 - fixtures
from tests.test_inbox_fixtures import (
    FIXTURES,
    Scene,
    as_activity,
    move_to_peer,
    setting,
)

MASTODON_MEDIA = "mastodon/objects/note_2.json"  # public, one attachment, floss.social
PLEROMA_NOTE = "pleroma/activities/create_note.json"  # public, greenish.red
MASTODON_NOTE = "mastodon/activities/create_note.json"  # unlisted, mastodon.madrid, 2021
FRIENDICA_TAGS = "friendica/objects/note_2.json"  # #Friendica #Lemmy, seven recipients
LEMMY_PAGE = "lemmy/activities/create_or_update/create_page.json"  # a Page with an image
LEMMY_REPORT = "lemmy/activities/community/report_page.json"
FRIENDICA_UPDATE = "friendica/activities/update_note.json"  # of a 2022 post
LEMMY_DELETE = "lemmy/activities/deletion/delete_page.json"


async def policy(kith: Instance, kind: str, config: dict[str, Any], **options: Any) -> int:
    row = await admin.create_policy(kith.pool, kind, config, actor_id=None, **options)
    return row["id"]


async def deliver(
    kith: Instance,
    peer: Any,
    network: Any,
    name: str,
    change: Callable[[Scene, dict[str, Any]], dict[str, Any]] | None = None,
    *,
    after: Callable[[], Awaitable[None]] | None = None,
) -> tuple[Scene, dict[str, Any], str]:
    """Deliver fixture `name` as `test_fixture_payload` does (amy follows its actor, what it
    must follow delivered first, then `after` runs); returns the scene, the activity and its
    recorded outcome."""
    scene = await setting(kith, peer, network, name)
    activity = as_activity(move_to_peer(json.loads((FIXTURES / name).read_text())))
    actor = reference(activity["actor"])
    peer.actor_from({"id": actor, "type": "Person"})
    account = await remote_accounts.resolve_actor(kith.federation, actor)
    await follow_store.insert_follow(
        kith.pool,
        scene.amy.account_id,
        account["id"],
        show_reblogs=True,
        notify=False,
        languages=None,
        uri=None,
    )
    activity = scene.aim(activity)
    if change is not None:
        activity = change(scene, activity)
    for prelude in await scene.preludes(activity):
        await process(kith, peer, prelude)
    if after is not None:
        await after()
    return scene, activity, await process(kith, peer, activity)


async def status_of(kith: Instance, activity: dict[str, Any]) -> Any:
    return await kith.pool.fetchrow(
        "SELECT * FROM statuses WHERE uri = $1 AND deleted_at IS NULL", activity["object"]["id"]
    )


async def media_count(kith: Instance, status: Any) -> int:
    return await kith.pool.fetchval(
        "SELECT count(*) FROM media_attachments WHERE status_id = $1", status["id"]
    )


async def decisions(kith: Instance, activity: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = await kith.pool.fetch(
        "SELECT policy_kind, action, dry_run, source FROM policy_decisions"
        " WHERE activity_uri = $1 ORDER BY id",
        activity["id"],
    )
    return [tuple(r) for r in rows]


async def rejections(kith: Instance) -> list[tuple[Any, ...]]:
    rows = await kith.pool.fetch(
        "SELECT account_id, target_id, detail->>'policy' FROM audit_log"
        " WHERE action = 'policy.reject' ORDER BY id"
    )
    return [tuple(r) for r in rows]


# -- accept ---------------------------------------------------------------------------------------


async def test_a_post_no_policy_covers_is_stored_as_it_came(kith, peer, network):
    await policy(kith, "media_removal", {"domains": ["elsewhere.example"]})
    await policy(kith, "keyword", {"patterns": ["casino"], "action": "reject"})
    _, activity, outcome = await deliver(kith, peer, network, MASTODON_MEDIA)
    assert outcome == "ok"
    status = await status_of(kith, activity)
    assert await media_count(kith, status) == 1
    assert (status["visibility"], status["sensitive"]) == ("public", False)
    assert await decisions(kith, activity) == []


# -- per-domain rewrites and rejects ---------------------------------------------------------------


async def test_media_removal_strips_the_attachments_of_a_covered_domain(kith, peer, network):
    await policy(kith, "media_removal", {"domains": ["social.test"]})  # floss.social.test
    _, activity, outcome = await deliver(kith, peer, network, MASTODON_MEDIA)
    assert outcome == "ok"
    status = await status_of(kith, activity)
    assert await media_count(kith, status) == 0
    assert "kde" in status["content"].lower()
    assert await decisions(kith, activity) == [("media_removal", "rewrite", False, "inbox")]


async def test_a_reject_media_domain_block_strips_attachments_first(kith, peer, network):
    await kith.pool.execute(
        "INSERT INTO domain_blocks (domain, severity, reject_media) VALUES ($1, 'noop', true)",
        "floss.social.test",
    )
    _, activity, outcome = await deliver(kith, peer, network, MASTODON_MEDIA)
    assert outcome == "ok"
    assert await media_count(kith, await status_of(kith, activity)) == 0
    assert await decisions(kith, activity) == [("domain_block", "rewrite", False, "inbox")]


async def test_media_nsfw_marks_a_lemmy_page_with_an_image_sensitive(kith, peer, network):
    await policy(kith, "media_nsfw", {"domains": ["lemmy.ml.test"]})  # ds9.lemmy.ml.test
    _, activity, outcome = await deliver(kith, peer, network, LEMMY_PAGE)
    assert outcome == "ok"
    status = await status_of(kith, activity)
    assert status["sensitive"] is True
    assert await media_count(kith, status) == 1


async def test_federated_timeline_removal_unlists_a_public_pleroma_post(kith, peer, network):
    await policy(kith, "federated_timeline_removal", {"domains": ["greenish.red.test"]})
    _, activity, outcome = await deliver(kith, peer, network, PLEROMA_NOTE)
    assert outcome == "ok"
    assert (await status_of(kith, activity))["visibility"] == "unlisted"


async def test_followers_only_drops_public_from_a_mastodon_post(kith, peer, network):
    await policy(kith, "followers_only", {"domains": ["floss.social.test"]})
    _, activity, outcome = await deliver(kith, peer, network, MASTODON_MEDIA)
    assert outcome == "ok"
    assert (await status_of(kith, activity))["visibility"] == "private"


async def test_report_removal_rejects_a_lemmy_report(kith, peer, network):
    await policy(kith, "report_removal", {"domains": ["lemmy.ml.test"]})
    _, activity, outcome = await deliver(kith, peer, network, LEMMY_REPORT)
    assert outcome.startswith("refused: rejected by policy report_removal")
    assert await kith.pool.fetchval("SELECT count(*) FROM reports") == 0
    assert await decisions(kith, activity) == [("report_removal", "reject", False, "inbox")]
    assert await rejections(kith) == [(None, activity["id"], "report_removal")]


# -- content rules --------------------------------------------------------------------------------


async def test_a_keyword_reject_stores_nothing_and_is_recorded_and_audited(kith, peer, network):
    await policy(kith, "keyword", {"patterns": [r"test\b"], "action": "reject"})
    _, activity, outcome = await deliver(kith, peer, network, PLEROMA_NOTE)
    assert outcome.startswith("refused: rejected by policy keyword: matches")
    assert await status_of(kith, activity) is None
    assert await decisions(kith, activity) == [("keyword", "reject", False, "inbox")]
    assert await rejections(kith) == [(None, activity["id"], "keyword")]


async def test_a_keyword_content_warning_is_stored_as_spoiler_text(kith, peer, network):
    config = {"patterns": ["DISAPPOINTED"], "action": "content_warning", "warning": "mood"}
    await policy(kith, "keyword", config)
    _, activity, outcome = await deliver(kith, peer, network, MASTODON_NOTE)
    assert outcome == "ok"
    status = await status_of(kith, activity)
    assert (status["spoiler_text"], status["sensitive"]) == ("mood", True)


async def test_hashtag_rules_act_on_a_friendica_posts_tags(kith, peer, network):
    await policy(kith, "hashtag", {"hashtags": ["#lemmy"], "action": "sensitive"})
    await policy(kith, "hashtag", {"hashtags": ["friendica"], "action": "unlist"})
    await policy(kith, "hashtag", {"hashtags": ["mastodon"], "action": "reject"})
    _, activity, outcome = await deliver(kith, peer, network, FRIENDICA_TAGS)
    assert outcome == "ok"
    status = await status_of(kith, activity)
    assert (status["visibility"], status["sensitive"]) == ("unlisted", True)
    assert [d[:2] for d in await decisions(kith, activity)] == [
        ("hashtag", "rewrite"),
        ("hashtag", "rewrite"),
    ]


async def test_a_hashtag_reject(kith, peer, network):
    await policy(kith, "hashtag", {"hashtags": ["Friendica"], "action": "reject"})
    _, activity, outcome = await deliver(kith, peer, network, FRIENDICA_TAGS)
    assert outcome == "refused: rejected by policy hashtag: tagged #friendica"
    assert await status_of(kith, activity) is None


# -- mentions and age -----------------------------------------------------------------------------


async def test_the_mention_limit_rejects_a_hellthread(kith, peer, network):
    await policy(kith, "mention_limit", {"max_mentions": 5})
    _, activity, outcome = await deliver(kith, peer, network, FRIENDICA_TAGS)
    assert outcome.startswith("refused: rejected by policy mention_limit:")
    assert await status_of(kith, activity) is None


async def test_the_mention_limit_can_strip_mentions_instead(kith, peer, network):
    await policy(kith, "mention_limit", {"max_mentions": 5, "action": "strip"})
    _, activity, outcome = await deliver(kith, peer, network, FRIENDICA_TAGS)
    assert outcome == "ok"
    status = await status_of(kith, activity)
    assert status["visibility"] == "public"
    assert (
        await kith.pool.fetchval("SELECT count(*) FROM mentions WHERE status_id = $1", status["id"])
        == 0
    )


async def test_a_post_under_the_mention_limit_passes(kith, peer, network):
    await policy(kith, "mention_limit", {"max_mentions": 7})
    _, _, outcome = await deliver(kith, peer, network, FRIENDICA_TAGS)
    assert outcome == "ok"


async def test_the_object_age_limit_rejects_an_old_post(kith, peer, network):
    await policy(kith, "object_age", {"max_age_days": 30})
    _, activity, outcome = await deliver(kith, peer, network, MASTODON_NOTE)
    assert outcome.startswith("refused: rejected by policy object_age: published 2021-11-05")
    assert await status_of(kith, activity) is None


async def test_the_object_age_limit_can_unlist_instead(kith, peer, network):
    await policy(kith, "object_age", {"max_age_days": 30, "action": "unlist"})
    _, activity, outcome = await deliver(kith, peer, network, PLEROMA_NOTE)
    assert outcome == "ok"
    assert (await status_of(kith, activity))["visibility"] == "unlisted"


async def test_the_object_age_limit_lets_an_update_of_an_old_post_through(kith, peer, network):
    async def limit() -> None:
        await policy(kith, "object_age", {"max_age_days": 30})

    _, activity, outcome = await deliver(kith, peer, network, FRIENDICA_UPDATE, after=limit)
    assert outcome == "ok"
    assert "before the edit" not in (await status_of(kith, activity))["content"]


async def test_the_object_age_limit_lets_a_delete_through(kith, peer, network):
    await policy(kith, "object_age", {"max_age_days": 30})
    _, _, outcome = await deliver(kith, peer, network, LEMMY_DELETE)
    assert outcome == "ok"


# -- dry runs and order ---------------------------------------------------------------------------


async def test_a_dry_run_records_what_it_would_do_and_changes_nothing(kith, peer, network):
    await policy(kith, "keyword", {"patterns": ["test"], "action": "reject"}, dry_run=True)
    await policy(kith, "federated_timeline_removal", {"domains": ["red.test"]}, dry_run=True)
    _, activity, outcome = await deliver(kith, peer, network, PLEROMA_NOTE)
    assert outcome == "ok"
    assert (await status_of(kith, activity))["visibility"] == "public"
    assert await decisions(kith, activity) == [
        ("keyword", "reject", True, "inbox"),
        ("federated_timeline_removal", "rewrite", True, "inbox"),
    ]
    assert await rejections(kith) == []


async def test_a_reject_placed_before_a_rewrite_ends_the_pipeline(kith, peer, network):
    await policy(kith, "federated_timeline_removal", {"domains": ["greenish.red.test"]})
    await policy(kith, "keyword", {"patterns": ["test"], "action": "reject"}, position=1)
    _, activity, outcome = await deliver(kith, peer, network, PLEROMA_NOTE)
    assert outcome.startswith("refused: rejected by policy keyword")
    assert await decisions(kith, activity) == [("keyword", "reject", False, "inbox")]


async def test_a_rewrite_placed_before_a_reject_is_recorded_then_rejected(kith, peer, network):
    await policy(kith, "keyword", {"patterns": ["test"], "action": "reject"})
    await policy(kith, "federated_timeline_removal", {"domains": ["greenish.red.test"]}, position=1)
    _, activity, outcome = await deliver(kith, peer, network, PLEROMA_NOTE)
    assert outcome.startswith("refused: rejected by policy keyword")
    assert [d[:2] for d in await decisions(kith, activity)] == [
        ("federated_timeline_removal", "rewrite"),
        ("keyword", "reject"),
    ]


async def test_a_later_policy_sees_the_earlier_ones_rewrite(kith, peer, network):
    # The media are gone before media_nsfw looks, so it has nothing to mark.
    await policy(kith, "media_removal", {"domains": ["floss.social.test"]})
    await policy(kith, "media_nsfw", {"domains": ["floss.social.test"]})
    _, activity, outcome = await deliver(kith, peer, network, MASTODON_MEDIA)
    assert outcome == "ok"
    status = await status_of(kith, activity)
    assert (await media_count(kith, status), status["sensitive"]) == (0, False)


# -- holding --------------------------------------------------------------------------------------


def mention_amy_with_a_link(scene: Scene, activity: dict[str, Any]) -> dict[str, Any]:
    """The Mastodon post (a link to a donation page), pointed at amy (a mention and `cc`), with a
    link to a shop too."""
    post = activity["object"]
    post["tag"] = [{"type": "Mention", "href": scene.amy.uri, "name": "@amy@kith.test"}]
    post["cc"] = [*post.get("cc", []), scene.amy.uri]
    post["content"] += '<p><a href="https://shop.example/deal">cheap</a></p>'
    return activity


async def test_a_new_accounts_link_post_mentioning_a_member_is_held_then_released(
    kith, peer, network
):
    await policy(kith, "hold_links", {"max_account_age_hours": 24, "max_followers": 1})
    _, activity, outcome = await deliver(
        kith, peer, network, MASTODON_MEDIA, mention_amy_with_a_link
    )
    assert outcome.startswith("ignored: held for review by policy hold_links")
    assert await status_of(kith, activity) is None
    held = await kith.pool.fetchrow("SELECT * FROM held_activities")
    assert (held["activity_uri"], held["state"]) == (activity["id"], "held")

    await admin.release(kith.pool, held["id"], actor_id=None)
    await kith.drain()
    assert await status_of(kith, activity) is not None
    assert (
        await kith.pool.fetchval(
            "SELECT outcome FROM inbox_activities WHERE activity_uri = $1", activity["id"]
        )
        == "ok"
    )
    assert await decisions(kith, activity) == [("hold_links", "hold", False, "inbox")]


async def test_a_held_post_discarded_is_gone(kith, peer, network):
    await policy(kith, "hold_links", {"max_account_age_hours": 24, "max_followers": 1})
    _, activity, _ = await deliver(kith, peer, network, MASTODON_MEDIA, mention_amy_with_a_link)
    held_id = await kith.pool.fetchval("SELECT id FROM held_activities")
    await admin.discard(kith.pool, held_id, actor_id=None)
    await kith.drain()
    assert await status_of(kith, activity) is None
    assert await kith.pool.fetchval("SELECT state FROM held_activities") == "discarded"
    assert (
        await kith.pool.fetchval(
            "SELECT outcome FROM inbox_activities WHERE activity_uri = $1", activity["id"]
        )
        == "refused: discarded on review"
    )


async def test_an_established_account_is_not_held(kith, peer, network):
    await policy(kith, "hold_links", {"max_account_age_hours": 24, "max_followers": 0})
    _, _, outcome = await deliver(kith, peer, network, MASTODON_MEDIA, mention_amy_with_a_link)
    assert outcome == "ok"  # amy follows the author: more local followers than allowed


async def test_a_new_accounts_post_without_links_is_not_held(kith, peer, network):
    def mention_amy(scene: Scene, activity: dict[str, Any]) -> dict[str, Any]:
        activity = mention_amy_with_a_link(scene, activity)
        activity["object"]["content"] = '<p><a href="x" class="u-url mention">@amy</a> hi</p>'
        return activity

    await policy(kith, "hold_links", {"max_account_age_hours": 24, "max_followers": 1})
    _, _, outcome = await deliver(kith, peer, network, MASTODON_MEDIA, mention_amy)
    assert outcome == "ok"
