"""Mastodon's keyset pagination (`max_id`, `since_id`, `min_id`, `limit`) as SQL.

`max_id` pages backwards (older), `since_id` returns the newest items above a bound, `min_id`
returns the items immediately above a bound (so it is queried in ascending order and flipped).
Results are always returned newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None
    limit: int = 20

    def where(self, column: str, first_param: int) -> tuple[str, list[Any]]:
        """SQL conditions on `column` (joined with AND, "TRUE" if none) and their arguments."""
        conditions: list[str] = []
        args: list[Any] = []
        for value, op in ((self.max_id, "<"), (self.since_id, ">"), (self.min_id, ">")):
            if value is not None:
                conditions.append(f"{column} {op} ${first_param + len(args)}")
                args.append(value)
        return (" AND ".join(conditions) or "TRUE"), args

    def order(self, column: str) -> str:
        return f"{column} {'ASC' if self.min_id is not None else 'DESC'}"

    def newest_first(self, rows: list[Any]) -> list[Any]:
        return list(reversed(rows)) if self.min_id is not None else rows
