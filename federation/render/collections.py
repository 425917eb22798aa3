"""Ordered collections and their pages (outboxes, followers, following, featured)."""

from __future__ import annotations

from typing import Any

from federation.render.context import AS

Document = dict[str, Any]


def ordered_collection(
    collection_id: str,
    total: int,
    *,
    first: str | None = None,
    items: list[Any] | None = None,
    context: Any = AS,
) -> Document:
    """A collection's summary: its size, and either a link to its `first` page or its `items`
    inline. With neither, it tells only how many items there are."""
    document: Document = {
        "@context": context,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if first is not None:
        document["first"] = first
    if items is not None:
        document["orderedItems"] = _embedded(items)
    return document


def ordered_collection_page(
    page_id: str,
    collection_id: str,
    items: list[Any],
    *,
    total: int | None = None,
    next_page: str | None = None,
    context: Any = AS,
) -> Document:
    """One page of a collection; `next_page` links the following (older) page, if any."""
    document: Document = {
        "@context": context,
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
    }
    if total is not None:
        document["totalItems"] = total
    if next_page is not None:
        document["next"] = next_page
    document["orderedItems"] = _embedded(items)
    return document


def _embedded(items: list[Any]) -> list[Any]:
    """Items as a collection embeds them: without their own @context (the collection's `context`
    must cover their terms)."""
    return [
        {key: value for key, value in item.items() if key != "@context"}
        if isinstance(item, dict)
        else item
        for item in items
    ]
