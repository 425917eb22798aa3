-- Kith's schema for the whole product: accounts (local and remote), statuses, the social graph,
-- interactions, notifications, OAuth, moderation and the job queue.
--
-- IDs are Mastodon-style snowflakes: milliseconds since the epoch shifted left by 16 bits, with the
-- low bits taken from a sequence, so they sort by creation time and are unique across processes.

CREATE SEQUENCE kith_id_seq;

CREATE FUNCTION kith_id(at timestamptz DEFAULT clock_timestamp()) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT ((floor(extract(epoch FROM at) * 1000)::bigint) << 16)
         | (nextval('kith_id_seq') & 65535)
$$;

-- Instance-wide settings an admin can change at run time (registrations mode, title, ...).
CREATE TABLE instance_settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rules (
    id         bigint PRIMARY KEY DEFAULT kith_id(),
    text       text NOT NULL,
    hint       text NOT NULL DEFAULT '',
    position   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every actor Kith knows: local members (domain IS NULL) and remote ones.
CREATE TABLE accounts (
    id                  bigint PRIMARY KEY DEFAULT kith_id(),
    username            text NOT NULL,
    domain              text,
    display_name        text NOT NULL DEFAULT '',
    note                text NOT NULL DEFAULT '',          -- HTML as shown
    note_source         text NOT NULL DEFAULT '',          -- what a local member typed
    fields              jsonb NOT NULL DEFAULT '[]',       -- [{name, value, verified_at}]
    uri                 text NOT NULL UNIQUE,              -- ActivityPub actor id
    url                 text,                              -- profile page
    actor_type          text NOT NULL DEFAULT 'Person',
    inbox_url           text,
    outbox_url          text,
    shared_inbox_url    text,
    followers_url       text,
    following_url       text,
    featured_url        text,
    public_key_id       text,
    public_key_pem      text,
    private_key_pem     text,                              -- local accounts only
    avatar_url          text,
    header_url          text,
    locked              boolean NOT NULL DEFAULT false,
    bot                 boolean NOT NULL DEFAULT false,
    discoverable        boolean NOT NULL DEFAULT true,
    indexable           boolean NOT NULL DEFAULT false,
    hide_collections    boolean NOT NULL DEFAULT false,
    followers_count     integer NOT NULL DEFAULT 0,
    following_count     integer NOT NULL DEFAULT 0,
    statuses_count      integer NOT NULL DEFAULT 0,
    last_status_at      timestamptz,
    moved_to_account_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
    silenced_at         timestamptz,
    suspended_at        timestamptz,
    sensitized_at       timestamptz,
    fetched_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_username_domain_key
    ON accounts (lower(username), coalesce(lower(domain), ''));
CREATE INDEX accounts_domain_idx ON accounts (domain) WHERE domain IS NOT NULL;
CREATE INDEX accounts_public_key_id_idx ON accounts (public_key_id);

CREATE TABLE invites (
    id          bigint PRIMARY KEY DEFAULT kith_id(),
    code        text NOT NULL UNIQUE,
    created_by  bigint REFERENCES accounts (id) ON DELETE CASCADE,
    max_uses    integer,
    uses        integer NOT NULL DEFAULT 0,
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The login side of a local account.
CREATE TABLE users (
    id                  bigint PRIMARY KEY DEFAULT kith_id(),
    account_id          bigint NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
    email               text NOT NULL,
    password_hash       text NOT NULL,
    role                text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'moderator', 'admin')),
    approved            boolean NOT NULL DEFAULT true,
    disabled            boolean NOT NULL DEFAULT false,
    sign_up_reason      text NOT NULL DEFAULT '',
    sign_up_ip          inet,
    invite_id           bigint REFERENCES invites (id) ON DELETE SET NULL,
    locale              text NOT NULL DEFAULT 'en',
    default_visibility  text NOT NULL DEFAULT 'public',
    default_sensitive   boolean NOT NULL DEFAULT false,
    default_language    text,
    default_local_only  boolean NOT NULL DEFAULT false,
    confirmed_at        timestamptz DEFAULT now(),
    last_sign_in_at     timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- OAuth 2: applications, authorization codes and access tokens. Secrets are stored as SHA-256
-- hashes; the plain values are shown once, when they are made.
CREATE TABLE oauth_applications (
    id                  bigint PRIMARY KEY DEFAULT kith_id(),
    name                text NOT NULL,
    website             text,
    redirect_uris       text[] NOT NULL,
    scopes              text[] NOT NULL,
    client_id           text NOT NULL UNIQUE,
    client_secret       text NOT NULL,
    owner_account_id    bigint REFERENCES accounts (id) ON DELETE CASCADE,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_authorization_codes (
    code_hash             text PRIMARY KEY,
    application_id        bigint NOT NULL REFERENCES oauth_applications (id) ON DELETE CASCADE,
    user_id               bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri          text NOT NULL,
    scopes                text[] NOT NULL,
    code_challenge        text,
    code_challenge_method text,
    expires_at            timestamptz NOT NULL,
    used_at               timestamptz
);

CREATE TABLE oauth_access_tokens (
    id              bigint PRIMARY KEY DEFAULT kith_id(),
    token_hash      text NOT NULL UNIQUE,
    application_id  bigint REFERENCES oauth_applications (id) ON DELETE CASCADE,
    user_id         bigint REFERENCES users (id) ON DELETE CASCADE,   -- NULL: client credentials
    scopes          text[] NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX oauth_access_tokens_user_idx ON oauth_access_tokens (user_id);

CREATE TABLE statuses (
    id                      bigint PRIMARY KEY DEFAULT kith_id(),
    uri                     text NOT NULL UNIQUE,
    url                     text,
    account_id              bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    local                   boolean NOT NULL,
    in_reply_to_id          bigint REFERENCES statuses (id) ON DELETE SET NULL,
    in_reply_to_account_id  bigint REFERENCES accounts (id) ON DELETE SET NULL,
    in_reply_to_uri         text,
    thread_root_id          bigint,                    -- the first status of the conversation
    reblog_of_id            bigint REFERENCES statuses (id) ON DELETE CASCADE,
    content                 text NOT NULL DEFAULT '',  -- HTML as shown
    text                    text NOT NULL DEFAULT '',  -- source a local member typed
    spoiler_text            text NOT NULL DEFAULT '',
    sensitive               boolean NOT NULL DEFAULT false,
    visibility              text NOT NULL
        CHECK (visibility IN ('public', 'unlisted', 'private', 'direct')),
    local_only              boolean NOT NULL DEFAULT false,
    language                text,
    application_id          bigint REFERENCES oauth_applications (id) ON DELETE SET NULL,
    replies_count           integer NOT NULL DEFAULT 0,
    reblogs_count           integer NOT NULL DEFAULT 0,
    favourites_count        integer NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL DEFAULT now(),
    edited_at               timestamptz,
    deleted_at              timestamptz
);
CREATE INDEX statuses_account_idx ON statuses (account_id, id DESC);
CREATE INDEX statuses_reply_idx ON statuses (in_reply_to_id) WHERE in_reply_to_id IS NOT NULL;
CREATE INDEX statuses_thread_idx ON statuses (thread_root_id) WHERE thread_root_id IS NOT NULL;
CREATE INDEX statuses_reblog_idx ON statuses (reblog_of_id, account_id) WHERE reblog_of_id IS NOT NULL;
-- The public timelines: public, original, not deleted; local and remote parts.
CREATE INDEX statuses_public_idx ON statuses (id DESC, local)
    WHERE visibility = 'public' AND reblog_of_id IS NULL AND deleted_at IS NULL;

-- Earlier versions of edited statuses.
CREATE TABLE status_edits (
    id            bigint PRIMARY KEY DEFAULT kith_id(),
    status_id     bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    content       text NOT NULL,
    spoiler_text  text NOT NULL DEFAULT '',
    sensitive     boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_edits_status_idx ON status_edits (status_id, id);

-- A client's Idempotency-Key maps to the status it created, for a day.
CREATE TABLE idempotency_keys (
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key         text NOT NULL,
    status_id   bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);

CREATE TABLE media_attachments (
    id            bigint PRIMARY KEY DEFAULT kith_id(),
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id     bigint REFERENCES statuses (id) ON DELETE CASCADE,
    type          text NOT NULL DEFAULT 'unknown',
    file_path     text,
    remote_url    text,
    description   text,
    blurhash      text,
    meta          jsonb NOT NULL DEFAULT '{}',
    position      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_attachments_status_idx ON media_attachments (status_id, position);

CREATE TABLE polls (
    id            bigint PRIMARY KEY DEFAULT kith_id(),
    status_id     bigint NOT NULL UNIQUE REFERENCES statuses (id) ON DELETE CASCADE,
    options       jsonb NOT NULL,                 -- [{title, votes_count}]
    multiple      boolean NOT NULL DEFAULT false,
    expires_at    timestamptz,
    votes_count   integer NOT NULL DEFAULT 0,
    voters_count  integer NOT NULL DEFAULT 0
);

CREATE TABLE poll_votes (
    poll_id     bigint NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    choice      integer NOT NULL,
    uri         text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (poll_id, account_id, choice)
);

CREATE TABLE mentions (
    status_id   bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    silent      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (status_id, account_id)
);
CREATE INDEX mentions_account_idx ON mentions (account_id, status_id DESC);

CREATE TABLE tags (
    id          bigint PRIMARY KEY DEFAULT kith_id(),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tags_name_key ON tags (lower(name));

CREATE TABLE statuses_tags (
    status_id  bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    tag_id     bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (status_id, tag_id)
);
CREATE INDEX statuses_tags_tag_idx ON statuses_tags (tag_id, status_id DESC);

CREATE TABLE follows (
    id                 bigint PRIMARY KEY DEFAULT kith_id(),
    account_id         bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    uri                text,
    show_reblogs       boolean NOT NULL DEFAULT true,
    notify             boolean NOT NULL DEFAULT false,
    languages          text[],
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, target_account_id)
);
CREATE INDEX follows_target_idx ON follows (target_account_id, account_id);

CREATE TABLE follow_requests (
    id                 bigint PRIMARY KEY DEFAULT kith_id(),
    account_id         bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    uri                text,
    show_reblogs       boolean NOT NULL DEFAULT true,
    notify             boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, target_account_id)
);
CREATE INDEX follow_requests_target_idx ON follow_requests (target_account_id, id DESC);

-- Home timelines are written when a status arrives (fan-out on write) so that reading one is a
-- single index range scan, however many accounts the reader follows.
CREATE TABLE home_feed (
    account_id         bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id          bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    author_account_id  bigint NOT NULL,
    PRIMARY KEY (account_id, status_id)
);
CREATE INDEX home_feed_author_idx ON home_feed (account_id, author_account_id);

CREATE TABLE favourites (
    id          bigint PRIMARY KEY DEFAULT kith_id(),
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id   bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    uri         text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, status_id)
);
CREATE INDEX favourites_status_idx ON favourites (status_id, id DESC);

CREATE TABLE bookmarks (
    id          bigint PRIMARY KEY DEFAULT kith_id(),
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_id   bigint NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, status_id)
);

CREATE TABLE blocks (
    id                 bigint PRIMARY KEY DEFAULT kith_id(),
    account_id         bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    uri                text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, target_account_id)
);
CREATE INDEX blocks_target_idx ON blocks (target_account_id);

CREATE TABLE mutes (
    id                  bigint PRIMARY KEY DEFAULT kith_id(),
    account_id          bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hide_notifications  boolean NOT NULL DEFAULT true,
    expires_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, target_account_id)
);

CREATE TABLE account_domain_blocks (
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    domain      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, domain)
);

