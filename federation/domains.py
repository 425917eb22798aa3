"""Domain names as blocks, allows and block lists name them, and the severities a block has.

Shared by the moderation use cases (admin and members' domain blocks, block-list subscriptions)
and the protocol code that reads lists and screens activities by domain.
"""

from __future__ import annotations

import re

from federation.errors import invalid

SEVERITIES = ("noop", "silence", "suspend")  # weakest first
MAX_COMMENT = 1000
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def normalize_domain(text: str) -> str:
    """`text` as a lower-case ASCII host name; `KithError` 422 when it is not one."""
    domain = text.strip().lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise invalid("Domain is not a valid domain name") from None
    if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
        raise invalid("Domain is not a valid domain name")
    return domain
