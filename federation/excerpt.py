"""Quoting what a client or a peer sent in an error message, briefly.

An error may quote the offending value so the sender sees what was refused, but only an excerpt
of it: a body of a megabyte, or nested 900 levels deep, must not come back whole.
"""

from __future__ import annotations

import reprlib
from typing import Any

MAX_EXCERPT = 100


def _shortener() -> reprlib.Repr:
    """`repr` that stops at a few items, a few levels and short strings (never recursing deep)."""
    shortener = reprlib.Repr()
    shortener.maxlevel = 3
    shortener.maxdict = shortener.maxlist = shortener.maxtuple = shortener.maxset = 4
    shortener.maxstring = shortener.maxother = shortener.maxlong = MAX_EXCERPT
    return shortener


_SHORTENER = _shortener()


def cut(text: str, limit: int = MAX_EXCERPT) -> str:
    """`text`, or its first `limit` characters ending in an ellipsis."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def excerpt(value: Any, limit: int = MAX_EXCERPT) -> str:
    """`value` as `repr` shows it, at most `limit` characters long."""
    return cut(_SHORTENER.repr(value), limit)
