-- Rate limits shared by every web process: one counter per (bucket, key) and fixed window.
--
-- `bucket` names what is limited and by what (`login/ip`, `login/name`, `sign_up/ip`,
-- `reports/account`); `key` is the address, hashed login name or account id it counts. A row
-- counts `hits` until `resets_at`; the next hit after that starts a new window at 1.
-- storage/rate_limits.py counts a hit with one INSERT ... ON CONFLICT DO UPDATE, which also
-- deletes a few expired rows, so the table holds about one row per key active in its window.

CREATE TABLE rate_limits (
    bucket text NOT NULL,
    key text NOT NULL,
    hits bigint NOT NULL,
    resets_at timestamptz NOT NULL,
    PRIMARY KEY (bucket, key)
);

CREATE INDEX rate_limits_resets_at ON rate_limits (resets_at);
