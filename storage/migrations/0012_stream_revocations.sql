-- Open streams end when the right to read them ends. A stream was let in by one access token of
-- one member (server/streaming/hub.py keeps both); these triggers announce on `kith_stream`
-- (migration 0010) when either stops being good, and every process's hub ends the affected
-- streams at once, whichever process made the change:
--
--   t:<token_id>,...      these tokens were revoked, or deleted while live (their application
--                         deleted, their member deleted: users and tokens go by cascade)
--   a:<account_id>,...    these members may no longer sign in: suspended, disabled, or
--                         no longer approved
--
-- Blocks and mutes need nothing here: the dispatcher asks `storage.streaming.viewers_shown`
-- for every event, so a stream re-filters as soon as the block is committed.
--
-- Row triggers with a WHEN clause for updates: `accounts` rows are updated all the time (their
-- counters), and a WHEN that is false costs no function call. A bulk removal of tokens is
-- announced per statement, in chunks, like 0010's fan-outs.

CREATE FUNCTION kith_stream_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kith_stream', 't:' || NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER oauth_access_tokens_stream_revoke
    AFTER UPDATE OF revoked_at ON oauth_access_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION kith_stream_token_revoked();

CREATE FUNCTION kith_stream_tokens_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kith_stream_send('t:', (
        SELECT array_agg(o.id::text) FROM previous o WHERE o.revoked_at IS NULL), 350);
    RETURN NULL;
END $$;

CREATE TRIGGER oauth_access_tokens_stream_delete
    AFTER DELETE ON oauth_access_tokens
    REFERENCING OLD TABLE AS previous
    FOR EACH STATEMENT EXECUTE FUNCTION kith_stream_tokens_deleted();

CREATE FUNCTION kith_stream_member_shut_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kith_stream', 'a:' || NEW.account_id);
    RETURN NULL;
END $$;

CREATE FUNCTION kith_stream_account_suspended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kith_stream', 'a:' || NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER users_stream_shut_out
    AFTER UPDATE OF disabled, approved ON users
    FOR EACH ROW WHEN ((NEW.disabled AND NOT OLD.disabled) OR (OLD.approved AND NOT NEW.approved))
    EXECUTE FUNCTION kith_stream_member_shut_out();

-- Only local accounts have streams: a domain suspension's thousands of remote accounts are not
-- announced.
CREATE TRIGGER accounts_stream_suspended
    AFTER UPDATE OF suspended_at ON accounts
    FOR EACH ROW WHEN (NEW.domain IS NULL AND OLD.suspended_at IS NULL
                       AND NEW.suspended_at IS NOT NULL)
    EXECUTE FUNCTION kith_stream_account_suspended();
