-- Block-list subscriptions (federation/blocklists): shared lists of domain blocks an admin
-- subscribes to. What each list says is kept per source in `blocklist_entries`; the effective
-- blocks stay rows of `domain_blocks` (the one table the federation gate reads), marked with
-- their origin and recomputed from the entries whenever a subscription changes.

ALTER TABLE domain_blocks
    ADD COLUMN origin text NOT NULL DEFAULT 'local' CHECK (origin IN ('local', 'subscription'));

CREATE TABLE blocklist_subscriptions (
    id               bigint PRIMARY KEY DEFAULT kith_id(),
    url              text NOT NULL UNIQUE,
    max_severity     text NOT NULL DEFAULT 'suspend'
                     CHECK (max_severity IN ('noop', 'silence', 'suspend')),
    mode             text NOT NULL DEFAULT 'auto' CHECK (mode IN ('auto', 'review')),
    interval_hours   integer NOT NULL DEFAULT 24 CHECK (interval_hours BETWEEN 1 AND 8760),
    -- The refresh job chain: only the job carrying the current token runs and reschedules.
    schedule_token   text NOT NULL DEFAULT '',
    next_refresh_at  timestamptz,
    -- What the last fetch found, and the last good copy's shape.
    last_fetched_at  timestamptz,
    last_success_at  timestamptz,
    last_error       text,
    format           text,
    listed_count     integer NOT NULL DEFAULT 0,
    obfuscated_count integer NOT NULL DEFAULT 0,
    invalid_count    integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- What a subscription's list says about a domain (the severity as listed, before the cap), as
-- accepted: in review mode an entry changes only when an admin approves the change.
CREATE TABLE blocklist_entries (
    subscription_id  bigint NOT NULL REFERENCES blocklist_subscriptions (id) ON DELETE CASCADE,
    domain           text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('noop', 'silence', 'suspend')),
    reject_media     boolean NOT NULL DEFAULT false,
    reject_reports   boolean NOT NULL DEFAULT false,
    obfuscate        boolean NOT NULL DEFAULT false,
    public_comment   text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscription_id, domain)
);
CREATE INDEX blocklist_entries_domain_idx ON blocklist_entries (domain);

-- Review mode: the difference between the last fetched list and the accepted entries, one change
-- per domain. A rejected change stays (state 'rejected') so the next refresh does not queue it
-- again; it goes when the list changes that domain again or drops the difference.
CREATE TABLE blocklist_changes (
    id               bigint PRIMARY KEY DEFAULT kith_id(),
    subscription_id  bigint NOT NULL REFERENCES blocklist_subscriptions (id) ON DELETE CASCADE,
    domain           text NOT NULL,
    action           text NOT NULL CHECK (action IN ('add', 'update', 'remove')),
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'rejected')),
    severity         text CHECK (severity IN ('noop', 'silence', 'suspend')),
    reject_media     boolean NOT NULL DEFAULT false,
    reject_reports   boolean NOT NULL DEFAULT false,
    obfuscate        boolean NOT NULL DEFAULT false,
    public_comment   text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscription_id, domain)
);
