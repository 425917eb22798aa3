"""The filter use cases on their own: all or nothing, and another member's rows are not found."""

from __future__ import annotations

from datetime import timedelta

import pytest

from federation.errors import KithError
from server.state import POOL
from server.usecases import filters
from server.usecases.filters import FilterChanges, KeywordChange


async def _filter(pool, account_id: int):
    return await filters.create_filter(
        pool,
        account_id,
        FilterChanges(title="Cats", context=["home"], keywords=[KeywordChange("cat")]),
    )


async def test_an_update_that_fails_half_way_changes_nothing(client, make_member):
    pool = client.server.app[POOL]
    alice = await make_member("alice")
    row = await _filter(pool, alice.account_id)
    changes = FilterChanges(
        title="Dogs",
        sets_expiry=True,
        expires_in=timedelta(hours=1),
        keywords=[KeywordChange("dog"), KeywordChange("")],
    )
    with pytest.raises(KithError) as error:
        await filters.update_filter(pool, alice.account_id, row["id"], changes)
    assert (error.value.status, error.value.message) == (
        422,
        "Validation failed: keyword can't be blank",
    )
    after = await filters.get_filter(pool, alice.account_id, row["id"])
    assert (after["title"], after["expires_at"]) == ("Cats", None)
    keywords = await filters.keywords_of(pool, alice.account_id, row["id"])
    assert [k["keyword"] for k in keywords] == ["cat"]


async def test_another_members_keyword_is_not_found_in_any_change(client, make_member):
    pool = client.server.app[POOL]
    alice, bob = await make_member("alice"), await make_member("bob")
    alices = await _filter(pool, alice.account_id)
    bobs = await _filter(pool, bob.account_id)
    [bob_keyword] = await filters.keywords_of(pool, bob.account_id, bobs["id"])
    changes = FilterChanges(title="Changed", keywords=[KeywordChange("mine", id=bob_keyword["id"])])
    with pytest.raises(KithError) as error:
        await filters.update_filter(pool, alice.account_id, alices["id"], changes)
    assert error.value.status == 404
    assert (await filters.get_filter(pool, alice.account_id, alices["id"]))["title"] == "Cats"
    # Removing it is removing nothing from one's own filter.
    destroy = KeywordChange(None, id=bob_keyword["id"], destroy=True)
    await filters.update_filter(
        pool, alice.account_id, alices["id"], FilterChanges(keywords=[destroy])
    )
    assert (await filters.get_keyword(pool, bob.account_id, bob_keyword["id"]))["keyword"] == "cat"
    with pytest.raises(KithError) as error:
        await filters.update_keyword(pool, alice.account_id, bob_keyword["id"], "x", None)
    assert error.value.status == 404


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (FilterChanges(context=["home"]), "title can't be blank"),
        (FilterChanges(title="T", context=["home"], filter_action=""), "filter_action must be"),
        (FilterChanges(title="T", context=[]), "context can't be blank"),
        (FilterChanges(title="x" * 257, context=["home"]), "title is too long"),
    ],
)
async def test_unusable_fields_are_refused(client, make_member, changes, message):
    pool = client.server.app[POOL]
    alice = await make_member("alice")
    with pytest.raises(KithError) as error:
        await filters.create_filter(pool, alice.account_id, changes)
    assert error.value.status == 422
    assert error.value.message.startswith(f"Validation failed: {message}")
    assert await filters.list_filters(pool, alice.account_id) == []
