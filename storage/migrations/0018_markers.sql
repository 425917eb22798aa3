-- Where a member stopped reading a timeline (Mastodon's markers: `home`, `notifications`), so
-- every app she signs in with opens at the same place. `version` counts the saves.
CREATE TABLE markers (
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    timeline      text NOT NULL CHECK (timeline IN ('home', 'notifications')),
    last_read_id  bigint NOT NULL,
    version       integer NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, timeline)
);