CREATE TABLE reports (
    id                  bigint PRIMARY KEY DEFAULT kith_id(),
    account_id          bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status_ids          bigint[] NOT NULL DEFAULT '{}',
    rule_ids            bigint[] NOT NULL DEFAULT '{}',
    comment             text NOT NULL DEFAULT '',
    category            text NOT NULL DEFAULT 'other',
    forwarded           boolean NOT NULL DEFAULT false,
    uri                 text,
    assigned_account_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
    action_taken_at     timestamptz,
    action_taken_by     bigint REFERENCES accounts (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id               bigint PRIMARY KEY DEFAULT kith_id(),
    account_id       bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    from_account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type             text NOT NULL,
    status_id        bigint REFERENCES statuses (id) ON DELETE CASCADE,
    report_id        bigint REFERENCES reports (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_account_idx ON notifications (account_id, id DESC);
CREATE UNIQUE INDEX notifications_dedup_key
    ON notifications (account_id, from_account_id, type, coalesce(status_id, 0));

CREATE TABLE domain_blocks (
    id              bigint PRIMARY KEY DEFAULT kith_id(),
    domain          text NOT NULL UNIQUE,
    severity        text NOT NULL DEFAULT 'silence' CHECK (severity IN ('noop', 'silence', 'suspend')),
    reject_media    boolean NOT NULL DEFAULT false,
    reject_reports  boolean NOT NULL DEFAULT false,
    obfuscate       boolean NOT NULL DEFAULT false,
    public_comment  text NOT NULL DEFAULT '',
    private_comment text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE domain_allows (
    id          bigint PRIMARY KEY DEFAULT kith_id(),
    domain      text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id           bigint PRIMARY KEY DEFAULT kith_id(),
    account_id   bigint REFERENCES accounts (id) ON DELETE SET NULL,   -- NULL: automatic
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}',
    reason       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- The job queue: deliveries, retries, fetches. Workers claim due jobs with
-- FOR UPDATE SKIP LOCKED and hold them for a lease; a job whose lease ran out (its worker died)
-- is due again.
CREATE TABLE jobs (
    id            bigserial PRIMARY KEY,
    queue         text NOT NULL,
    payload       jsonb NOT NULL,
    run_at        timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    locked_by     text,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due_idx ON jobs (run_at, id);
