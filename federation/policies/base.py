"""What every policy kind is made of, and what a policy can decide about one activity."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from federation.context import Federation

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "policies"

ACCEPT, REJECT, REWRITE, HOLD = "accept", "reject", "rewrite", "hold"
# The actions a content rule (keyword, hashtag) can take.
RULE_ACTIONS = ("reject", "unlist", "sensitive", "content_warning")
DEFAULT_WARNING = "Content filtered by this instance"


@dataclass(frozen=True)
class Context:
    """Where an activity comes from: the host its actor is on, and which way it came in
    ("inbox" for a delivery, "fetch" for an object Kith fetched)."""

    fed: Federation
    origin_host: str
    source: str


@dataclass(frozen=True)
class Outcome:
    action: str = ACCEPT
    reason: str = ""
    activity: dict[str, Any] | None = None  # the rewritten activity


def accept() -> Outcome:
    return Outcome()


def reject(reason: str) -> Outcome:
    return Outcome(REJECT, reason)


def rewrite(activity: dict[str, Any], original: dict[str, Any], reason: str) -> Outcome:
    """A rewrite, or an accept when the rewrite changed nothing (already unlisted...)."""
    return Outcome(REWRITE, reason, activity) if activity != original else Outcome()


def hold(reason: str) -> Outcome:
    return Outcome(HOLD, reason)


Apply = Callable[[Context, dict[str, Any], dict[str, Any]], Awaitable[Outcome]]


@dataclass(frozen=True)
class PolicyKind:
    """A kind of policy: `apply(ctx, config, activity)`, its config's extra checks (beyond its
    JSON Schema; they raise ValueError with a message for the admin), and what NodeInfo says of
    it (`nodeinfo_name`, `summary(config)` merged under `nodeinfo_key`)."""

    name: str
    apply: Apply
    nodeinfo_name: str
    nodeinfo_key: str
    summary: Callable[[dict[str, Any]], dict[str, Any]]
    check: Callable[[dict[str, Any]], None] = field(default=lambda config: None)

    def validate(self, config: Any) -> None:
        """Raise ValueError (a one-line message) when `config` is not valid for this kind."""
        error = next(iter(_validator(self.name).iter_errors(config)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            raise ValueError(f"config{'/' + where if where else ''}: {error.message}")
        self.check(config)


@functools.cache
def _validator(kind: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{kind}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)
