"""Who may read a status, as one SQL predicate shared by every query that lists statuses.

A status is readable by a viewer when it is public or unlisted, is the viewer's own, is
followers-only and the viewer follows the author, or mentions the viewer. Local-only statuses are
readable by local accounts only. Blocks hide the author from the viewer.

Three predicates, by who asks:

- `readable_by`: a member reading through the API (or anonymous), the timelines' predicate;
- `readable_by_remote`: a remote server fetching over ActivityPub, which sees what its domain
  was delivered (a fetch is usually signed by an instance actor);
- `actionable_by_remote`: a remote account acting on a status (favouriting, boosting, replying
  to, quoting it), which it may do only to what it could read itself.
"""

from __future__ import annotations


def member_blocks_domain(member: str, domain: str) -> str:
    """SQL true when account `member` blocked the domain `domain` for itself (both are SQL
    expressions; a NULL domain, a local account's, is never blocked). Stored domains are lower
    case, so only the compared side is lowered and the (account_id, domain) key is used."""
    return f"""EXISTS (
        SELECT 1 FROM account_domain_blocks adb
        WHERE adb.account_id = {member} AND adb.domain = lower({domain}))"""


def readable_by(param: str, alias: str = "s") -> str:
    """SQL that is true when status `alias` is readable by the account id in `param`.

    `param` is a placeholder such as `$2` holding the viewer's account id, or NULL for anonymous.
    Meant for local viewers; a remote account given here is still never shown a local-only
    status (the account lookup runs only for local-only rows, once per query for a placeholder).
    """
    s = alias
    return f"""(
        {s}.deleted_at IS NULL
        AND (NOT {s}.local_only OR {_is_local(param)})
        AND (
            {s}.visibility IN ('public', 'unlisted')
            OR {s}.account_id = {param}::bigint
            OR ({s}.visibility = 'private' AND EXISTS (
                SELECT 1 FROM follows f
                WHERE f.account_id = {param}::bigint AND f.target_account_id = {s}.account_id))
            OR EXISTS (
                SELECT 1 FROM mentions m
                WHERE m.status_id = {s}.id AND m.account_id = {param}::bigint)
        )
        AND NOT EXISTS (
            SELECT 1 FROM blocks b
            WHERE (b.account_id = {s}.account_id AND b.target_account_id = {param}::bigint)
               OR (b.account_id = {param}::bigint AND b.target_account_id = {s}.account_id))
    )"""


def readable_by_remote(param: str, alias: str = "s") -> str:
    """SQL that is true when status `alias` may be served to remote account `param` (the
    verified signer of a fetch; a placeholder such as `$3`).

    A remote server already holds what was delivered to it, so the signer sees what its domain
    was sent: public and unlisted statuses, followers-only ones when any account of its domain
    follows the author, and those that mention an account of its domain. That makes fetches
    signed by an instance actor (as Kith's and Mastodon's are) work for followers-only posts.
    Never a deleted or local-only status, and nothing when the author blocks the signer or its
    domain, or the signer blocks the author.
    """
    s = alias
    domain = f"(SELECT lower(v.domain) FROM accounts v WHERE v.id = {param}::bigint)"
    return f"""(
        {s}.deleted_at IS NULL
        AND NOT {s}.local_only
        AND (
            {s}.visibility IN ('public', 'unlisted')
            OR ({s}.visibility = 'private' AND EXISTS (
                SELECT 1 FROM follows f JOIN accounts fa ON fa.id = f.account_id
                WHERE f.target_account_id = {s}.account_id AND lower(fa.domain) = {domain}))
            OR EXISTS (
                SELECT 1 FROM mentions m JOIN accounts ma ON ma.id = m.account_id
                WHERE m.status_id = {s}.id AND lower(ma.domain) = {domain})
        )
        AND NOT EXISTS (
            SELECT 1 FROM blocks b
            WHERE (b.account_id = {s}.account_id AND b.target_account_id = {param}::bigint)
               OR (b.account_id = {param}::bigint AND b.target_account_id = {s}.account_id))
        AND NOT {member_blocks_domain(f"{s}.account_id", domain)}
    )"""


def actionable_by_remote(param: str, alias: str = "s") -> str:
    """SQL that is true when remote account `param` may act on status `alias`: favourite, boost,
    reply to or quote it.

    Only what that very account could read: public and unlisted statuses, followers-only ones
    when it follows the author, and those that mention or address it. Never a deleted or
    local-only status, and nothing when the author blocks it or its domain, or it blocks the
    author.
    """
    s = alias
    domain = f"(SELECT lower(v.domain) FROM accounts v WHERE v.id = {param}::bigint)"
    return f"""(
        NOT {s}.local_only
        AND {readable_by(param, alias)}
        AND NOT {member_blocks_domain(f"{s}.account_id", domain)}
    )"""


def _is_local(param: str) -> str:
    return f"EXISTS (SELECT 1 FROM accounts la WHERE la.id = {param}::bigint AND la.domain IS NULL)"
