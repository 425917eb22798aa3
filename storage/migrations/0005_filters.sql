-- Mastodon v2 filters: a member's named filters, each applying to some contexts (where statuses
-- are shown), either hiding what matches or showing it behind a warning, until it expires.
-- A filter matches statuses by keyword (optionally as a whole word) or by id.

CREATE TABLE filters (
    id            bigint PRIMARY KEY DEFAULT kith_id(),
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title         text NOT NULL,
    context       text[] NOT NULL
        CHECK (cardinality(context) > 0
               AND context <@ ARRAY['home', 'notifications', 'public', 'thread', 'account']),
    filter_action text NOT NULL DEFAULT 'warn' CHECK (filter_action IN ('warn', 'hide')),
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX filters_account_idx ON filters (account_id);

CREATE TABLE filter_keywords (
    id          bigint PRIMARY KEY DEFAULT kith_id(),
    filter_id   bigint NOT NULL REFERENCES filters (id) ON DELETE CASCADE,
    keyword     text NOT NULL CHECK (keyword <> ''),
    whole_word  boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX filter_keywords_filter_idx ON filter_keywords (filter_id);

CREATE TABLE filter_statuses (
    id          bigint PRIMARY KEY DEFAULT kith_id(),
    filter_id   bigint NOT NULL REFERENCES filters (id) ON DELETE CASCADE,
    status_id   bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (filter_id, status_id)
);
CREATE INDEX filter_statuses_status_idx ON filter_statuses (status_id);
