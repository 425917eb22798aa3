"""Who performs a use case: a local member, a remote actor, staff, or the system.

Every use case that both the client API and the inbox perform takes one `Actor` instead of a
bare account id, so the same function serves both directions and the few things that differ
(a remote act keeps its activity's id so a later `Undo` can name it; only a local act is sent
out over ActivityPub; only staff acts are audited with their name) are decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["member", "remote", "staff", "system", "operator"]


@dataclass(frozen=True)
class Actor:
    """`account_id` is the acting account (None for the system). `activity_uri` is the id of the
    remote activity that carried the act (remote actors only)."""

    kind: ActorKind
    account_id: int | None
    activity_uri: str | None = None

    @classmethod
    def member(cls, account_id: int) -> Actor:
        """A local member acting through the client API, the CLI or the web pages."""
        return cls("member", account_id)

    @classmethod
    def remote(cls, account_id: int, activity_uri: str | None) -> Actor:
        """A remote account acting through an activity delivered to the inbox."""
        return cls("remote", account_id, activity_uri)

    @classmethod
    def staff(cls, account_id: int) -> Actor:
        """A moderator or admin acting as such (audited under their account)."""
        return cls("staff", account_id)

    @classmethod
    def system(cls) -> Actor:
        """Kith itself: a job, a block-list refresh, an expiry."""
        return cls("system", None)

    @classmethod
    def operator(cls) -> Actor:
        """Whoever runs the `kith` command on the server: trusted like an admin, with no account
        (audited with no actor, as every CLI command is)."""
        return cls("operator", None)

    @property
    def is_local(self) -> bool:
        """Whether the act starts here, so that it is sent out to other servers."""
        return self.kind in ("member", "staff")

    @property
    def is_remote(self) -> bool:
        return self.kind == "remote"

    def require_account(self) -> int:
        """The acting account's id; a use case that needs one calls this (the system has none)."""
        if self.account_id is None:
            raise ValueError(f"a {self.kind} actor has no account")
        return self.account_id
