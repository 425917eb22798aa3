"""Who counts as a member, and as an active one, and which posts count, for the figures an
instance publishes (the instance entities and NodeInfo): one definition, so the two never
disagree."""

from __future__ import annotations

ACTIVE_MONTH_DAYS = 30
ACTIVE_HALFYEAR_DAYS = 180

# Members who can use their account: approved, not disabled, not suspended.
MEMBERS = """
    FROM users u JOIN accounts a ON a.id = u.account_id
    WHERE u.approved AND NOT u.disabled AND a.suspended_at IS NULL
"""

# Local statuses that are not deleted and whose author is not suspended.
COUNT_LOCAL_STATUSES = """
    SELECT count(*) FROM statuses s
    WHERE s.local AND s.deleted_at IS NULL
      AND NOT EXISTS (
          SELECT 1 FROM accounts sa WHERE sa.id = s.account_id AND sa.suspended_at IS NOT NULL)
"""


def count_active_within(days: str) -> str:
    """SQL counting members who signed in, used a token or posted within the last `days` (a
    placeholder such as `$1` holding a number of days)."""
    since = f"now() - make_interval(days => {days})"
    return f"""
        SELECT count(*) {MEMBERS}
          AND (u.last_sign_in_at > {since}
               OR a.last_status_at > {since}
               OR EXISTS (
                   SELECT 1 FROM oauth_access_tokens t
                   WHERE t.user_id = u.id AND coalesce(t.last_used_at, t.created_at) > {since}))
    """
