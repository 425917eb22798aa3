-- Federation: what arrives in inboxes, what goes out, and what Kith knows of other servers.

-- Every activity accepted by an inbox, stored before the 202 and processed by the worker.
-- `activity_uri` de-duplicates redeliveries; `outcome` says what processing made of it.
CREATE TABLE inbox_activities (
    id             bigint PRIMARY KEY DEFAULT kith_id(),
    activity_uri   text NOT NULL UNIQUE,
    actor_uri      text NOT NULL,
    signer_key_id  text,
    type           text NOT NULL,
    payload        jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    processed_at   timestamptz,
    outcome        text
);

-- An outgoing activity, serialised and digested once however many inboxes receive it.
CREATE TABLE outgoing_activities (
    id                bigint PRIMARY KEY DEFAULT kith_id(),
    uri               text NOT NULL,
    actor_account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    body              bytea NOT NULL,
    digest            text NOT NULL,          -- base64 SHA-256 of body
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- One row per (activity, inbox): the bookkeeping an admin reads to see why a delivery failed.
CREATE TABLE deliveries (
    id               bigint PRIMARY KEY DEFAULT kith_id(),
    activity_id      bigint NOT NULL REFERENCES outgoing_activities (id) ON DELETE CASCADE,
    inbox_url        text NOT NULL,
    host             text NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'failed')),
    tries            integer NOT NULL DEFAULT 0,
    last_status      integer,
    last_error       text,
    last_attempt_at  timestamptz,
    delivered_at     timestamptz,
    UNIQUE (activity_id, inbox_url)
);
CREATE INDEX deliveries_host_idx ON deliveries (host, state);

-- What Kith has learnt about each remote server: which signature scheme it accepts
-- (double-knocking remembers the one that worked) and whether it has been failing.
CREATE TABLE hosts (
    domain             text PRIMARY KEY,
    signature_scheme   text CHECK (signature_scheme IN ('rfc9421', 'cavage')),
    last_success_at    timestamptz,
    first_failure_at   timestamptz,     -- start of the current run of failures
    last_failure_at    timestamptz,
    unavailable_since  timestamptz      -- failing for days: retried rarely
);

-- Remote accounts: where their key was last fetched, so rotation can be noticed.
ALTER TABLE accounts ADD COLUMN key_fetched_at timestamptz;
