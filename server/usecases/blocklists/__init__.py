"""Block-list subscriptions: an admin subscribes to the URL of a shared list of domain blocks
(Mastodon's CSV, a plain list of domains, or a Mastodon instance's public JSON list), and a job
keeps the instance's blocks in step with it.

- `parse`: the three formats; `fetch`: the bounded GET; `diff`: what changed;
- `changes`: applying changes (auto mode, approvals) or holding them (review mode);
- `subscriptions`: what admins do; `refresh`: a refresh, and the job that schedules them.

What each list says is kept per subscription (`blocklist_entries`); the effective blocks stay
rows of `domain_blocks` with origin `subscription`, recomputed by
`server.usecases.domain_blocks.reconcile`, so the gate reads one table and a subscription's
suspension has exactly the effects of an admin's.
"""

from server.usecases.blocklists.refresh import refresh, register

__all__ = ["refresh", "register"]
