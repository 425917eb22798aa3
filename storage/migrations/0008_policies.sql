-- The incoming-content policy pipeline (federation/policies): what admins configured, what it
-- decided, and what it holds back for review.

-- One configured policy; the pipeline runs the enabled ones by ascending position.
CREATE TABLE policies (
    id          bigint PRIMARY KEY DEFAULT kith_id(),
    kind        text NOT NULL,
    config      jsonb NOT NULL DEFAULT '{}',
    position    integer NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    dry_run     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policies_position_idx ON policies (position, id);

-- Every decision other than "accept" (and what a dry-run policy would have decided).
-- `policy_id` is NULL for the built-in domain-block step and for deleted policies.
CREATE TABLE policy_decisions (
    id            bigint PRIMARY KEY DEFAULT kith_id(),
    activity_uri  text NOT NULL,
    actor_uri     text,
    policy_id     bigint REFERENCES policies (id) ON DELETE SET NULL,
    policy_kind   text NOT NULL,
    action        text NOT NULL CHECK (action IN ('reject', 'rewrite', 'hold')),
    reason        text NOT NULL DEFAULT '',
    dry_run       boolean NOT NULL DEFAULT false,
    source        text NOT NULL CHECK (source IN ('inbox', 'fetch')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policy_decisions_activity_idx ON policy_decisions (activity_uri);

-- Inbox activities a policy held back until an admin releases or discards them.
CREATE TABLE held_activities (
    id            bigint PRIMARY KEY DEFAULT kith_id(),
    activity_uri  text NOT NULL UNIQUE,
    actor_uri     text NOT NULL,
    type          text NOT NULL,
    payload       jsonb NOT NULL,
    policy_id     bigint REFERENCES policies (id) ON DELETE SET NULL,
    policy_kind   text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    state         text NOT NULL DEFAULT 'held'
        CHECK (state IN ('held', 'released', 'discarded')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz,
    resolved_by   bigint REFERENCES accounts (id) ON DELETE SET NULL
);
CREATE INDEX held_activities_state_idx ON held_activities (state, id);
