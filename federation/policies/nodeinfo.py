"""What NodeInfo says of the pipeline, in the shape Pleroma and Akkoma publish under
`metadata.federation`: `mrf_policies` (the active policies' names, SimplePolicy for the
per-domain kinds) and one summary object per policy (`mrf_simple`, `mrf_keyword`,
`mrf_hashtag`, `mrf_hellthread`, `mrf_object_age`...). Only enabled policies that are not dry
runs are active. With none active, or when the admin opted out (`kith policy nodeinfo off`),
nothing is published."""

from __future__ import annotations

from typing import Any

import asyncpg

from federation.policies.kinds import KINDS
from storage import policies as store


async def federation_metadata(pool: asyncpg.Pool) -> dict[str, Any] | None:
    """The `metadata.federation` object, or None (opted out, or no active policy)."""
    if not await store.publication(pool):
        return None
    names: list[str] = []
    summaries: dict[str, dict[str, Any]] = {}
    for row in await store.list_policies(pool, enabled_only=True):
        kind = KINDS.get(row["kind"])
        if kind is None or row["dry_run"]:
            continue
        if kind.nodeinfo_name not in names:
            names.append(kind.nodeinfo_name)
        summary = summaries.setdefault(kind.nodeinfo_key, {})
        for key, value in kind.summary(row["config"]).items():
            if isinstance(value, list):
                summary[key] = list(dict.fromkeys([*summary.get(key, []), *value]))
            else:
                summary[key] = value
    if not names:
        return None
    return {"enabled": True, "mrf_policies": names, "exclusions": False, **summaries}
