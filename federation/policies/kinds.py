"""Every policy kind an admin can configure, by name."""

from __future__ import annotations

from federation.policies import domains, hashtag, hold_links, keyword, mention_limit, object_age
from federation.policies.base import PolicyKind

KINDS: dict[str, PolicyKind] = {
    kind.name: kind
    for kind in [
        *domains.KINDS,
        keyword.KIND,
        hashtag.KIND,
        mention_limit.KIND,
        object_age.KIND,
        hold_links.KIND,
    ]
}
